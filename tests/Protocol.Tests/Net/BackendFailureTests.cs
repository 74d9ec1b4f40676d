using System.Net;
using System.Net.Sockets;
using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>Backend-side failures and policy refusals after the handshake, classified by side and phase.</summary>
public sealed class BackendFailureTests
{
    [Fact]
    public async Task RunAsync_BackendRefusesConnection_BackendConnectFailedAndClientSeesNoCleanEnd()
    {
        // A port that was just free: nothing listens there, so the connect is refused.
        int closedPort = FreePort();
        await using var harness = ProxyHarness.Start(new EchoBackend());
        using var connection = new TlsProxyConnection(await AcceptOneAsync(harness, out var client), harness.Engine,
            _ => harness.Binding, async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, closedPort), ct);
                return socket;
            });
        var run = connection.RunAsync();
        using var tls = await HandshakeAsync(client);

        var error = Assert.ThrowsAny<IOException>(() => tls.Stream.ReadByte());
        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ProxyError.BackendConnectFailed, summary.Error);
        Assert.True(summary.Error.IsBackendSide());
        Assert.Contains("ConnectionRefused", summary.Message);
        // OpenSSL has no call to send an alert of our choosing after the handshake: the stream ends unclean.
        Assert.IsType<TlsNoCloseNotifyException>(error);
    }

    [Fact]
    public async Task RunAsync_DialNeverCompletes_BackendConnectTimeout()
    {
        await using var harness = ProxyHarness.Start(new EchoBackend());
        using var connection = new TlsProxyConnection(await AcceptOneAsync(harness, out var client), harness.Engine,
            _ => harness.Binding, (_, _) => new ValueTask<Socket>(new TaskCompletionSource<Socket>().Task),
            new ProxyConnectionOptions { BackendConnectTimeout = TimeSpan.FromMilliseconds(200) });
        var run = connection.RunAsync();
        using var tls = await HandshakeAsync(client);

        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ProxyError.BackendConnectTimeout, summary.Error);
        Assert.True(summary.BackendDialled);
    }

    [Fact]
    public async Task RunAsync_BackendResetsMidStream_BackendResetAndNoCloseNotifyToClient()
    {
        await using var backend = new ResettingBackend();
        await using var harness = ProxyHarness.Start(new EchoBackend());
        using var connection = new TlsProxyConnection(await AcceptOneAsync(harness, out var client), harness.Engine,
            _ => harness.Binding, (_, ct) => backend.ConnectAsync(ct));
        var run = connection.RunAsync();
        using var tls = await HandshakeAsync(client);
        tls.Stream.Write("go"u8);

        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ProxyError.BackendReset, summary.Error);
        Assert.Equal(5, summary.BackendToClientBytes);
        var first = new byte[5];
        tls.Stream.ReadExactly(first);
        Assert.Equal("part1"u8.ToArray(), first);

        // A truncated answer must look truncated: the client gets no close_notify, only the end of TCP (a plain
        // back end's reset may also come on our writes after a complete answer, so it is not turned into a reset).
        Assert.Throws<TlsNoCloseNotifyException>(() => tls.Stream.ReadByte());
    }

    [Fact]
    public async Task SClient_Tls12Renegotiation_RefusedAndConnectionClosed()
    {
        await using var harness = ProxyHarness.Start(new EchoBackend());

        // "R" on stdin makes s_client renegotiate an established TLS 1.2 connection (a command it obeys only
        // without -ign_eof, so its input stays open until the server has answered).
        var result = await OpenSslClient.SClientAsync(harness.Port, "-tls1_2", "R\n",
            holdInputOpen: TimeSpan.FromSeconds(10));

        Assert.False(result.TimedOut, result.AllOutput);
        Assert.Contains("RENEGOTIATING", result.AllOutput);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));

        // OpenSSL only says no_renegotiation (a warning), and we close the connection.
        Assert.Equal(ProxyError.ClientProtocolError, summary.Error);
        Assert.Contains("renegotiation", summary.Message);
    }

    [Fact]
    public async Task RunAsync_ObserverThrows_ConnectionStillCompletesAndReports()
    {
        await using var harness = ProxyHarness.Start(new HttpTestBackend());
        using var connection = new TlsProxyConnection(await AcceptOneAsync(harness, out var client), harness.Engine,
            _ => harness.Binding, (_, ct) => harness.Backend.ConnectAsync(ct), observer: new ThrowingObserver());
        var run = connection.RunAsync();
        using var tls = await HandshakeAsync(client);
        tls.Stream.Write("GET / HTTP/1.1\r\n\r\n"u8);

        Assert.Contains("hello from the backend", System.Text.Encoding.ASCII.GetString(await Task.Run(tls.ReadToEnd)));
        tls.Dispose();
        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProxyError.None, summary.Error);
    }

    [Fact]
    public async Task Abort_WhileTheRelayRuns_ClientGetsAResetNotAnEnd()
    {
        await using var harness = ProxyHarness.Start(new EchoBackend());
        using var connection = new TlsProxyConnection(await AcceptOneAsync(harness, out var client), harness.Engine,
            _ => harness.Binding, (_, ct) => harness.Backend.ConnectAsync(ct));
        var run = connection.RunAsync();
        using var tls = await HandshakeAsync(client);
        tls.Stream.Write("ping"u8);
        var echoed = new byte[4];
        tls.Stream.ReadExactly(echoed);

        // A kill or a drain's deadline: what the client got must never pass for a whole answer, so no FIN.
        connection.Abort();

        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProxyError.Aborted, summary.Error);
        var e = Assert.ThrowsAny<IOException>(() => tls.Stream.ReadByte());
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
    }

    private static int FreePort() => SslCluster.TestSupport.Ports.Free();

    /// <summary>
    /// A socket pair on 127.0.0.1 for driving one TlsProxyConnection directly: the harness's listener is not used,
    /// its engine and binding are.
    /// </summary>
    private static Task<Socket> AcceptOneAsync(ProxyHarness harness, out Task<Socket> client)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        client = Task.Run(async () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(endPoint);
            return socket;
        });
        GC.KeepAlive(harness);
        return AcceptAndCloseAsync(listener);
    }

    private static async Task<Socket> AcceptAndCloseAsync(Socket listener)
    {
        using (listener)
        {
            return await listener.AcceptAsync();
        }
    }

    private static async Task<BcTestClient> HandshakeAsync(Task<Socket> client) =>
        await BcTestClient.ConnectAsync(await client, ProtocolVersion.TLSv12);

    /// <summary>Sends "part1" once the client spoke, then resets the connection (SO_LINGER 0).</summary>
    private sealed class ResettingBackend : LoopbackServer
    {
        protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
        {
            var buffer = new byte[16];
            await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            await socket.SendAsync("part1"u8.ToArray(), SocketFlags.None, cancellationToken);
            await Task.Delay(100, cancellationToken);
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
    }

    private sealed class ThrowingObserver : IConnectionObserver
    {
        public void HandshakeStarted(long connectionId, EndPoint? client) => throw new InvalidOperationException();

        public void HandshakeCompleted(long connectionId, HandshakeInfo handshake) =>
            throw new InvalidOperationException();

        public void BackendConnected(long connectionId, EndPoint? backend) => throw new InvalidOperationException();

        public void Closed(long connectionId, ConnectionSummary summary) => throw new InvalidOperationException();
    }
}
