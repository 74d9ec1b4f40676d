using System.Diagnostics;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Tls;

/// <summary>
/// The back-end TLS client (re-encryption, SSL initiation) against real servers on loopback.
/// </summary>
public sealed class BackendTlsClientTests
{
    private static BackendTlsClient Client(BackendTlsProfile profile, OpenSslBackendSessions? sessions) =>
        new(profile, sessions ?? new OpenSslBackendSessions(TimeProvider.System));

    /// <summary>Back-end legs offer TLS 1.2 unless the backend-server says tls1.3: a TLS 1.3-only server needs that.</summary>
    private static TlsVersion Min(System.Security.Authentication.SslProtocols protocol) =>
        protocol == System.Security.Authentication.SslProtocols.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12;

    [Theory]
    [InlineData("localhost", "localhost")]
    [InlineData(null, "127.0.0.1")]
    public async Task Handshake_CacertAndCertificateCarriesTheExpectedName_VerifiedAndSniSent(string? serverName, string expected)
    {
        using var ca = TestCertificateAuthority.Create();
        using var cert = ServerCertificates.Issue(ca, "backend.test");
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        var profile = new BackendTlsProfile("name/1", null, TlsVersion.Tls12, null, [ca.PublicCertificate], TimeSpan.Zero, serverName)
        {
            ExpectedName = expected,
        };
        var client = Client(profile, null);

        var (side, error, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _ = socket;

        Assert.True(side is not null, message);
        Assert.Equal(ProxyError.None, error);
        Assert.True(client.Handshake!.ServerVerified);
        Assert.Equal(serverName ?? "", server.LastServerName);
        ((IDisposable)side!).Dispose();
    }

    [Theory]
    [InlineData("backend.example.com")]
    [InlineData("10.1.2.3")]
    public async Task Handshake_CacertAndCertificateForAnotherName_BackendCertificateRejectedNamingBoth(string expected)
    {
        using var ca = TestCertificateAuthority.Create();
        using var cert = ServerCertificates.Issue(ca, "backend.test");
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        var profile = new BackendTlsProfile("name/2", null, TlsVersion.Tls12, null, [ca.PublicCertificate], TimeSpan.Zero)
        {
            ExpectedName = expected,
        };

        var (side, error, message, _) = await HandshakeAsync(server.EndPoint, Client(profile, null));

        Assert.Null(side);
        Assert.Equal(ProxyError.BackendCertificateRejected, error);
        Assert.Contains($"is not for '{expected}'", message, StringComparison.Ordinal);
        Assert.Contains("localhost, 127.0.0.1", message, StringComparison.Ordinal);
        Assert.Contains("bad_certificate", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_Tls12ServerEndsWithBareFinAfterOurCloseNotify_CleanEndNotTruncation()
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12, SslBackendMode.Echo);
        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, Client(Profile(), null));
        using var _s = socket;
        Assert.True(side is not null, message);

        // Our close_notify goes first (the client half-closed): a TLS 1.2 server may then just close (RFC 5246 7.2.1).
        var (answer, state) = await ExchangeAsync(side!, "ping"u8.ToArray(), halfCloseAfterRequest: true);

        Assert.Equal(ProxyError.None, state.Error);
        Assert.Equal("ping", Text(answer));
        ((IDisposable)side!).Dispose();
    }

