using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>
/// <c>revocation-check ocsp crl none</c> for client certificates, against the real <c>openssl ocsp</c> responder on
/// loopback: good, revoked, unknown, stale and silent responders, the order of the methods, and the answer cache.
/// </summary>
public sealed class ClientOcspTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("OCSP Client CA");
    private readonly string _folder = Directory.CreateTempSubdirectory("sslcluster-client-ocsp-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _http.Dispose();
        _ca.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private TestCertificate Client(string name, string? ocspUrl = null)
    {
        var client = _ca.IssueClient(name, ocspUrl: ocspUrl);
        _owned.Add(client);
        return client;
    }

    private async Task<OpenSslOcspResponder> ResponderAsync(string index, int minutes = 10)
    {
        var responder = await OpenSslOcspResponder.StartAsync(_folder, _ca.Certificate, _ca.KeyPem, index, minutes);
        _owned.Add(responder);
        return responder;
    }

    private (ClientAuthPolicy Policy, OcspResponderCache Ocsp) Policy(string? url, RevocationMethod[] order,
        ClientAuthFailureAction failure = ClientAuthFailureAction.Reject, ICrlSource? crl = null, TimeProvider? time = null)
    {
        var ocsp = new OcspResponderCache(url is null ? null : new Uri(url), _http, time ?? TimeProvider.System, _ => { });
        _owned.Add(ocsp);
        return (new ClientAuthPolicy([_ca.PublicCertificate], failure, null, crl, time, order, ocsp), ocsp);
    }

    [Fact]
    public async Task Verify_GoodAnswerNotYetKnown_PendingThenVerifiedByOcspAndTheNextClientDecidedInTheHandshake()
    {
        var alice = Client("alice");
        var responder = await ResponderAsync(OpenSslOcspResponder.IndexLine(alice.ToX509()));
        var (policy, ocsp) = Policy(responder.Url, [RevocationMethod.Ocsp]);

        var pending = policy.Verify([alice.Der]);
        var decided = await policy.ResolveAsync(pending, CancellationToken.None);
        var again = policy.Verify([alice.Der]);

        Assert.Equal(ClientAuthResult.Pending, pending.Result);
        Assert.False(pending.Failed);
        Assert.Equal(ClientAuthResult.Verified, decided.Result);
        Assert.Equal(RevocationMethod.Ocsp, decided.Revocation);
        Assert.Equal("none", decided.ErrorText);
        Assert.Equal(ClientAuthResult.Verified, again.Result);
        Assert.Equal(1, ocsp.Asked);
    }

    [Fact]
    public async Task Verify_RevokedByTheResponderTheCertificateNames_RevokedWithTheSslmErrorString()
    {
        var port = OpenSslOcspResponder.FreePort();
        var mallory = Client("mallory", ocspUrl: $"http://127.0.0.1:{port}/");
        Keep(await OpenSslOcspResponder.StartAsync(_folder, _ca.Certificate, _ca.KeyPem,
            OpenSslOcspResponder.IndexLine(mallory.ToX509(), revokedAt: DateTimeOffset.UtcNow.AddHours(-1)), port: port));
        var (policy, _) = Policy(null, [RevocationMethod.Ocsp]);

        var decided = await policy.ResolveAsync(policy.Verify([mallory.Der]), CancellationToken.None);

        Assert.Equal(ClientAuthResult.Revoked, decided.Result);
        Assert.Equal("Cert Revoked", decided.ErrorText);
        Assert.Equal(ClientAuthResult.Revoked, policy.Verify([mallory.Der]).Result);
    }

    private OpenSslOcspResponder Keep(OpenSslOcspResponder responder)
    {
        _owned.Add(responder);
        return responder;
    }

    [Fact]
    public async Task Verify_CertificateTheResponderDoesNotKnow_NoAnswerSoTheNextMethodDecides()
    {
        var known = Client("known");
        var stranger = Client("stranger");
        var responder = await ResponderAsync(OpenSslOcspResponder.IndexLine(known.ToX509()));
        var (strict, _) = Policy(responder.Url, [RevocationMethod.Ocsp]);
        var (lenient, _) = Policy(responder.Url, [RevocationMethod.Ocsp, RevocationMethod.None]);

        var refused = await strict.ResolveAsync(strict.Verify([stranger.Der]), CancellationToken.None);
        var passed = await lenient.ResolveAsync(lenient.Verify([stranger.Der]), CancellationToken.None);

        Assert.Equal(ClientAuthResult.RevocationUnavailable, refused.Result);
        Assert.Equal("CA Request Failure", refused.ErrorText);
        Assert.Contains("does not know", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(ClientAuthResult.Verified, passed.Result);
        Assert.Equal(RevocationMethod.None, passed.Revocation);
    }

    [Fact]
    public async Task Verify_ResponderDownThenCrl_TheCrlDecidesAndCrlFirstNeverAsksTheResponder()
    {
        var alice = Client("alice");
        var mallory = Client("mallory");
        await using var crlServer = new StaticHttpServer { Body = _ca.CreateCrl([mallory]) };
        using var monitor = new CrlMonitor("crl1", new Uri(crlServer.Url()), _ca.PublicCertificate, TimeSpan.Zero, _http, TimeProvider.System);
        Assert.True(await monitor.RefreshAsync());
        var down = $"http://127.0.0.1:{OpenSslOcspResponder.FreePort()}/";
        var (ocspFirst, _) = Policy(down, [RevocationMethod.Ocsp, RevocationMethod.Crl], crl: monitor);
        var (crlFirst, crlFirstOcsp) = Policy(down, [RevocationMethod.Crl, RevocationMethod.Ocsp], crl: monitor);

        var good = await ocspFirst.ResolveAsync(ocspFirst.Verify([alice.Der]), CancellationToken.None);
        var revoked = await ocspFirst.ResolveAsync(ocspFirst.Verify([mallory.Der]), CancellationToken.None);
        var direct = crlFirst.Verify([alice.Der]);

        Assert.Equal((ClientAuthResult.Verified, RevocationMethod.Crl), (good.Result, good.Revocation));
        Assert.Equal((ClientAuthResult.Revoked, RevocationMethod.Crl), (revoked.Result, revoked.Revocation));
        Assert.Equal((ClientAuthResult.Verified, RevocationMethod.Crl), (direct.Result, direct.Revocation));
        Assert.Equal(0, crlFirstOcsp.Asked);
    }

    [Fact]
    public async Task Verify_AnswerPastItsNextUpdate_OutOfRangeWithTheSslmErrorString()
    {
        var alice = Client("alice");
        var responder = await ResponderAsync(OpenSslOcspResponder.IndexLine(alice.ToX509()), minutes: 5);
        // Our clock an hour ahead: the answer's nextUpdate (5 minutes after it was made) has passed.
        var (policy, _) = Policy(responder.Url, [RevocationMethod.Ocsp], time: new SslCluster.Protocol.Tests.Pki.FixedTimeProvider(DateTimeOffset.UtcNow.AddHours(1)));

        var decided = await policy.ResolveAsync(policy.Verify([alice.Der]), CancellationToken.None);

        Assert.Equal(ClientAuthResult.RevocationUnavailable, decided.Result);
        Assert.Equal("OCSP Response Date Out-of-Range", decided.ErrorText);
    }

    [Fact]
    public async Task AskAsync_ResponderAcceptsAndNeverAnswers_FailsWithinTheTimeoutAndHoldsNobodyElse()
    {
        // CSCsl74182: a responder that takes the connection and says nothing.
        using var silent = new SilentListener();
        var alice = Client("alice");
        var bob = Client("bob");
        var answering = await ResponderAsync(OpenSslOcspResponder.IndexLine(bob.ToX509()));
        var (stuck, _) = Policy(silent.Url, [RevocationMethod.Ocsp]);
        var (other, _) = Policy(answering.Url, [RevocationMethod.Ocsp]);
        var started = System.Diagnostics.Stopwatch.StartNew();

        var waiting = stuck.ResolveAsync(stuck.Verify([alice.Der]), CancellationToken.None);
        var meanwhile = await other.ResolveAsync(other.Verify([bob.Der]), CancellationToken.None);
        var meanwhileTook = started.Elapsed;
        var decided = await waiting.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(ClientAuthResult.Verified, meanwhile.Result);
        Assert.True(meanwhileTook < OcspResponderCache.AskTimeout - TimeSpan.FromSeconds(1), $"the other client took {meanwhileTook}");
        Assert.Equal(ClientAuthResult.RevocationUnavailable, decided.Result);
        Assert.Contains("no answer", decided.Reason, StringComparison.Ordinal);
        Assert.InRange(started.Elapsed, OcspResponderCache.AskTimeout - TimeSpan.FromSeconds(1), OcspResponderCache.AskTimeout + TimeSpan.FromSeconds(5));
        // Failed answers stand for a while: the next connection with that certificate is decided at once.
        Assert.Equal(ClientAuthResult.RevocationUnavailable, stuck.Verify([alice.Der]).Result);
        Assert.Equal(1, silent.Accepted);
    }

    [Fact]
    public async Task Verify_CrlOfAnotherCaThenOcsp_TheCrlDoesNotSpeakForTheCertificateSoOcspDecides()
    {
        // Two trusted CAs; the CRL is the other CA's. Under 'crl ocsp' it says nothing about this certificate, so the
        // responder's "revoked" decides.
        using var otherCa = TestCertificateAuthority.Create("Other CRL CA");
        await using var crlServer = new StaticHttpServer { Body = otherCa.CreateCrl([]) };
        using var monitor = new CrlMonitor("crl-other", new Uri(crlServer.Url()), otherCa.PublicCertificate, TimeSpan.Zero, _http, TimeProvider.System);
        Assert.True(await monitor.RefreshAsync());
        var mallory = Client("mallory");
        var responder = await ResponderAsync(OpenSslOcspResponder.IndexLine(mallory.ToX509(), DateTimeOffset.UtcNow.AddHours(-1)));
        var ocsp = new OcspResponderCache(new Uri(responder.Url), _http, TimeProvider.System, _ => { });
        _owned.Add(ocsp);
        var policy = new ClientAuthPolicy([_ca.PublicCertificate, otherCa.PublicCertificate], ClientAuthFailureAction.Reject, null, monitor, null,
            [RevocationMethod.Crl, RevocationMethod.Ocsp], ocsp);

        var decided = await policy.ResolveAsync(policy.Verify([mallory.Der]), CancellationToken.None);

        Assert.Equal((ClientAuthResult.Revoked, RevocationMethod.Ocsp), (decided.Result, decided.Revocation));
    }

    [Fact]
    public async Task Verify_AnswerWithoutNextUpdate_GoodWhileFreshOutOfRangeOnceOlderThanAnHour()
    {
        var alice = Client("alice");
        var responder = await ResponderAsync(OpenSslOcspResponder.IndexLine(alice.ToX509()), minutes: 0);
        var (now, _) = Policy(responder.Url, [RevocationMethod.Ocsp]);
        var (later, _) = Policy(responder.Url, [RevocationMethod.Ocsp], time: new SslCluster.Protocol.Tests.Pki.FixedTimeProvider(DateTimeOffset.UtcNow.AddHours(2)));

        var fresh = await now.ResolveAsync(now.Verify([alice.Der]), CancellationToken.None);
        var old = await later.ResolveAsync(later.Verify([alice.Der]), CancellationToken.None);

        Assert.True(fresh.Result == ClientAuthResult.Verified, fresh.Reason);
        Assert.True(old.Result == ClientAuthResult.RevocationUnavailable, old.Reason);
        Assert.True(old.ErrorText == "OCSP Response Date Out-of-Range", old.Reason);
    }

    [Fact]
    public async Task ResolveAsync_ManyConnectionsWithOneCertificateAtOnce_OneQuestion()
    {
        var alice = Client("alice");
        var responder = await ResponderAsync(OpenSslOcspResponder.IndexLine(alice.ToX509()));
        var (policy, ocsp) = Policy(responder.Url, [RevocationMethod.Ocsp]);

        var pending = Enumerable.Range(0, 50).Select(_ => policy.Verify([alice.Der])).ToList();
        var decided = await Task.WhenAll(pending.Select(p => policy.ResolveAsync(p, CancellationToken.None)));

        Assert.All(pending, p => Assert.Equal(ClientAuthResult.Pending, p.Result));
        Assert.All(decided, d => Assert.Equal(ClientAuthResult.Verified, d.Result));
        Assert.Equal(1, ocsp.Asked);
    }

    [Fact]
    public void ScopeKey_RevocationOrderOrResponderDiffers_SessionsDoNotResumeAcrossThem()
    {
        var (ocsp, _) = Policy("http://127.0.0.1:1/", [RevocationMethod.Ocsp]);
        var (ocspNone, _) = Policy("http://127.0.0.1:1/", [RevocationMethod.Ocsp, RevocationMethod.None]);
        var (otherUrl, _) = Policy("http://127.0.0.1:2/", [RevocationMethod.Ocsp]);

        Assert.Equal(3, new[] { ocsp.ScopeKey, ocspNone.ScopeKey, otherUrl.ScopeKey }.Distinct().Count());
    }
}
