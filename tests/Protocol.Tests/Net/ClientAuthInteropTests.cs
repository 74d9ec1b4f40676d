using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// Client authentication against the real <c>openssl s_client -cert -key</c>, all on 127.0.0.1: our policy decides
/// from OpenSSL's verify callback.
/// </summary>
public sealed class ClientAuthInteropTests : IDisposable
{
    private const string Request = "GET /account HTTP/1.1\r\nHost: localhost\r\n\r\n";
    private const string FailureUrl = "https://www.example.com/certificate-needed.html";
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("Interop Client CA");
    private readonly TestCertificateAuthority _otherCa = TestCertificateAuthority.Create("Unknown CA");
    private readonly List<IDisposable> _owned = [];
    private readonly string _sessionFile = Path.Combine(Path.GetTempPath(), "sslcluster-cauth-sess-" + Guid.NewGuid());

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
        File.Delete(_sessionFile);
    }

    private string ClientArgs(TestCertificateAuthority ca, string name = "alice")
    {
        var client = ca.IssueClient(name);
        _owned.Add(client);
        return $"-cert {client.CertificatePemPath} -key {client.KeyPemPath}";
    }

    private ClientAuthPolicy Policy(ClientAuthFailureAction failure = ClientAuthFailureAction.Reject, ICrlSource? crl = null) =>
        new([_ca.PublicCertificate], failure, failure == ClientAuthFailureAction.Redirect ? FailureUrl : null, crl);

    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task SClient_TrustedClientCertificate_AcceptedAndRelayed(string version)
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), clientAuth: Policy());

        var result = await OpenSslClient.SClientAsync(harness.Port, $"{version} {ClientArgs(_ca)} -ign_eof", Request);

        Assert.Contains("hello from the backend", result.StandardOutput);
        Assert.Contains("Acceptable client certificate CA names", result.StandardOutput);
        Assert.Contains("Interop Client CA", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(ClientAuthResult.Verified, summary.Handshake!.ClientAuthResult);
        Assert.Equal("CN=alice", summary.Handshake.ClientAuth!.Subject);
    }

    [Theory]
    [InlineData("-tls1_2", "alert handshake failure")]
    [InlineData("-tls1_3", "alert certificate required")]
    public Task SClient_NoCertificateUnderReject_AlertAndNoBackend(string version, string alert) =>
        AssertRejectedAsync(Policy(), version, alert, "Missing");

    [Fact]
    public Task SClient_CertificateOfUnknownCa_UnknownCaAlert() =>
        AssertRejectedAsync(Policy(), $"-tls1_2 {ClientArgs(_otherCa, "eve")}", "alert unknown ca", "CN=eve");

    [Fact]
    public async Task SClient_RevokedCertificateFromLoopbackCrl_CertificateRevokedAlert()
    {
        var revoked = _ca.IssueClient("mallory");
        _owned.Add(revoked);
        await using var crlServer = new StaticHttpServer { Body = _ca.CreateCrl([revoked]) };
        using var http = new HttpClient();
        using var monitor = new CrlMonitor("crl1", new Uri(crlServer.Url()), _ca.PublicCertificate, TimeSpan.Zero, http, TimeProvider.System);
        Assert.True(await monitor.RefreshAsync());

        await AssertRejectedAsync(Policy(crl: monitor), $"-tls1_2 -cert {revoked.CertificatePemPath} -key {revoked.KeyPemPath}",
            "alert certificate revoked", "Revoked");

        Assert.Equal(1, crlServer.Requests);
    }

    /// <summary>Runs s_client against a listener with <paramref name="policy"/> and checks the refusal on both sides.</summary>
    private async Task AssertRejectedAsync(ClientAuthPolicy policy, string arguments, string alert, string reason)
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), clientAuth: policy);

        var result = await OpenSslClient.SClientAsync(harness.Port, arguments + " -ign_eof", Request);

        Assert.Contains(alert, result.AllOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.ClientCertificateRejected, summary.Error);
        Assert.Contains(reason, summary.Message);
        Assert.Equal(0, harness.Backend.Connections);
    }

    [Fact]
    public async Task SClient_NoCertificateUnderIgnore_DataFlowsWithMissingRecorded()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), clientAuth: Policy(ClientAuthFailureAction.Ignore));

        var result = await OpenSslClient.SClientAsync(harness.Port, "-tls1_3 -ign_eof", Request);

        Assert.Contains("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(ClientAuthResult.Missing, summary.Handshake!.ClientAuthResult);
    }

    [Fact]
    public async Task SClient_UntrustedCertificateUnderRedirect_302ToFailureUrlAndNoBackend()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), clientAuth: Policy(ClientAuthFailureAction.Redirect));

        var result = await OpenSslClient.SClientAsync(harness.Port, $"-tls1_2 {ClientArgs(_otherCa, "eve")} -ign_eof", Request);

        Assert.Contains("HTTP/1.1 302 Found", result.StandardOutput);
        Assert.Contains("Location: " + FailureUrl, result.StandardOutput);
        Assert.Contains("Connection: close", result.StandardOutput);
        Assert.DoesNotContain("hello from the backend", result.StandardOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(ClientAuthResult.Untrusted, summary.Handshake!.ClientAuthResult);
        Assert.False(summary.BackendDialled);
        Assert.Equal(0, harness.Backend.Connections);
    }

    [Fact]
    public async Task SClient_SessionOfVerifiedClient_ResumesWithVerifiedResult()
    {
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store, clientAuth: Policy());
        var client = ClientArgs(_ca);

        await OpenSslClient.SClientAsync(harness.Port, $"-tls1_2 -no_ticket {client} -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(harness.Port, $"-tls1_2 -no_ticket {client} -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("Reused, TLSv1.2", second.AllOutput);
        var closed = (await harness.Observer.WaitForClosedAsync(2)).OrderBy(s => s.ConnectionId).ToList();
        Assert.True(closed[1].Handshake!.Resumed);
        Assert.Equal(ClientAuthResult.Verified, closed[1].Handshake!.ClientAuthResult);
        Assert.Equal("CN=alice", closed[1].Handshake!.ClientAuth!.Subject);
    }

    [Fact]
    public async Task SClient_VerifiedClientsTicketAtAnotherSslServerWithoutCertificate_NotVerified()
    {
        // The ticket opens at the second ssl-server (same cluster keys) but belongs to the first one, so it must not
        // resume there; the client then sends no certificate, and under redirect that is Missing, never the ticket's
        // Verified (the certificate in a session is decided on before the engine knows whether it resumes).
        var tickets = new SessionTicketKeys(TimeProvider.System);
        tickets.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        await using var first = ProxyHarness.Start(new HttpTestBackend(), tickets: tickets, bindingKey: "spl/a",
            clientAuth: Policy(ClientAuthFailureAction.Redirect));
        await using var second = ProxyHarness.Start(new HttpTestBackend(), tickets: tickets, bindingKey: "spl/b",
            clientAuth: Policy(ClientAuthFailureAction.Redirect));

        var verified = await OpenSslClient.SClientAsync(first.Port, $"-tls1_2 {ClientArgs(_ca)} -sess_out {_sessionFile} -ign_eof", Request);
        var other = await OpenSslClient.SClientAsync(second.Port, $"-tls1_2 -sess_in {_sessionFile} -ign_eof", Request);

        Assert.Contains("hello from the backend", verified.StandardOutput);
        Assert.DoesNotContain("Reused", other.AllOutput);
        Assert.Contains("302", other.StandardOutput);
        var summary = Assert.Single(await second.Observer.WaitForClosedAsync(1));
        Assert.False(summary.Handshake!.Resumed);
        Assert.Equal(ClientAuthResult.Missing, summary.Handshake.ClientAuthResult);
        Assert.Equal(0, second.Backend.Connections);
    }

    [Fact]
    public async Task SClient_SessionMadeWithoutClientAuth_NotResumedWhereItIsRequired()
    {
        // Two ssl-servers sharing a store and a base key, one without client auth and one with (CSCsk36744).
        var store = new LocalTlsSessionStore(TimeProvider.System);
        await using var open = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store, bindingKey: "spl/20");
        await using var strict = ProxyHarness.Start(new HttpTestBackend(), sessionStore: store, bindingKey: "spl/20", clientAuth: Policy());

        await OpenSslClient.SClientAsync(open.Port, $"-tls1_2 -no_ticket -sess_out {_sessionFile} -ign_eof", Request);
        var second = await OpenSslClient.SClientAsync(strict.Port, $"-tls1_2 -no_ticket -sess_in {_sessionFile} -ign_eof", Request);

        Assert.DoesNotContain("Reused", second.AllOutput);
        Assert.Contains("alert handshake failure", second.AllOutput);
        var summary = Assert.Single(await strict.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.ClientCertificateRejected, summary.Error);
        Assert.Equal(0, strict.Backend.Connections);
    }
}
