using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Authentication;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Net;

internal sealed class RecordingBackendFlow : IBackendFlowObserver
{
    public ConcurrentQueue<string> Events { get; } = new();

    public BackendHandshakeInfo? Handshake { get; private set; }

    public void Started() => Events.Enqueue("started");

    public void HandshakeCompleted(BackendHandshakeInfo handshake)
    {
        Handshake = handshake;
        Events.Enqueue("handshake");
    }

    public void Ended(bool handshakeDone) => Events.Enqueue("ended:" + handshakeDone);
}

/// <summary>TcpRelay whose dial returns a BackendLink with a TLS client: SSL initiation, clear text in, TLS out.</summary>
public sealed class SslInitiationRelayTests
{
    private static Func<CancellationToken, ValueTask<BackendLink>> Dial(LoopbackServer server, BackendTlsProfile profile,
        IBackendFlowObserver? flow, TimeSpan? handshakeTimeout = null) =>
        async ct => new BackendLink(await server.ConnectAsync(ct), new BackendTlsClient(profile, new OpenSslBackendSessions(TimeProvider.System)), flow, handshakeTimeout);

    [Theory]
    [InlineData(SslProtocols.Tls12, false)]
    [InlineData(SslProtocols.Tls13, false)]
    [InlineData(SslProtocols.Tls12, true)] // as an SSLM client service without insertion runs it: judged by its first bytes
    [InlineData(SslProtocols.Tls13, true)]
    public async Task RunAsync_TlsLink_ClearTextInTlsOutAnswerBackInClear(SslProtocols protocol, bool sniffing)
    {
        using var ca = TestCertificateAuthority.Create();
        using var cert = ServerCertificates.Issue(ca, "initiated.test");
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, protocol);
        var flow = new RecordingBackendFlow();
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        using var relay = new TcpRelay(relayEnd, Dial(server, Profile(cas: [ca.PublicCertificate], minimum: protocol == SslProtocols.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12), flow), null, null,
            sniffing ? new HttpExchange(null, sniff: true) : null);
        var run = relay.RunAsync();

        var request = new byte[70_000];
        Random.Shared.NextBytes(request);
        await test.SendAsync(request, SocketFlags.None);
        var answer = await ReadToEndAsync(test, request.Length);
        test.Shutdown(SocketShutdown.Send);
        var summary = await run.WaitAsync(Bound);

        Assert.Equal(request, answer);
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(request.Length, summary.ClientToBackendBytes);
        Assert.Equal(request.Length, summary.BackendToClientBytes);
        Assert.Equal(1, server.Handshakes);
        Assert.True(flow.Handshake!.ServerVerified);
        Assert.Equal(protocol == SslProtocols.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12, flow.Handshake.Version);
        Assert.Equal(["started", "handshake", "ended:True"], flow.Events);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task RunAsync_ServerEndsTlsWithoutCloseNotify_BackendTruncatedAndClientReset(SslProtocols protocol)
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, protocol, SslBackendMode.AnswerThenFinWithoutCloseNotify, answerBytes: 50_000);
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        using var relay = new TcpRelay(relayEnd, Dial(server, Profile(minimum: protocol == SslProtocols.Tls13 ? TlsVersion.Tls13 : TlsVersion.Tls12), null), null, null);
        var run = relay.RunAsync();

        await test.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), SocketFlags.None);
        var summary = await run.WaitAsync(Bound);

        Assert.Equal(ProxyError.BackendTruncated, summary.Error);
        Assert.True(summary.Error.IsBackendSide());
        Assert.Contains("without TLS close_notify", summary.Message, StringComparison.Ordinal);
        // What arrived is delivered, then the client's connection is reset: never a clean end that hides the cut.
        var received = new MemoryStream();
        var buffer = new byte[65536];
        var reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (true)
            {
                int n = await test.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Bound);
                if (n == 0)
                {
                    return;
                }

                received.Write(buffer, 0, n);
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        Assert.True(received.Length <= 50_000);
    }

    [Fact]
    public async Task RunAsync_TlsLinkWrongCa_BackendCertificateRejectedAndFlowEndsWithoutHandshake()
    {
        using var ca = TestCertificateAuthority.Create();
        using var other = TestCertificateAuthority.Create("Other");
        using var cert = ServerCertificates.Issue(ca, "initiated.test");
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        var flow = new RecordingBackendFlow();
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        using var relay = new TcpRelay(relayEnd, Dial(server, Profile(cas: [other.PublicCertificate]), flow), null, null);

        var summary = await relay.RunAsync().WaitAsync(Bound);

        Assert.Equal(ProxyError.BackendCertificateRejected, summary.Error);
        Assert.Contains("CN=initiated.test", summary.Message, StringComparison.Ordinal);
        Assert.Equal(["started", "ended:False"], flow.Events);
        // The client is closed without data.
        Assert.Empty(await ReadToEndAsync(test));
    }

    [Fact]
    public async Task RunAsync_TlsLinkSilentServer_BackendHandshakeTimeoutFromTheLink()
    {
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12, SslBackendMode.Silent);
        var flow = new RecordingBackendFlow();
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        // The link's own timeout (backend-server N handshake timeout) wins over the options' default of 10 s.
        using var relay = new TcpRelay(relayEnd, Dial(server, Profile(), flow, TimeSpan.FromMilliseconds(300)), null, null);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var summary = await relay.RunAsync().WaitAsync(Bound);

        Assert.Equal(ProxyError.BackendHandshakeTimeout, summary.Error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), watch.Elapsed.ToString());
        Assert.Equal(["started", "ended:False"], flow.Events);
    }

    [Fact]
    public async Task RunAsync_PlainSocketDial_StillPlainTcp()
    {
        await using var echo = new EchoBackend();
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        using var relay = new TcpRelay(relayEnd, ct => echo.ConnectAsync(ct));
        var run = relay.RunAsync();

        await test.SendAsync("plain"u8.ToArray(), SocketFlags.None);
        test.Shutdown(SocketShutdown.Send);
        var answer = await ReadToEndAsync(test);
        var summary = await run.WaitAsync(Bound);

        Assert.Equal("plain", Text(answer));
        Assert.Equal(ProxyError.None, summary.Error);
    }
}
