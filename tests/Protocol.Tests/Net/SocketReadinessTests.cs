using System.Net;
using System.Net.Sockets;
using SslCluster.OpenSsl;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// The epoll waits a client connection can wait with (<see cref="SocketReadiness"/>, chosen by
/// <c>SSLCLUSTER_SOCKET_WAITS=epoll</c>), on real loopback sockets: each wait ends by bytes, by the peer's end, by its
/// token or by disposal, once, and never by another socket's event.
/// </summary>
public sealed class SocketReadinessTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void Available_OnLinuxX64OrArm64_IsTrue()
    {
        // Where the node runs (its image is linux-x64); the rest of this class would test nothing without it.
        Assert.True(SocketReadiness.Available);
    }

    [Fact]
    public async Task WaitReadableAsync_BytesArriveLater_CompletesThenReadFindsThem()
    {
        using var pair = await WaitingPair.OpenAsync();
        var (server, client, readiness) = (pair.Server, pair.Client, pair.Readiness);

        var wait = readiness.WaitReadableAsync(CancellationToken.None).AsTask();
        await Task.Delay(Quiet);
        Assert.False(wait.IsCompleted);
        await client.SendAsync("abc"u8.ToArray());
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, server.Available);
    }

    [Fact]
    public async Task WaitReadableAsync_BytesAlreadyThere_CompletesWithoutAnotherEvent()
    {
        using var pair = await WaitingPair.OpenAsync();
        var (server, client, readiness) = (pair.Server, pair.Client, pair.Readiness);
        await client.SendAsync("x"u8.ToArray());
        await WaitForBytesAsync(server);

        // Level-triggered: bytes that came before the wait end it, as do the same bytes for the next wait (not yet read).
        await readiness.WaitReadableAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        await readiness.WaitReadableAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task WaitReadableAsync_PeerClosesOrResets_Completes()
    {
        var (server, client) = await PairAsync();
        using var _ = server;
        using var readiness = SocketReadiness.For(server)!;
        var wait = readiness.WaitReadableAsync(CancellationToken.None).AsTask();
        client.Shutdown(SocketShutdown.Send);
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, server.Receive(new byte[1]));

        var (server2, client2) = await PairAsync();
        using var ___ = server2;
        using var readiness2 = SocketReadiness.For(server2)!;
        var wait2 = readiness2.WaitReadableAsync(CancellationToken.None).AsTask();
        client2.LingerState = new LingerOption(true, 0);
        client2.Dispose();
        await wait2.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Throws<SocketException>(() => server2.Receive(new byte[1]));
        client.Dispose();
    }

    [Fact]
    public async Task WaitReadableAsync_TokenCancelled_ThrowsThenTheNextWaitStillWorks()
    {
        using var pair = await WaitingPair.OpenAsync();
        var (server, client, readiness) = (pair.Server, pair.Client, pair.Readiness);
        using var cts = new CancellationTokenSource();

        var wait = readiness.WaitReadableAsync(cts.Token).AsTask();
        await Task.Delay(50);
        await cts.CancelAsync();
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal(cts.Token, e.CancellationToken);

        // The socket is still armed from the cancelled wait: its event ends the next wait, and only that one.
        using var next = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var second = readiness.WaitReadableAsync(next.Token).AsTask();
        await Task.Delay(Quiet);
        Assert.False(second.IsCompleted);
        await client.SendAsync("y"u8.ToArray());
        await second.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task WaitReadableAsync_TokenCancelled_GoesOnOutsideTheCallThatCancelled()
    {
        using var pair = await WaitingPair.OpenAsync();
        await ReadinessWaits.AssertCancelledWaitGoesOnOutsideTheCancelAsync(pair.Readiness.WaitReadableAsync);
    }

    [Fact]
    public async Task WaitReadableAsync_TokenAlreadyCancelled_ReturnsCancelledAtOnce()
    {
        using var pair = await WaitingPair.OpenAsync();
        var (server, client, readiness) = (pair.Server, pair.Client, pair.Readiness);
        var wait = readiness.WaitReadableAsync(new CancellationToken(true));
        Assert.True(wait.IsCanceled);
    }

    [Fact]
    public async Task WaitReadableAsync_SecondWaitWhileOnePending_Throws()
    {
        using var pair = await WaitingPair.OpenAsync();
        var (server, client, readiness) = (pair.Server, pair.Client, pair.Readiness);
        using var cts = new CancellationTokenSource();
        var first = readiness.WaitReadableAsync(cts.Token).AsTask();
        Assert.Throws<InvalidOperationException>(() => readiness.WaitReadableAsync(CancellationToken.None));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
    }

    [Fact]
    public async Task Dispose_WhileWaiting_FailsTheWaitWithObjectDisposed()
    {
        var (server, client) = await PairAsync();
        using var _ = server;
        using var __ = client;
        var readiness = SocketReadiness.For(server)!;
        var wait = readiness.WaitReadableAsync(CancellationToken.None).AsTask();
        readiness.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait);
        Assert.Throws<ObjectDisposedException>(() => readiness.WaitReadableAsync(CancellationToken.None));
    }

    [Fact]
    public async Task WaitReadableAsync_SocketClosedFirst_ThrowsObjectDisposed()
    {
        var (server, client) = await PairAsync();
        using var __ = client;
        using var readiness = SocketReadiness.For(server)!;
        server.Dispose();
        Assert.Throws<ObjectDisposedException>(() => readiness.WaitReadableAsync(CancellationToken.None));
    }

    [Fact]
    public async Task WaitReadableAsync_2000SocketsAndSlotsReused_EachWakesOnlyForItsOwnBytes()
    {
        const int count = 2000;
        using var listener = Listen();
        var pairs = new List<(Socket Server, Socket Client, SocketReadiness Readiness)>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var (server, client) = await PairAsync(listener);
                pairs.Add((server, client, SocketReadiness.For(server)!));
            }

            // Every socket waits; the even ones get a byte and must wake, the odd ones must not.
            using var cts = new CancellationTokenSource();
            var waits = pairs.Select(p => p.Readiness.WaitReadableAsync(cts.Token).AsTask()).ToArray();
            for (var i = 0; i < count; i += 2) await pairs[i].Client.SendAsync(new byte[] { 1 });
            await Task.WhenAll(waits.Where((_, i) => i % 2 == 0)).WaitAsync(TimeSpan.FromSeconds(30));
            await Task.Delay(Quiet);
            Assert.All(waits.Where((_, i) => i % 2 == 1), w => Assert.False(w.IsCompleted));

            // The odd ones are disposed while armed and their slots given to new sockets; a byte to an old socket
            // (still open, still armed) must never wake the new one in its slot.
            for (var i = 1; i < count; i += 2) pairs[i].Readiness.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(() => waits[1]);
            var fresh = new List<(Socket Server, Socket Client, SocketReadiness Readiness)>();
            for (var i = 1; i < count; i += 2)
            {
                var (server, client) = await PairAsync(listener);
                fresh.Add((server, client, SocketReadiness.For(server)!));
            }

            pairs.AddRange(fresh);
            var freshWaits = fresh.Select(p => p.Readiness.WaitReadableAsync(cts.Token).AsTask()).ToArray();
            for (var i = 1; i < count; i += 2) await pairs[i].Client.SendAsync(new byte[] { 2 });
            await Task.Delay(Quiet * 2);
            Assert.All(freshWaits, w => Assert.False(w.IsCompleted));
            foreach (var (_, client, _) in fresh) await client.SendAsync(new byte[] { 3 });
            await Task.WhenAll(freshWaits).WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            foreach (var (server, client, readiness) in pairs)
            {
                readiness.Dispose();
                server.Dispose();
                client.Dispose();
            }
        }
    }

    /// <summary>A connected pair on loopback and the server end's readiness wait, all disposed together.</summary>
    private sealed class WaitingPair : IDisposable
    {
        private WaitingPair(Socket server, Socket client)
        {
            Server = server;
            Client = client;
            Readiness = SocketReadiness.For(server)!;
        }

        public Socket Server { get; }

        public Socket Client { get; }

        public SocketReadiness Readiness { get; }

        public static async Task<WaitingPair> OpenAsync()
        {
            var (server, client) = await PairAsync();
            return new WaitingPair(server, client);
        }

        public void Dispose()
        {
            Readiness.Dispose();
            Server.Dispose();
            Client.Dispose();
        }
    }

    private static Socket Listen() => ReadinessWaits.Listen();

    private static Task<(Socket Server, Socket Client)> PairAsync() => ReadinessWaits.PairAsync();

    private static Task<(Socket Server, Socket Client)> PairAsync(Socket listener) => ReadinessWaits.PairAsync(listener);

    private static Task WaitForBytesAsync(Socket socket) => ReadinessWaits.WaitForBytesAsync(socket);
}
