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
            // The forged line's value whole: the real hash is 64 hex digits, and may itself start with 00.
            Assert.DoesNotContain("Hash=00\r\n", h, StringComparison.Ordinal);
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
    public async Task ClientCert_ChainThroughAnIntermediateResumed_StillVerifiedThoughTheSessionKeepsOnlyTheLeaf()
    {
        // The configured CA is the root; the client sends its certificate and the intermediate that issued it. A session
        // keeps only the leaf, so its resumption needs the intermediate seen in the full handshake.
        var folder = Directory.CreateTempSubdirectory("sslcluster-intermediate-").FullName;
        try
        {
            var now = DateTimeOffset.UtcNow;
            using var rootKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var rootRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Header Root CA", rootKey, System.Security.Cryptography.HashAlgorithmName.SHA256);
            rootRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
            rootRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509KeyUsageExtension(System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.KeyCertSign, true));
            using var root = rootRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
            using var interKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var interRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Header Issuing CA", interKey, System.Security.Cryptography.HashAlgorithmName.SHA256);
            interRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, true, 0, true));
            interRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509KeyUsageExtension(System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.KeyCertSign, true));
            using var inter = interRequest.Create(root, now.AddDays(-1), now.AddDays(20), [0x21]);
            using var interWithKey = System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.CopyWithPrivateKey(inter, interKey);
            using var leafKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var leafRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=dora", leafKey, System.Security.Cryptography.HashAlgorithmName.SHA256);
            leafRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")], false));
            using var leaf = leafRequest.Create(interWithKey, now.AddHours(-1), now.AddDays(2), [0x31]);
            var leafPem = Path.Combine(folder, "leaf.pem");
            var keyPem = Path.Combine(folder, "leaf.key");
            var chainPem = Path.Combine(folder, "chain.pem");
            await File.WriteAllTextAsync(leafPem, leaf.ExportCertificatePem() + "\n");
            await File.WriteAllTextAsync(keyPem, leafKey.ExportPkcs8PrivateKeyPem() + "\n");
            await File.WriteAllTextAsync(chainPem, inter.ExportCertificatePem() + "\n");

            await using var server = new KeepAliveHttpBackend();
            using var node = new Node(server.EndPoint.Port, """
                ssl-server 1 authentication enable
                  ssl-server 1 cacert ca
                  ssl-server 1 http-header client-cert basic
                """, prelude: "ssl associate cert ca cafile", files: new Dictionary<string, byte[]>
            {
                ["cafile"] = CertStoreFile.FromCertificate("cafile", root.RawData, DateTimeOffset.UtcNow).Encode(),
            });
            var (port, served) = node.Serve(2);
            var common = $"-tls1_2 -no_ticket -cert {leafPem} -key {keyPem} -cert_chain {chainPem}";

            await TwoRequestsAsync(port, $"{common} -sess_out {_sessionFile}");
            var resumed = await TwoRequestsAsync(port, $"{common} -sess_in {_sessionFile}");
            await served;

            Assert.Contains("Reused, TLSv1.2", resumed.StandardOutput, StringComparison.Ordinal);
            Assert.All(server.Requests, h =>
            {
                Assert.Equal("1", Single(h, "ClientCert-Valid"));
                Assert.Equal("dora", Single(h, "ClientCert-Subject-CN"));
            });
            Assert.Equal(4, server.Requests.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
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
