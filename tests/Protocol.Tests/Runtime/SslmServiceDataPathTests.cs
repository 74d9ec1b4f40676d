using System.Text;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// A server proxy service of the SSLM face (<c>ssl-proxy context</c>, <c>service</c>, <c>crypto pki trustpoint</c>,
/// <c>policy http-header</c>) served by the in-process data plane: a real TLS client (.NET SslStream) and a real
/// keep-alive HTTP server behind on loopback.
/// </summary>
public sealed class SslmServiceDataPathTests
{
    private static string Config(int serverPort, string policyLines) => $"""
        crypto pki trustpoint web
         rsakeypair kfile
        crypto pki certificate chain web
         certificate 01 nvram:cfile
        ssl-proxy context Default
         policy http-header hp
        {policyLines}
         service s1
          virtual ipaddr 10.60.0.1 protocol tcp port 443
          server ipaddr 10.60.0.2 protocol tcp port {serverPort}
          certificate rsa general-purpose trustpoint web
          policy http-header hp
          inservice
        """;

    /// <summary>
    /// One TLS 1.3 connection of <paramref name="certificate"/> (openssl s_client) to service s1 with header policy
    /// <paramref name="policyLines"/> and CA pool <c>clients</c> of trustpoint <c>clientca</c> (<paramref name="ca"/>,
    /// with <paramref name="trustpointLines"/>), its pool entry ending in <paramref name="poolEntry"/> and
    /// <paramref name="more"/> lines before the context; one request sent. What s_client printed.
    /// </summary>
    private static async Task<ProcessResult> PoolClientAsync(KeepAliveHttpBackend server, TestCertificateAuthority ca, TestCertificate certificate,
        string policyLines, string trustpointLines, string poolEntry = "", string more = "")
    {
        var text = Config(server.EndPoint.Port, policyLines) + $"""

            crypto pki trustpoint clientca
            {trustpointLines}
            crypto pki certificate chain clientca
             certificate ca 01 cafile
            {more}
            ssl-proxy context Default
             pool ca clients
              ca trustpoint clientca{poolEntry}
             service s1
              trusted-ca clients
              cert-trim
            """;
        using var node = new Node(server.EndPoint.Port, config: text, files: new Dictionary<string, byte[]>
        {
            ["cafile"] = SslCluster.Protocol.Pki.CertStoreFile.FromCertificate("cafile", ca.Certificate.RawData, DateTimeOffset.UtcNow).Encode(),
        });
        var (port, served) = node.Serve(1);
        var result = await OpenSslClient.SClientAsync(port, $"-tls1_3 -cert {certificate.CertificatePemPath} -key {certificate.KeyPemPath} -ign_eof",
            "GET /p HTTP/1.1\r\nHost: vip.test\r\nConnection: close\r\n\r\n");
        await served;
        return result;
    }

