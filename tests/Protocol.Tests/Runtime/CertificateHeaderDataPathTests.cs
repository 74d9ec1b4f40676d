using System.Security.Cryptography;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Pki;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// <c>ssl-server N http-header client-cert | server-cert | xfcc | rfc9440</c> through the in-process data plane: the
/// real <c>openssl s_client -cert</c> on loopback, full and resumed handshakes, and a keep-alive HTTP server behind that
/// records every request head it receives.
/// </summary>
public sealed class CertificateHeaderDataPathTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("Header CA");
    private readonly TestCertificateAuthority _otherCa = TestCertificateAuthority.Create("Stranger CA");
    private readonly string _sessionFile = Path.Combine(Path.GetTempPath(), "sslcluster-certhdr-sess-" + Guid.NewGuid());

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
        File.Delete(_sessionFile);
    }

    private const string Forged = "ClientCert-Valid: 1\r\nClientCert-Subject-CN: admin\r\nX-Forwarded-Client-Cert: Hash=00\r\nClient-Cert: :AA==:\r\n";

    private Node NodeWith(KeepAliveHttpBackend server, string headerLines) => new(server.EndPoint.Port, $"""
        ssl-server 1 authentication enable
          ssl-server 1 cacert ca
          ssl-server 1 failure ignore
          {headerLines}
        """, prelude: "ssl associate cert ca cafile", files: new Dictionary<string, byte[]>
    {
        ["cafile"] = CertStoreFile.FromCertificate("cafile", _ca.Certificate.RawData, DateTimeOffset.UtcNow).Encode(),
    });

    /// <summary>Runs s_client with <paramref name="arguments"/> sending two keep-alive requests, the first with forged headers.</summary>
    private static async Task<ProcessResult> TwoRequestsAsync(int port, string arguments)
    {
        var result = await OpenSslClient.SClientAsync(port, arguments + " -ign_eof",
            "GET /1 HTTP/1.1\r\nHost: vip.test\r\n" + Forged + "\r\nGET /2 HTTP/1.1\r\nHost: vip.test\r\nConnection: close\r\n\r\n");
        Assert.Contains("request 2 /2", result.StandardOutput, StringComparison.Ordinal);
        return result;
    }

    private static string Single(string head, string name) =>
        Assert.Single(head.Split("\r\n"), l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))[(name.Length + 1)..].Trim();

    [Theory]
    [InlineData("-tls1_3")]
    [InlineData("-tls1_2")]
    public async Task ClientCert_VerifiedClientFullHandshake_EveryRequestGetsItsFieldsAndNoForgedLine(string version)
    {
        await using var server = new KeepAliveHttpBackend();
        using var client = _ca.IssueClient("alice");
        using var node = NodeWith(server, "ssl-server 1 http-header client-cert\n  ssl-server 1 http-header server-cert\n  ssl-server 1 http-header xfcc\n  ssl-server 1 http-header rfc9440");
        var (port, served) = node.Serve(1);

        await TwoRequestsAsync(port, $"{version} -cert {client.CertificatePemPath} -key {client.KeyPemPath}");
        await served;

        var heads = server.Requests.ToList();
        Assert.Equal(2, heads.Count);
        Assert.All(heads, h =>
        {
            Assert.Equal("1", Single(h, "ClientCert-Valid"));
            Assert.Equal("none", Single(h, "ClientCert-Error"));
            Assert.Equal("alice", Single(h, "ClientCert-Subject-CN"));
            Assert.Equal("Header CA", Single(h, "ClientCert-Issuer-CN"));
            Assert.Equal(CertificateFields.ColonHex(MD5.HashData(client.Der)), Single(h, "ClientCert-Fingerprint"));
            Assert.Equal(CertificateFields.ColonHex(MD5.HashData(node.ServerCertificate)), Single(h, "ServerCert-Fingerprint"));
            Assert.Equal("vip.test", Single(h, "ServerCert-Subject-CN"));
            Assert.StartsWith($"Hash={Convert.ToHexStringLower(SHA256.HashData(client.Der))};Cert=\"", Single(h, "X-Forwarded-Client-Cert"), StringComparison.Ordinal);
            Assert.Equal($":{Convert.ToBase64String(client.Der)}:", Single(h, "Client-Cert"));
            Assert.DoesNotContain("admin", h, StringComparison.Ordinal);
            Assert.DoesNotContain("Hash=00", h, StringComparison.Ordinal);
            Assert.DoesNotContain(":AA==:", h, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task ClientCert_Tls12SessionResumedByItsId_TheResumedConnectionStillCarriesTheCertificateFields()
    {
        await using var server = new KeepAliveHttpBackend();
        using var client = _ca.IssueClient("carol");
        using var node = NodeWith(server, "ssl-server 1 http-header client-cert basic");
        var (port, served) = node.Serve(2);
        var common = $"-tls1_2 -no_ticket -cert {client.CertificatePemPath} -key {client.KeyPemPath}";

        await TwoRequestsAsync(port, $"{common} -sess_out {_sessionFile}");
        var resumed = await TwoRequestsAsync(port, $"{common} -sess_in {_sessionFile}");
        await served;

        Assert.Contains("Reused, TLSv1.2", resumed.StandardOutput, StringComparison.Ordinal);
        var heads = server.Requests.ToList();
        Assert.Equal(4, heads.Count);
        Assert.All(heads, h =>
        {
            Assert.Equal("1", Single(h, "ClientCert-Valid"));
            Assert.Equal("carol", Single(h, "ClientCert-Subject-CN"));
            Assert.Equal(CertificateFields.ColonHex(MD5.HashData(client.Der)), Single(h, "ClientCert-Fingerprint"));
            // basic: the 21 fields of the SSLM 2.1, no X509v3 key usage.
            Assert.DoesNotContain("ClientCert-X509v3-Key-Usage", h, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task ClientCert_CertificateOfAnUnknownCaUnderFailureIgnore_ValidZeroNotInCaPoolAndNoStandardForms()
    {
        await using var server = new KeepAliveHttpBackend();
        using var stranger = _otherCa.IssueClient("eve");
        using var node = NodeWith(server, "ssl-server 1 http-header client-cert pem\n  ssl-server 1 http-header xfcc\n  ssl-server 1 http-header rfc9440");
        var (port, served) = node.Serve(2);

        await TwoRequestsAsync(port, $"-tls1_3 -cert {stranger.CertificatePemPath} -key {stranger.KeyPemPath}");
        await TwoRequestsAsync(port, "-tls1_3");
        await served;

        var heads = server.Requests.ToList();
        Assert.Equal(4, heads.Count);
        Assert.All(heads[..2], h =>
        {
            Assert.Equal("0", Single(h, "ClientCert-Valid"));
            Assert.Equal("Cert Not In CA Pool", Single(h, "ClientCert-Error"));
            Assert.Contains("CN=eve", Uri.UnescapeDataString(Single(h, "ClientCert-PEM")) is var pem && pem.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal)
                ? System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem).Subject : "", StringComparison.Ordinal);
        });
        Assert.All(heads[2..], h =>
        {
            Assert.Equal("0", Single(h, "ClientCert-Valid"));
            Assert.Equal("No Cert Data", Single(h, "ClientCert-Error"));
            Assert.DoesNotContain("ClientCert-PEM", h, StringComparison.OrdinalIgnoreCase);
        });
        Assert.All(heads, h =>
        {
            Assert.DoesNotContain("X-Forwarded-Client-Cert", h, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Client-Cert:", h, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("admin", h, StringComparison.Ordinal);
        });
    }
}
