using Xunit;
using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>The client-auth decision: chain against the configured CAs, validity, CRL, failure action.</summary>
public sealed class ClientAuthPolicyTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("Client Auth CA");
    private readonly TestCertificateAuthority _otherCa = TestCertificateAuthority.Create("Other CA");
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
    }

    private TestCertificate Client(TestCertificateAuthority ca, string name = "alice", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var c = ca.IssueClient(name, notBefore, notAfter);
        _owned.Add(c);
        return c;
    }

    private ClientAuthPolicy Policy(ClientAuthFailureAction failure = ClientAuthFailureAction.Reject, string? url = null, ICrlSource? crl = null) =>
        new([_ca.PublicCertificate], failure, url, crl);

    [Fact]
    public void Verify_ClientOfConfiguredCa_VerifiedWithSubjectIssuerSerial()
    {
        var client = Client(_ca);

        var outcome = Policy().Verify([client.Der]);

        Assert.Equal(ClientAuthResult.Verified, outcome.Result);
        Assert.False(outcome.Failed);
        Assert.Equal("CN=alice", outcome.Subject);
        Assert.Contains("CN=Client Auth CA", outcome.Issuer, StringComparison.Ordinal);
        Assert.Equal(CertificateMetadata.SerialHex(client.ToX509().SerialNumberBytes.Span), outcome.SerialNumber);
        Assert.Null(outcome.RedirectUrl);
    }

    [Theory]
    [InlineData(ClientAuthResult.Revoked, ClientAuthFailureAction.IgnoreRevoked, false)]
    [InlineData(ClientAuthResult.Missing, ClientAuthFailureAction.IgnoreRevoked, true)]
    [InlineData(ClientAuthResult.RevocationUnavailable, ClientAuthFailureAction.IgnoreRevoked, true)]
    [InlineData(ClientAuthResult.Untrusted, ClientAuthFailureAction.IgnoreRevoked, true)]
    [InlineData(ClientAuthResult.Expired, ClientAuthFailureAction.IgnoreRevoked, true)]
    [InlineData(ClientAuthResult.Verified, ClientAuthFailureAction.IgnoreRevoked, false)]
    [InlineData(ClientAuthResult.Pending, ClientAuthFailureAction.Reject, false)]
    [InlineData(ClientAuthResult.Revoked, ClientAuthFailureAction.Reject, true)]
    [InlineData(ClientAuthResult.Untrusted, ClientAuthFailureAction.Ignore, false)]
    public void Refuses_EachOutcomeUnderEachAction_OnlyWhatTheActionRefuses(ClientAuthResult result, ClientAuthFailureAction failure, bool refused)
    {
        var policy = new ClientAuthPolicy([_ca.PublicCertificate], failure);

        Assert.Equal(refused, policy.Refuses(new ClientAuthOutcome(result, null, null, null, "test")));
    }

    [Fact]
    public void Verify_NoCertificate_MissingWithVersionSpecificAlert()
    {
        var outcome = Policy().Verify([]);

        Assert.Equal(ClientAuthResult.Missing, outcome.Result);
        Assert.Equal(AlertDescription.certificate_required, outcome.AlertFor(tls13: true));
        Assert.Equal(AlertDescription.handshake_failure, outcome.AlertFor(tls13: false));
    }

    [Fact]
    public void Verify_ClientOfAnotherCa_UntrustedUnknownCa()
    {
        var outcome = Policy().Verify([Client(_otherCa).Der]);

        Assert.Equal(ClientAuthResult.Untrusted, outcome.Result);
        Assert.Equal(AlertDescription.unknown_ca, outcome.AlertFor(false));
        Assert.Contains("does not chain to a configured cacert", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ExpiredClient_ExpiredNotUntrusted()
    {
        var now = DateTimeOffset.UtcNow;
        var outcome = Policy().Verify([Client(_ca, "old", now.AddDays(-10), now.AddDays(-1)).Der]);

        Assert.Equal(ClientAuthResult.Expired, outcome.Result);
        Assert.Equal(AlertDescription.certificate_expired, outcome.AlertFor(false));
    }

    [Fact]
    public void Verify_ExpiredCa_UntrustedAndNoException()
    {
        var now = DateTimeOffset.UtcNow;
        using var expiredCa = TestCertificateAuthority.Create("Expired CA", now.AddDays(-30), now.AddMinutes(-1));
        var client = expiredCa.IssueClient("bob", now.AddDays(-20), now.AddDays(-2));
        _owned.Add(client);
        var policy = new ClientAuthPolicy([expiredCa.PublicCertificate], ClientAuthFailureAction.Reject);

        var outcome = policy.Verify([client.Der]);

        Assert.True(outcome.Failed);
    }

    [Fact]
    public void Verify_GarbageCertificate_UntrustedNotThrown()
    {
        var outcome = Policy().Verify([[1, 2, 3]]);

        Assert.Equal(ClientAuthResult.Untrusted, outcome.Result);
        Assert.Equal(AlertDescription.bad_certificate, outcome.AlertFor(false));
    }

    [Fact]
    public void Verify_RedirectAction_FailedOutcomeCarriesTheUrlVerifiedDoesNot()
    {
        var policy = Policy(ClientAuthFailureAction.Redirect, "https://www.example.com/nocert.html");

        Assert.Equal("https://www.example.com/nocert.html", policy.Verify([]).RedirectUrl);
        Assert.Null(policy.Verify([Client(_ca).Der]).RedirectUrl);
    }

    [Fact]
    public async Task Verify_RevokedInFetchedCrl_RevokedOthersVerified()
    {
        var revoked = Client(_ca, "mallory");
        var good = Client(_ca, "alice");
        await using var http = new StaticHttpServer { Body = _ca.CreateCrl([revoked]) };
        using var monitor = Monitor(http, _ca);
        Assert.True(await monitor.RefreshAsync());
        var policy = Policy(crl: monitor);

        Assert.Equal(ClientAuthResult.Revoked, policy.Verify([revoked.Der]).Result);
        Assert.Equal(AlertDescription.certificate_revoked, policy.Verify([revoked.Der]).AlertFor(false));
        Assert.Equal(ClientAuthResult.Verified, policy.Verify([good.Der]).Result);
        Assert.Equal(1, monitor.RevokedCount);
    }

    [Fact]
    public async Task Verify_CrlNeverFetched_RevocationUnavailableAndLogged()
    {
        var log = new List<string>();
        await using var http = new StaticHttpServer { StatusCode = 404 };
        using var monitor = Monitor(http, _ca, log);

        Assert.False(await monitor.RefreshAsync());
        var outcome = Policy(crl: monitor).Verify([Client(_ca).Der]);

        Assert.Equal(ClientAuthResult.RevocationUnavailable, outcome.Result);
        Assert.Equal(AlertDescription.certificate_unknown, outcome.AlertFor(false));
        Assert.Contains(log, l => l.Contains("HTTP 404", StringComparison.Ordinal) && l.Contains("no valid CRL yet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefreshAsync_FetchFailsLater_KeepsLastGoodCrl()
    {
        var revoked = Client(_ca, "mallory");
        var log = new List<string>();
        await using var http = new StaticHttpServer { Body = _ca.CreateCrl([revoked]) };
        using var monitor = Monitor(http, _ca, log);
        Assert.True(await monitor.RefreshAsync());

        http.StatusCode = 500;
        Assert.False(await monitor.RefreshAsync());

        Assert.Equal(CrlStatus.Revoked, monitor.Check(revoked.ToX509()));
        Assert.Contains(log, l => l.Contains("keeping the CRL of", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefreshAsync_CrlSignedByAnotherCa_Refused()
    {
        var log = new List<string>();
        await using var http = new StaticHttpServer { Body = _otherCa.CreateCrl([]) };
        using var monitor = Monitor(http, _ca, log);

        Assert.False(await monitor.RefreshAsync());

        Assert.Equal(CrlStatus.Unavailable, monitor.Check(Client(_ca).ToX509()));
        Assert.Contains(log, l => l.Contains("not by the signing certificate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefreshAsync_OlderCrlThanTheOneInUse_Refused()
    {
        var revoked = Client(_ca, "mallory");
        await using var http = new StaticHttpServer { Body = _ca.CreateCrl([revoked], DateTimeOffset.UtcNow.AddMinutes(-1)) };
        using var monitor = Monitor(http, _ca);
        Assert.True(await monitor.RefreshAsync());

        http.Body = _ca.CreateCrl([], DateTimeOffset.UtcNow.AddHours(-2));

        Assert.False(await monitor.RefreshAsync());
        Assert.Equal(CrlStatus.Revoked, monitor.Check(revoked.ToX509()));
    }

    [Fact]
    public async Task Check_CertificateOfAnotherIssuer_NotCovered()
    {
        await using var http = new StaticHttpServer { Body = _ca.CreateCrl([]) };
        using var monitor = Monitor(http, _ca);
        Assert.True(await monitor.RefreshAsync());

        Assert.Equal(CrlStatus.NotCovered, monitor.Check(Client(_otherCa).ToX509()));
    }

    [Theory]
    [InlineData(true, 2, 0, 2 * 60)]      // configured period wins
    [InlineData(true, 0, 30, 30)]        // nextUpdate in 30 minutes
    [InlineData(true, 0, 0, 1)]          // nextUpdate now: at least a minute
    [InlineData(true, 0, 5000, 24 * 60)] // far nextUpdate: at most a day
    [InlineData(false, 2, 0, 1)]         // failure: retry after a minute
    public void NextDelay_Schedule_FollowsPeriodOrNextUpdate(bool ok, int hours, int nextUpdateMinutes, int expectedMinutes)
    {
        var now = DateTimeOffset.UtcNow;

        var delay = CrlMonitor.NextDelay(ok, TimeSpan.FromHours(hours), TimeSpan.FromMinutes(1), now, now.AddMinutes(nextUpdateMinutes));

        Assert.Equal(TimeSpan.FromMinutes(expectedMinutes), delay);
    }

    [Fact]
    public void ScopeKey_OtherCaSetOrAction_Differs()
    {
        var reject = Policy();

        Assert.Equal(reject.ScopeKey, Policy().ScopeKey);
        Assert.NotEqual(reject.ScopeKey, Policy(ClientAuthFailureAction.Ignore).ScopeKey);
        Assert.NotEqual(reject.ScopeKey, new ClientAuthPolicy([_otherCa.PublicCertificate], ClientAuthFailureAction.Reject).ScopeKey);
    }

    [Fact]
    public void BindingKey_WithClientAuth_CarriesThePolicyScope()
    {
        using var cert = TestCertificates.CreateEcdsa();
        using var credential = cert.CreateCredential();
        var plain = new TlsFrontEndBinding(credential, "spl/20");
        var policy = Policy();

        var withAuth = new TlsFrontEndBinding(credential, "spl/20") { ClientAuth = policy };

        Assert.Equal("spl/20", plain.BindingKey);
        Assert.Equal("spl/20|" + policy.ScopeKey, withAuth.BindingKey);
    }

    private static CrlMonitor Monitor(StaticHttpServer http, TestCertificateAuthority signer, List<string>? log = null)
    {
        var client = new HttpClient();
        // The tests await every refresh, so the log callback never runs concurrently.
        return new CrlMonitor("crl1", new Uri(http.Url()), signer.PublicCertificate, TimeSpan.Zero, client, TimeProvider.System,
            line => log?.Add(line));
    }

    [Fact]
    public void Verify_MapOnTheIssuingIntermediate_AppliedThoughTheChainEndsAtTheRoot()
    {
        using var chain = new TestChain("Map");
        var (root, inter) = (chain.Root, chain.Intermediate);

        var map = ConfigParser.Parse("crypto pki certificate map only-dora 10\n subject-name eq cn=dora").Config!.CertificateMaps["only-dora"];
        var interHash = inter.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var policy = new ClientAuthPolicy([root], ClientAuthFailureAction.Reject,
            authorizations: new Dictionary<string, IReadOnlyList<PkiCertificateMap>> { [interHash] = [map] });

        var dora = policy.Verify([chain.Leaf("dora"), inter.RawData]);
        var eve = policy.Verify([chain.Leaf("eve"), inter.RawData]);

        Assert.Equal(ClientAuthResult.Verified, dora.Result);
        Assert.Equal(ClientAuthResult.NotAuthorized, eve.Result);
        Assert.Equal("Cert Not Authorized", eve.ErrorText);
        Assert.True(policy.Refuses(eve));
        Assert.Equal(ClientAuthResult.Verified, new ClientAuthPolicy([root], ClientAuthFailureAction.Reject).Verify([chain.Leaf("eve"), inter.RawData]).Result);
        Assert.NotEqual(new ClientAuthPolicy([root], ClientAuthFailureAction.Reject).ScopeKey, policy.ScopeKey);
        Assert.Equal(policy.ScopeKey, new ClientAuthPolicy([root], ClientAuthFailureAction.Reject,
            authorizations: new Dictionary<string, IReadOnlyList<PkiCertificateMap>> { [interHash] = [map] }).ScopeKey);
    }

    [Fact]
    public void Verify_CertTrimAndOnlyTheSubordinateCaTrusted_TheIntermediateEndsThePathAndAnythingElseStillFails()
    {
        using var chain = new TestChain("Trim");
        var inter = chain.Intermediate;
        var now = DateTimeOffset.UtcNow;

        using var subordinate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(inter.RawData);
        var trimmed = new ClientAuthPolicy([subordinate], ClientAuthFailureAction.Reject, certTrim: true);
        var whole = new ClientAuthPolicy([subordinate], ClientAuthFailureAction.Reject);
        var dora = chain.Leaf("dora", now.AddHours(-1), now.AddDays(2));
        var late = chain.Leaf("late", now.AddDays(-3), now.AddDays(-1));
        var stranger = Client(_otherCa, "stranger");

        Assert.Equal(ClientAuthResult.Verified, trimmed.Verify([dora]).Result);
        Assert.Equal(ClientAuthResult.Verified, trimmed.Verify([dora, inter.RawData]).Result);
        Assert.Equal(ClientAuthResult.Untrusted, whole.Verify([dora, inter.RawData]).Result);
        Assert.Equal(ClientAuthResult.Expired, trimmed.Verify([late]).Result);
        Assert.Equal(ClientAuthResult.Untrusted, trimmed.Verify([stranger.Der]).Result);
        Assert.NotEqual(whole.ScopeKey, trimmed.ScopeKey);
    }
}