    [Fact]
    public async Task ServerProxyService_InService_TerminatesWithTheTrustpointsCertificateAndInsertsThePolicysHeaders()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, config: Config(server.EndPoint.Port,
            "  session\n  custom \"X-Module:sslm\"\n  prefix \"SSL-\"\n  client-ip-port\n  alias Session-Cipher-Key-Size X-Key-Bits"));

        var answer = await node.ClientAsync(async ssl =>
        {
            Assert.Equal(node.ServerCertificate, ssl.RemoteCertificate!.GetRawCertData());
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /x HTTP/1.1\r\nHost: vip.test\r\nSSL-Session-Cipher-Name: forged\r\n\r\n"));
            return await ReadResponseAsync(ssl);
        });

        Assert.StartsWith("HTTP/1.1 200 OK", answer, StringComparison.Ordinal);
        var head = Assert.Single(server.Requests);
        Assert.Contains("\r\nSSL-Session-Cipher-Name: TLS_AES_", head, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Module: sslm\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nSSL-ClientIP: 127.0.0.1\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Key-Bits: 128\r\n", head, StringComparison.Ordinal);
        Assert.DoesNotContain("SSL-Session-Cipher-Key-Size", head, StringComparison.Ordinal);
        Assert.DoesNotContain("forged", head, StringComparison.Ordinal);
        Assert.Equal("s1@Default", node.Listener.Modules.Single().Name);
    }

    [Theory]
    [InlineData("allow-revoked-certs", "mallory", true)]
    [InlineData("allow-revoked-certs", "stranger", false)]
    [InlineData("allow-auth-failures", "stranger", true)]
    public async Task ServerProxyService_TrustedCaPoolAndAllowPolicy_OnlyTheFailuresThePolicyAllowsGoOnWithTheirStatus(
        string allow, string client, bool forwarded)
    {
        using var ca = TestCertificateAuthority.Create("SSLM Pool CA");
        using var other = TestCertificateAuthority.Create("Stranger CA");
        using var mallory = ca.IssueClient("mallory");
        using var stranger = other.IssueClient("stranger");
        var folder = Directory.CreateTempSubdirectory("sslcluster-sslm-pool-").FullName;
        try
        {
            using var responder = await OpenSslOcspResponder.StartAsync(folder, ca.Certificate, ca.KeyPem,
                OpenSslOcspResponder.IndexLine(mallory.ToX509(), DateTimeOffset.UtcNow.AddHours(-1)));
            await using var server = new KeepAliveHttpBackend();
            var certificate = client == "mallory" ? mallory : stranger;

            var result = await PoolClientAsync(server, ca, certificate, $"  client-cert basic\n  {allow}", $" revocation-check ocsp\n ocsp url {responder.Url}");

            if (!forwarded)
            {
                Assert.Empty(server.Requests);
                Assert.DoesNotContain("request 1", result.StandardOutput, StringComparison.Ordinal);
                return;
            }
            var head = Assert.Single(server.Requests);
            Assert.Contains("\r\nClientCert-Valid: 0\r\n", head, StringComparison.Ordinal);
            Assert.Contains(client == "mallory" ? "\r\nClientCert-Error: Cert Revoked\r\n" : "\r\nClientCert-Error: Cert Not In CA Pool\r\n", head, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("alice", "1", "none")]
    [InlineData("bob", "0", "Cert Not Authorized")]
    public async Task ServerProxyService_PoolMatchMap_OnlyACertificateTheMapMatchesIsAuthorized(string client, string valid, string error)
    {
        using var ca = TestCertificateAuthority.Create("SSLM Map CA");
        using var certificate = ca.IssueClient(client);
        await using var server = new KeepAliveHttpBackend();

        await PoolClientAsync(server, ca, certificate, "  client-cert basic\n  allow-auth-failures", " revocation-check none", " match map only-alice",
            "crypto pki certificate map only-alice 10\n subject-name eq cn=alice");

        var head = Assert.Single(server.Requests);
        Assert.Contains($"\r\nClientCert-Valid: {valid}\r\n", head, StringComparison.Ordinal);
        Assert.Contains($"\r\nClientCert-Error: {error}\r\n", head, StringComparison.Ordinal);
        Assert.Contains($"\r\nClientCert-Subject-CN: {client}\r\n", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice", "1", "none")]
    [InlineData("mallory", "0", "Cert Revoked")]
    public async Task ServerProxyService_TrustpointRevocationCheckCrl_TheCertificatesDistributionPointDecides(string client, string valid, string error)
    {
        using var ca = TestCertificateAuthority.Create("SSLM CDP CA");
        await using var crl = new StaticHttpServer();
        using var alice = ca.IssueClient("alice", crlUrl: crl.Url());
        using var mallory = ca.IssueClient("mallory", crlUrl: crl.Url());
        crl.Body = ca.CreateCrl([mallory]);
        await using var server = new KeepAliveHttpBackend();

        await PoolClientAsync(server, ca, client == "alice" ? alice : mallory, "  client-cert basic\n  allow-revoked-certs", " revocation-check crl");

        var head = Assert.Single(server.Requests);
        Assert.Contains($"\r\nClientCert-Valid: {valid}\r\n", head, StringComparison.Ordinal);
        Assert.Contains($"\r\nClientCert-Error: {error}\r\n", head, StringComparison.Ordinal);
        Assert.Equal(1, crl.Requests);
    }

    [Fact]
    public void ServerProxyService_NotInService_NoListener()
    {
        var result = SslCluster.Protocol.Config.ConfigParser.Parse(Config(8080, "  session").Replace("  inservice", "", StringComparison.Ordinal));

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(SslCluster.Protocol.Runtime.RuntimePlan.Build(1, result.Config!).Listeners);
    }
}
