using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>Real openssl s_client and curl processes against a TlsListener on 127.0.0.1.</summary>
public sealed class OpenSslInteropTests
{
    private const string HttpRequest = "GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n";

    [Fact]
    public async Task SClient_Tls12EcdheRsaAes128Gcm_RelaysHttpExchangeAndClosesCleanly()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend());

        var result = await OpenSslClient.SClientAsync(harness.Port,
            "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -servername localhost -ign_eof", HttpRequest);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Cipher is ECDHE-RSA-AES128-GCM-SHA256", result.StandardOutput);
        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(TlsVersion.Tls12, summary.Handshake!.Version);
        Assert.Equal("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", summary.Handshake.CipherSuiteName);
        Assert.Equal("localhost", summary.Handshake.ServerName);
        Assert.Equal("tag-ctx/list/srv", summary.Handshake.Tag);
        Assert.Equal(HttpRequest.Length, summary.ClientToBackendBytes);
    }

    [Theory]
    [InlineData(null, "h2,http/1.1", "http/1.1")]
    [InlineData(new[] { "h2", "http/1.1" }, "http/1.1,h2", "h2")]
    [InlineData(new[] { "h2", "http/1.1" }, "http/1.1", "http/1.1")]
    public async Task SClient_AlpnOffer_SslServerPreferenceAgreedAndRecorded(string[]? serverProtocols, string offered, string agreed)
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), alpn: serverProtocols);

        var result = await OpenSslClient.SClientAsync(harness.Port, $"-alpn {offered} -ign_eof", HttpRequest);

        Assert.Contains("ALPN protocol: " + agreed, result.StandardOutput);
        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(agreed, summary.Handshake!.ApplicationProtocol);
    }

    [Theory]
    [InlineData("-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", "ecdsa.example")]
    [InlineData("-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256", "rsa.example")]
    [InlineData("-tls1_3", "ecdsa.example")]
    [InlineData("-tls1_3 -sigalgs rsa_pss_rsae_sha256:rsa_pss_rsae_sha384", "rsa.example")]
    public async Task SClient_SslServerWithEcdsaAndRsaCertificates_EachClientGetsOneItCanVerifyAndTheHandshakeNamesIt(string flags, string subject)
    {
        using var ecdsa = TestCertificates.CreateEcdsa("ecdsa.example");
        using var rsa = TestCertificates.CreateRsa("rsa.example");
        using var ecdsaCredential = ecdsa.CreateCredential();
        using var rsaCredential = rsa.CreateCredential();
        var both = new TlsFrontEndBinding(ecdsaCredential, "list/both", null, "both", rsaCredential);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), selector: _ => both);

        var result = await OpenSslClient.SClientAsync(harness.Port, flags + " -ign_eof", HttpRequest);

        Assert.Contains("subject=CN = " + subject, result.StandardOutput);
        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        // What server-cert header insertion reads: the certificate this client was sent.
        Assert.Equal((subject == "rsa.example" ? rsa : ecdsa).Der, summary.Handshake!.ServerCertificate);
    }

    [Theory]
    [InlineData("-tls1_2 -no_ticket -cipher ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa.example", true)]
    [InlineData("-tls1_2 -no_ticket -cipher ECDHE-RSA-AES128-GCM-SHA256", "rsa.example", true)]
    [InlineData("-tls1_3 -sigalgs rsa_pss_rsae_sha256", "rsa.example", false)]
    public async Task SClient_DualCertificateSslServerResumed_TheCertificateKnownUnderTls12ByTheSuiteAndUnknownUnderTls13(
        string flags, string subject, bool knownWhenResumed)
    {
        using var ecdsa = TestCertificates.CreateEcdsa("ecdsa.example");
        using var rsa = TestCertificates.CreateRsa("rsa.example");
        using var ecdsaCredential = ecdsa.CreateCredential();
        using var rsaCredential = rsa.CreateCredential();
        var both = new TlsFrontEndBinding(ecdsaCredential, "list/both", null, "both", rsaCredential);
        var tickets = new SessionTicketKeys(TimeProvider.System);
        tickets.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), selector: _ => both,
            sessionStore: new LocalTlsSessionStore(TimeProvider.System), tickets: tickets);
        var sessionFile = Path.Combine(Path.GetTempPath(), "sslcluster-dual-" + Guid.NewGuid());
        try
        {
            await OpenSslClient.SClientAsync(harness.Port, $"{flags} -sess_out {sessionFile} -ign_eof", HttpRequest);
            var resumed = await OpenSslClient.SClientAsync(harness.Port, $"{flags} -sess_in {sessionFile} -ign_eof", HttpRequest);

            Assert.Contains("Reused, TLSv1.", resumed.StandardOutput);
            var closed = (await harness.Observer.WaitForClosedAsync(2)).OrderBy(s => s.ConnectionId).ToList();
            var sent = (subject == "rsa.example" ? rsa : ecdsa).Der;
            Assert.Equal(sent, closed[0].Handshake!.ServerCertificate);
            Assert.True(closed[1].Handshake!.Resumed);
            // A TLS 1.3 resumption sends no certificate and OpenSSL makes no choice: better unknown than the wrong one.
            Assert.Equal(knownWhenResumed ? sent : null, closed[1].Handshake!.ServerCertificate);
        }
        finally
        {
            File.Delete(sessionFile);
        }
    }

    [Fact]
    public void Binding_TwoCertificatesOfOneKeyType_Refused()
    {
        using var one = TestCertificates.CreateRsa("one.example");
        using var two = TestCertificates.CreateRsa("two.example");
        using var first = one.CreateCredential();
        using var second = two.CreateCredential();

        var e = Assert.Throws<ArgumentException>(() => new TlsFrontEndBinding(first, "list/x", null, null, second));
        Assert.Contains("other key type", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SClient_AlpnWithNothingInCommon_NoProtocolAgreedAndTheExchangeGoesOn()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend());

        var result = await OpenSslClient.SClientAsync(harness.Port, "-alpn spdy/3,imap -ign_eof", HttpRequest);

        Assert.Contains("No ALPN negotiated", result.StandardOutput);
        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Null(summary.Handshake!.ApplicationProtocol);
    }

    [Fact]
    public async Task SClient_Tls12EcdheEcdsa_RelaysHttpExchange()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), ecdsa: true);

        var result = await OpenSslClient.SClientAsync(harness.Port,
            "-tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384 -ign_eof", HttpRequest);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384", result.StandardOutput);
        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Null(summary.Handshake!.ServerName);
    }

    [Theory]
    [InlineData(false, "TLS_AES_256_GCM_SHA384")]
    [InlineData(true, "TLS_CHACHA20_POLY1305_SHA256")]
    public async Task SClient_Tls13_RelaysHttpExchange(bool ecdsa, string suite)
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), ecdsa: ecdsa);

        var result = await OpenSslClient.SClientAsync(harness.Port,
            $"-tls1_3 -ciphersuites {suite} -servername localhost -ign_eof", HttpRequest);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("New, TLSv1.3, Cipher is " + suite, result.StandardOutput);
        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(TlsVersion.Tls13, summary.Handshake!.Version);
        Assert.Equal(suite, summary.Handshake.CipherSuiteName);
    }

    [Fact]
    public async Task Curl_InsecureFetch_ReturnsBackendPage()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend("curl page\n"));

        var result = await OpenSslClient.CurlAsync($"-k https://127.0.0.1:{harness.Port}/index.html");

        Assert.True(result.ExitCode == 0, result.AllOutput);
        Assert.Equal("curl page\n", result.StandardOutput);
        Assert.Equal("GET /index.html HTTP/1.1", ((HttpTestBackend)harness.Backend).LastRequestLine);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
    }

    [Fact]
    public async Task Curl_VerifiedAgainstTestCertificate_ReturnsBackendPage()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend("verified\n"), ecdsa: true);

        var result = await OpenSslClient.CurlAsync(
            $"--cacert {harness.Certificate.CertificatePemPath} https://localhost:{harness.Port}/ " +
            $"--resolve localhost:{harness.Port}:127.0.0.1");

        Assert.True(result.ExitCode == 0, result.AllOutput);
        Assert.Equal("verified\n", result.StandardOutput);
    }

    [Fact]
    public async Task SClient_NullCiphersOnly_RefusedWithAlertAndNoBackendConnection()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend());

        // OpenSSL 3 no longer builds RC4, DES or 3DES; NULL suites are the broken ones it can still offer.
        var result = await OpenSslClient.SClientAsync(harness.Port,
            "-tls1_2 -cipher NULL:eNULL:@SECLEVEL=0", HttpRequest);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alert handshake failure", result.AllOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.ClientHandshakeFailed, summary.Error);
        Assert.False(summary.BackendDialled);
        Assert.Equal(0, harness.Backend.Connections);
    }

    [Fact]
    public async Task SClient_Tls10Only_RefusedWithProtocolVersionAlertAndNoBackendConnection()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend());

        var result = await OpenSslClient.SClientAsync(harness.Port, "-tls1 -cipher DEFAULT:@SECLEVEL=0",
            HttpRequest);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("alert protocol version", result.AllOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.ClientHandshakeFailed, summary.Error);
        Assert.Contains("protocol_version", summary.Message);
        Assert.Equal(0, harness.Backend.Connections);
    }
}
