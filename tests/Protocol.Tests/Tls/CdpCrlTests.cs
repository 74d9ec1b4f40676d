using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>
/// A trustpoint's <c>revocation-check crl</c>: the CRL each client certificate names in its distribution points,
/// fetched from a real HTTP server on loopback after the handshake, kept until its nextUpdate, and checked against
/// the certificate's issuer.
/// </summary>
public sealed class CdpCrlTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("CDP Client CA");
    private readonly TestCertificateAuthority _otherCa = TestCertificateAuthority.Create("CDP Other CA");
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _http.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private TestCertificate Client(string name, string? crlUrl)
    {
        var client = _ca.IssueClient(name, crlUrl: crlUrl);
        _owned.Add(client);
        return client;
    }

    private (ClientAuthPolicy Policy, CdpCrlCache Cdp) Policy(RevocationMethod[] order, ClientAuthFailureAction failure = ClientAuthFailureAction.Reject)
    {
        var cdp = new CdpCrlCache(_http, TimeProvider.System, _ => { });
        _owned.Add(cdp);
        return (new ClientAuthPolicy([_ca.PublicCertificate], failure, revocation: order, cdp: cdp), cdp);
    }

    [Fact]
    public async Task Verify_ListNotYetFetched_PendingThenDecidedByTheDistributionPointsCrlFetchedOnce()
    {
        await using var server = new StaticHttpServer();
        var alice = Client("alice", server.Url());
        var mallory = Client("mallory", server.Url());
        server.Body = _ca.CreateCrl([mallory]);
        var (policy, cdp) = Policy([RevocationMethod.Crl]);

        var pendingAlice = policy.Verify([alice.Der]);
        var pendingMallory = policy.Verify([mallory.Der]);
        var decided = await Task.WhenAll(policy.ResolveAsync(pendingAlice, CancellationToken.None), policy.ResolveAsync(pendingMallory, CancellationToken.None));
        var again = policy.Verify([mallory.Der]);

        Assert.Equal((ClientAuthResult.Pending, ClientAuthResult.Pending), (pendingAlice.Result, pendingMallory.Result));
        Assert.Equal((ClientAuthResult.Verified, RevocationMethod.Crl), (decided[0].Result, decided[0].Revocation));
        Assert.Equal((ClientAuthResult.Revoked, RevocationMethod.Crl), (decided[1].Result, decided[1].Revocation));
        Assert.Equal(ClientAuthResult.Revoked, again.Result);
        Assert.Equal(1, server.Requests);
        Assert.Equal(1, cdp.Fetched);
        Assert.EndsWith(":cdp", policy.ScopeKey, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("404")]
    [InlineData("other-ca")]
    [InlineData("not-a-crl")]
    [InlineData("past-next-update")]
    public async Task Verify_ListUnusable_CrlGetFailureAndTheNextMethodDecides(string fault)
    {
        await using var server = new StaticHttpServer();
        var alice = Client("alice", server.Url());
        var now = DateTimeOffset.UtcNow;
        if (fault == "404") server.StatusCode = 404;
        else server.Body = fault switch
        {
            "other-ca" => _otherCa.CreateCrl([]),
            "past-next-update" => _ca.CreateCrl([], now.AddDays(-2), now.AddMinutes(-1)),
            _ => "not a CRL"u8.ToArray(),
        };
        var (strict, _) = Policy([RevocationMethod.Crl]);
        var (lenient, _) = Policy([RevocationMethod.Crl, RevocationMethod.None]);

        var refused = await strict.ResolveAsync(strict.Verify([alice.Der]), CancellationToken.None);
        var passed = await lenient.ResolveAsync(lenient.Verify([alice.Der]), CancellationToken.None);

        Assert.Equal(ClientAuthResult.RevocationUnavailable, refused.Result);
        Assert.Equal("CRL Get Failure", refused.ErrorText);
        Assert.Equal((ClientAuthResult.Verified, RevocationMethod.None), (passed.Result, passed.Revocation));
    }

    [Fact]
    public void Verify_CertificateWithoutDistributionPoint_UnavailableInTheHandshakeWithoutWaiting()
    {
        var bare = Client("bare", null);
        var (policy, cdp) = Policy([RevocationMethod.Crl]);

        var outcome = policy.Verify([bare.Der]);

        Assert.Equal(ClientAuthResult.RevocationUnavailable, outcome.Result);
        Assert.Equal(0, cdp.Fetched);
    }
}