    [Theory]
    [InlineData("h2", true, true)]
    [InlineData("h2", false, false)]
    [InlineData("http/1.1", false, true)]
    public async Task Handshake_ClientsAlpnProtocolOffered_RequiredOfTheServerUnlessHttp1(string protocol, bool serverSpeaksH2, bool succeeds)
    {
        using var cert = TestCertificates.CreateRsa();
        using var server = serverSpeaksH2
            ? await OpenSslServer.StartAsync(cert, "-tls1_2", "-alpn", "h2")
            : await OpenSslServer.StartAsync(cert, "-tls1_2");
        var client = new BackendTlsClient(Profile(), new OpenSslBackendSessions(TimeProvider.System), protocol);

        var (side, error, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;

        Assert.Equal(succeeds, side is not null);
        if (succeeds)
        {
            ((IDisposable)side!).Dispose();
        }
        else
        {
            Assert.Equal(ProxyError.BackendHandshakeFailed, error);
            Assert.Contains("backend did not agree on h2 by ALPN (it chose none)", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Handshake_NoCacert_NameNotChecked()
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        var profile = new BackendTlsProfile("name/3", null, TlsVersion.Tls12, null, null, TimeSpan.Zero) { ExpectedName = "elsewhere.example" };
        var client = Client(profile, null);

        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;

        Assert.True(side is not null, message);
        Assert.False(client.Handshake!.ServerVerified);
        ((IDisposable)side!).Dispose();
    }

    [Theory]
    [InlineData(SslProtocols.Tls12, false)]
    [InlineData(SslProtocols.Tls12, true)]
    [InlineData(SslProtocols.Tls13, false)]
    [InlineData(SslProtocols.Tls13, true)]
    public async Task Handshake_SslStreamServer_SucceedsAndDataRoundTripsThroughRelayPump(SslProtocols protocol, bool ecdsa)
    {
        using var ca = TestCertificateAuthority.Create();
        using var cert = ServerCertificates.Issue(ca, "backend.test", ecdsa);
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, protocol);
        var client = Client(Profile(minimum: Min(protocol), cas: [ca.PublicCertificate]), new OpenSslBackendSessions(TimeProvider.System));

        var (side, error, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _ = socket;

        Assert.True(side is not null, message);
        Assert.Equal(ProxyError.None, error);
        var info = client.Handshake!;
        Assert.Equal(protocol == SslProtocols.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12, info.Version);
        Assert.False(info.Resumed);
        Assert.True(info.ServerVerified);
        Assert.Equal("CN=backend.test", info.ServerSubject);
        var request = Encoding.ASCII.GetBytes(new string('q', 40_000));
        var (answer, state) = await ExchangeAsync(side!, request, halfCloseAfterRequest: false, expectedBytes: request.Length);
        Assert.Equal(ProxyError.None, state.Error);
        Assert.Equal(request, answer);
        Assert.Equal(request.Length, state.ClientToBackend);
        Assert.Equal(request.Length, state.BackendToClient);
        ((IDisposable)side!).Dispose();
    }

    [Theory]
    [InlineData("-tls1_2", "TLSv1.2")]
    [InlineData("-tls1_3", "TLSv1.3")]
    public async Task Handshake_OpenSslServer_PageSaysNewAndProtocol(string flag, string version)
    {
        using var cert = TestCertificates.CreateRsa();
        using var server = await OpenSslServer.StartAsync(cert, flag);
        var client = Client(Profile(minimum: flag == "-tls1_3" ? TlsVersion.Tls13 : TlsVersion.Tls12), new OpenSslBackendSessions(TimeProvider.System));

        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;
        Assert.True(side is not null, message + "\n" + server.Output);
        var page = await GetPageAsync(side!);

        Assert.Contains("New, " + version, page, StringComparison.Ordinal);
        Assert.False(client.Handshake!.ServerVerified);
        Assert.Equal("CN=localhost", client.Handshake.ServerSubject);
    }

    [Fact]
    public async Task Handshake_SecondConnectionSameProfileTls12_ResumesAndServerSaysReused()
    {
        using var cert = TestCertificates.CreateEcdsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_2");
        var cache = new OpenSslBackendSessions(TimeProvider.System);
        var profile = Profile("resume/1");

        var (first, page1) = await PageAsync(server.EndPoint, Client(profile, cache));
        Assert.Equal(1, cache.Count);
        var (second, page2) = await PageAsync(server.EndPoint, Client(profile, cache));

        Assert.False(first.Resumed);
        Assert.Contains("New, ", page1, StringComparison.Ordinal);
        Assert.True(second.Resumed);
        Assert.Null(second.ServerSubject); // no certificate on an abbreviated handshake
        Assert.Contains("Reused, ", page2, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_SessionTimeoutZero_NeverResumes()
    {
        using var cert = TestCertificates.CreateRsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_2");
        var cache = new OpenSslBackendSessions(TimeProvider.System);
        var profile = Profile("noreuse/1", sessionTimeout: TimeSpan.Zero);

        await PageAsync(server.EndPoint, Client(profile, cache));
        var (second, page) = await PageAsync(server.EndPoint, Client(profile, cache));

        Assert.False(second.Resumed);
        Assert.Contains("New, ", page, StringComparison.Ordinal);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task Handshake_AfterSessionExpiry_FullHandshake()
    {
        using var cert = TestCertificates.CreateRsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_2");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new OpenSslBackendSessions(time);
        var profile = Profile("expiry/1", sessionTimeout: TimeSpan.FromSeconds(30));

        await PageAsync(server.EndPoint, Client(profile, cache));
        time.Advance(TimeSpan.FromSeconds(31));
        var (second, page) = await PageAsync(server.EndPoint, Client(profile, cache));

        Assert.False(second.Resumed);
        Assert.Contains("New, ", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_DifferentCacheKey_DoesNotResume()
    {
        using var cert = TestCertificates.CreateRsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_2");
        var cache = new OpenSslBackendSessions(TimeProvider.System);

        await PageAsync(server.EndPoint, Client(Profile("list/10/a"), cache));
        var (second, page) = await PageAsync(server.EndPoint, Client(Profile("list/20/a"), cache));

        Assert.False(second.Resumed);
        Assert.Contains("New, ", page, StringComparison.Ordinal);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public async Task Handshake_Tls13Server_ResumesWithItsTicket()
    {
        using var cert = TestCertificates.CreateEcdsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_3");
        var cache = new OpenSslBackendSessions(TimeProvider.System);
        var profile = Profile("tls13/1", minimum: TlsVersion.Tls13);

        await PageAsync(server.EndPoint, Client(profile, cache));
        var (second, _) = await PageAsync(server.EndPoint, Client(profile, cache));

        // The server's ticket arrives after the handshake and replaces the stored session.
        Assert.Equal(TlsVersion.Tls13, second.Version);
        Assert.True(second.Resumed);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task Handshake_WrongCa_BackendCertificateRejectedNamingTheSubject()
    {
        using var ca = TestCertificateAuthority.Create("Right CA");
        using var other = TestCertificateAuthority.Create("Other CA");
        using var cert = ServerCertificates.Issue(ca, "real.server.test");
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12 | SslProtocols.Tls13);
        var client = Client(Profile(cas: [other.PublicCertificate]), null);

        var (side, error, message, _) = await HandshakeAsync(server.EndPoint, client);

        Assert.Null(side);
        Assert.Equal(ProxyError.BackendCertificateRejected, error);
        Assert.True(error.IsBackendSide());
        Assert.Contains("CN=real.server.test", message, StringComparison.Ordinal);
        Assert.Contains("unknown_ca", message, StringComparison.Ordinal);
        Assert.Contains("does not chain", client.CertificateProblem, StringComparison.Ordinal);
        Assert.Null(client.Handshake);
    }

    [Fact]
    public async Task Handshake_ExpiredServerCertificate_Rejected()
    {
        using var ca = TestCertificateAuthority.Create();
        var now = DateTimeOffset.UtcNow;
        using var cert = ServerCertificates.Issue(ca, "expired.server.test", notBefore: now.AddDays(-20), notAfter: now.AddDays(-10));
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        var client = Client(Profile(cas: [ca.PublicCertificate]), null);

        var (side, error, message, _) = await HandshakeAsync(server.EndPoint, client);

        Assert.Null(side);
        Assert.Equal(ProxyError.BackendCertificateRejected, error);
        Assert.Contains("CN=expired.server.test", message, StringComparison.Ordinal);
        Assert.Contains("certificate_expired", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_NoCacert_AcceptsAnyCertificateUnverified()
    {
        using var ca = TestCertificateAuthority.Create();
        var now = DateTimeOffset.UtcNow;
        using var cert = ServerCertificates.Issue(ca, "expired.server.test", notBefore: now.AddDays(-20), notAfter: now.AddDays(-10));
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        var client = Client(Profile(), null);

        var (side, error, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _ = socket;

        Assert.True(side is not null, message);
        Assert.Equal(ProxyError.None, error);
        Assert.False(client.Handshake!.ServerVerified);
        ((IDisposable)side!).Dispose();
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Handshake_SslStreamRequiresClientCertificate_AcceptsOurCredential(SslProtocols protocol)
    {
        using var ca = TestCertificateAuthority.Create();
        using var clientCert = ca.IssueClient("offload.client.test");
        using var cert = ServerCertificates.Issue(ca, "backend.test");
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, protocol, SslBackendMode.Echo, requireClientCertificate: true);
        using var credential = clientCert.CreateCredential();
        var client = Client(Profile(minimum: Min(protocol), client: credential), null);

        var (side, error, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _ = socket;

        Assert.True(side is not null, message);
        Assert.Equal(ProxyError.None, error);
        var (answer, state) = await ExchangeAsync(side!, "hello"u8.ToArray(), halfCloseAfterRequest: false, expectedBytes: 5);
        Assert.Equal("hello", Text(answer));
        Assert.Equal(ProxyError.None, state.Error);
        Assert.Equal("CN=offload.client.test", server.LastClientSubject);
        ((IDisposable)side!).Dispose();
    }

    [Fact]
    public async Task Handshake_OpenSslVerify1WithClientCertificate_Accepted()
    {
        using var ca = TestCertificateAuthority.Create();
        using var clientCert = ca.IssueClient("offload.client.test");
        using var cert = TestCertificates.CreateRsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_2", "-Verify", "1", "-CAfile", ca.CertificatePemPath);
        using var credential = clientCert.CreateCredential();
        var client = Client(Profile(client: credential), null);

        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;

        Assert.True(side is not null, message + "\n" + server.Output);
        var page = await GetPageAsync(side!);
        Assert.Contains("offload.client.test", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_OpenSslVerify1WithoutClientCertificate_BackendHandshakeFailed()
    {
        using var ca = TestCertificateAuthority.Create();
        using var cert = TestCertificates.CreateRsa();
        using var server = await OpenSslServer.StartAsync(cert, "-tls1_2", "-Verify", "1", "-CAfile", ca.CertificatePemPath);
        var client = Client(Profile(), null);

        var (side, error, message, _) = await HandshakeAsync(server.EndPoint, client);

        Assert.Null(side);
        Assert.Equal(ProxyError.BackendHandshakeFailed, error);
        Assert.Contains("fatal alert", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_ServerClosesMidHandshake_BackendHandshakeFailed()
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12, SslBackendMode.CloseMidHandshake);
        var client = Client(Profile(), null);

        var (side, error, message, _) = await HandshakeAsync(server.EndPoint, client);

        Assert.Null(side);
        Assert.Equal(ProxyError.BackendHandshakeFailed, error);
        Assert.Contains("during the TLS handshake", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_SilentServer_BackendHandshakeTimeoutWithinTheBound()
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12, SslBackendMode.Silent);
        var client = Client(Profile(), null);
        var watch = Stopwatch.StartNew();

        var (side, error, message, _) = await HandshakeAsync(server.EndPoint, client, TimeSpan.FromMilliseconds(300));

        Assert.Null(side);
        Assert.Equal(ProxyError.BackendHandshakeTimeout, error);
        Assert.Contains("0.3 s", message, StringComparison.Ordinal);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Relay_ServerClosesAfterAnswering_ClientGetsFullAnswerAndCleanEnd(SslProtocols protocol)
    {
        using var cert = TestCertificates.CreateEcdsa();
        using var withKey = ServerCertificates.WithKey(cert);
        const int AnswerBytes = 200_000;
        await using var server = new SslStreamBackend(withKey, protocol, SslBackendMode.AnswerThenClose, answerBytes: AnswerBytes);
        var client = Client(Profile(minimum: Min(protocol)), null);
        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;
        Assert.True(side is not null, message);

        // The client does not half-close: the back end ends the exchange (close_notify, FIN) and the relay passes the end on.
        var (answer, state) = await ExchangeAsync(side!, "ping"u8.ToArray(), halfCloseAfterRequest: false);

        Assert.Equal(ProxyError.None, state.Error);
        Assert.Equal(AnswerBytes, answer.Length);
        Assert.StartsWith("answer:ping", Text(answer), StringComparison.Ordinal);
        Assert.Equal(AnswerBytes, state.BackendToClient);
        Assert.True(state.BackendEnded);
        Assert.Equal(0, state.Discarded);
        ((IDisposable)side!).Dispose();
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Relay_ClientClosesAfterAnswer_ServerSeesCloseNotifyAndRelayEndsCleanly(SslProtocols protocol)
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, protocol);
        var client = Client(Profile(minimum: Min(protocol)), null);
        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;
        Assert.True(side is not null, message);

        var (answer, state) = await ExchangeAsync(side!, "last words"u8.ToArray(), halfCloseAfterRequest: false, expectedBytes: 10);

        Assert.Equal("last words", Text(answer));
        Assert.Equal(ProxyError.None, state.Error);
        Assert.True(server.SawClientClose);
        ((IDisposable)side!).Dispose();
    }

    /// <summary>
    /// RelayPump's contract: "Client finished: FIN to the backend; the backend keeps answering until it closes". With a
    /// TLS 1.3 back end the client's FIN becomes our close_notify, and RFC 8446 6.1 lets the server answer after it.
    /// </summary>
    [Fact]
    public async Task Relay_ClientHalfClosesTls13_ServerAnswerAfterCloseNotifyReachesTheClient()
    {
        using var cert = TestCertificates.CreateEcdsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls13, SslBackendMode.ReplyAfterClose);
        var client = Client(Profile(minimum: TlsVersion.Tls13), null);
        var (side, _, message, socket) = await HandshakeAsync(server.EndPoint, client);
        using var _s = socket;
        Assert.True(side is not null, message);

        var (answer, state) = await ExchangeAsync(side!, "request"u8.ToArray(), halfCloseAfterRequest: true);

        Assert.True(server.SawClientClose);
        Assert.Equal(ProxyError.None, state.Error);
        Assert.Equal("answer:request", Text(answer));
        ((IDisposable)side!).Dispose();
    }
}
