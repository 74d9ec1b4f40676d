using SslCluster.Protocol.Net;
using SslCluster.Protocol.Pki;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// <c>ssl-server N revocation-check ocsp</c> through the in-process data plane: the real <c>openssl s_client -cert</c>
/// and the real <c>openssl ocsp</c> responder on loopback, a keep-alive HTTP server behind.
/// </summary>
public sealed class ClientOcspDataPathTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("OCSP Data CA");
    private readonly string _folder = Directory.CreateTempSubdirectory("sslcluster-ocsp-path-").FullName;

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private Node NodeWith(KeepAliveHttpBackend server, string responderUrl, string lines) => new(server.EndPoint.Port, $"""
        ssl-server 1 authentication enable
          ssl-server 1 cacert ca
          ssl-server 1 revocation-check ocsp
          ssl-server 1 client-ocsp-url "{responderUrl}"
          {lines}
        """, prelude: "ssl associate cert ca cafile", files: new Dictionary<string, byte[]>
    {
        ["cafile"] = CertStoreFile.FromCertificate("cafile", _ca.Certificate.RawData, DateTimeOffset.UtcNow).Encode(),
    });

    private const string Request = "GET /a HTTP/1.1\r\nHost: vip.test\r\nConnection: close\r\n\r\n";

    [Fact]
    public async Task RevocationCheckOcsp_RevokedUnderReject_FirstConnectionEndsAfterTheHandshakeThenTheAlertComesInTheHandshake()
    {
        await using var server = new KeepAliveHttpBackend();
        using var good = _ca.IssueClient("alice");
        using var revoked = _ca.IssueClient("mallory");
        using var responder = await OpenSslOcspResponder.StartAsync(_folder, _ca.Certificate, _ca.KeyPem,
            OpenSslOcspResponder.IndexLine(good.ToX509()) + OpenSslOcspResponder.IndexLine(revoked.ToX509(), DateTimeOffset.UtcNow.AddHours(-1)));
        using var node = NodeWith(server, responder.Url, "");
        var (port, served) = node.Serve(3);

        var passed = await OpenSslClient.SClientAsync(port, $"-tls1_3 -cert {good.CertificatePemPath} -key {good.KeyPemPath} -ign_eof", Request);
        var first = await OpenSslClient.SClientAsync(port, $"-tls1_3 -cert {revoked.CertificatePemPath} -key {revoked.KeyPemPath} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(port, $"-tls1_2 -cert {revoked.CertificatePemPath} -key {revoked.KeyPemPath} -ign_eof", Request);
        await served;

        Assert.Contains("request 1 /a", passed.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("HTTP/1.1", first.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("alert certificate revoked", second.AllOutput, StringComparison.Ordinal);
        Assert.Single(server.Requests);
        var flows = node.DataPlane.Flows.For("ssl2", "10.60.0.1", 443);
        Assert.Equal(2, flows.Ended(ProxyError.ClientCertificateRejected));
        // Which method decided is counted (the SSLM could not tell, CSCei92116): OCSP, for the one let through and both refused.
        Assert.Equal(1, flows.ClientAuthCount(SslCluster.Protocol.Tls.ClientAuthResult.Verified, SslCluster.Protocol.Config.RevocationMethod.Ocsp));
        Assert.Equal(2, flows.ClientAuthCount(SslCluster.Protocol.Tls.ClientAuthResult.Revoked, SslCluster.Protocol.Config.RevocationMethod.Ocsp));
    }

    [Fact]
    public async Task RevocationCheckOcspNone_ResponderThatNeverAnswers_OnlyThatClientWaitsThenNoneLetsItThrough()
    {
        // CSCsl74182: the responder accepts and says nothing. The client whose certificate is asked about waits for the
        // 5 s timeout, then 'none' decides; a client arriving meanwhile is served at once.
        await using var server = new KeepAliveHttpBackend();
        using var silent = new SilentListener();
        using var client = _ca.IssueClient("alice");
        using var node = NodeWith(server, silent.Url, "ssl-server 1 revocation-check ocsp none\n  ssl-server 1 failure ignore");
        var (port, served) = node.Serve(2);
        var started = System.Diagnostics.Stopwatch.StartNew();

        var waiting = OpenSslClient.SClientAsync(port, $"-tls1_3 -cert {client.CertificatePemPath} -key {client.KeyPemPath} -ign_eof", Request);
        await Task.Delay(300);
        var other = await OpenSslClient.SClientAsync(port, "-tls1_3 -ign_eof", Request);
        var otherTook = started.Elapsed;
        var waited = await waiting;
        await served;

        Assert.Contains("request ", other.StandardOutput, StringComparison.Ordinal);
        Assert.True(otherTook < TimeSpan.FromSeconds(4), $"the other client took {otherTook}, the OCSP wait is 5 s");
        Assert.Contains("request ", waited.StandardOutput, StringComparison.Ordinal);
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(15));
        Assert.Equal(1, silent.Accepted);
    }

    [Fact]
    public async Task RevocationCheckOcsp_RevokedUnderIgnore_ForwardedWithValidZeroAndCertRevoked()
    {
        await using var server = new KeepAliveHttpBackend();
        using var revoked = _ca.IssueClient("mallory");
        using var responder = await OpenSslOcspResponder.StartAsync(_folder, _ca.Certificate, _ca.KeyPem,
            OpenSslOcspResponder.IndexLine(revoked.ToX509(), DateTimeOffset.UtcNow.AddHours(-1)));
        using var node = NodeWith(server, responder.Url, "ssl-server 1 failure ignore\n  ssl-server 1 http-header client-cert basic");
        var (port, served) = node.Serve(2);

        await OpenSslClient.SClientAsync(port, $"-tls1_3 -cert {revoked.CertificatePemPath} -key {revoked.KeyPemPath} -ign_eof", Request);
        await OpenSslClient.SClientAsync(port, $"-tls1_2 -cert {revoked.CertificatePemPath} -key {revoked.KeyPemPath} -ign_eof", Request);
        await served;

        var heads = server.Requests.ToList();
        Assert.Equal(2, heads.Count);
        Assert.All(heads, h =>
        {
            Assert.Contains("\r\nClientCert-Valid: 0\r\n", h, StringComparison.Ordinal);
            Assert.Contains("\r\nClientCert-Error: Cert Revoked\r\n", h, StringComparison.Ordinal);
            Assert.Contains("\r\nClientCert-Subject-CN: mallory\r\n", h, StringComparison.Ordinal);
        });
    }
}
