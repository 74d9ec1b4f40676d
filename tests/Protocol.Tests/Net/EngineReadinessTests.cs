using System.Net.Sockets;
using SslCluster.Protocol.Net;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// The waits every TLS side and clear-text side waits with by default (<see cref="EngineReadiness"/>), on real loopback
/// sockets: a wait ends by bytes, by the peer's end or failure, or by its token; a token ends the wait and leaves the
/// socket engine's receive to the next wait, which it ends as soon as bytes come.
/// </summary>
public sealed class EngineReadinessTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task WaitAsync_BytesArriveLater_CompletesThenReadFindsThem()
    {
        using var pair = await WaitingPair.OpenAsync();

        var wait = pair.Readiness.WaitAsync(CancellationToken.None).AsTask();
        await Task.Delay(Quiet);
        Assert.False(wait.IsCompleted);
        await pair.Client.SendAsync("abc"u8.ToArray());
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, SocketIo.ReceiveNow(pair.Server, new byte[16]));
    }

    [Fact]
    public async Task WaitAsync_BytesAlreadyThere_CompletesAtOnce()
    {
        using var pair = await WaitingPair.OpenAsync();
        await pair.Client.SendAsync("x"u8.ToArray());
        await WaitForBytesAsync(pair.Server);

        // The zero-byte receive finds them: no wait is queued, and the same bytes (not read yet) end the next wait too.
        Assert.True(pair.Readiness.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
        Assert.True(pair.Readiness.WaitAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task WaitAsync_TokenCancelled_ThrowsThenTheNextWaitTakesTheSameReceive()
    {
        using var pair = await WaitingPair.OpenAsync();
        using var cts = new CancellationTokenSource();

        var wait = pair.Readiness.WaitAsync(cts.Token).AsTask();
        await Task.Delay(50);
        await cts.CancelAsync();
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal(cts.Token, e.CancellationToken);

        // The receive stays in the engine: the next wait takes it up (a second would be refused by the event-args, in use).
        using var next = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var second = pair.Readiness.WaitAsync(next.Token).AsTask();
        await Task.Delay(Quiet);
        Assert.False(second.IsCompleted);
        await pair.Client.SendAsync("y"u8.ToArray());
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, SocketIo.ReceiveNow(pair.Server, new byte[16]));
    }

    [Fact]
    public async Task WaitAsync_BytesCameWhileNoOneWaited_TheNextWaitEndsAtOnce()
    {
        using var pair = await WaitingPair.OpenAsync();
        using var cts = new CancellationTokenSource();
        var wait = pair.Readiness.WaitAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);

        // The receive ends with nobody waiting on it: kept for the next wait.
        await pair.Client.SendAsync("z"u8.ToArray());
        await WaitForBytesAsync(pair.Server);
        await Task.Delay(50);
        await pair.Readiness.WaitAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, SocketIo.ReceiveNow(pair.Server, new byte[16]));
    }

    [Fact]
    public async Task WaitAsync_TokenCancelled_GoesOnOutsideTheCallThatCancelled()
    {
        using var pair = await WaitingPair.OpenAsync();
        await ReadinessWaits.AssertCancelledWaitGoesOnOutsideTheCancelAsync(ct => pair.Readiness.WaitAsync(ct));
    }

    [Fact]
    public async Task WaitAsync_TokenAlreadyCancelled_ReturnsCancelledAtOnce()
    {
        using var pair = await WaitingPair.OpenAsync();
        Assert.True(pair.Readiness.WaitAsync(new CancellationToken(true)).IsCanceled);
    }

    [Fact]
    public async Task WaitAsync_SecondWaitWhileOnePending_Throws()
    {
        using var pair = await WaitingPair.OpenAsync();
        using var cts = new CancellationTokenSource();
        var first = pair.Readiness.WaitAsync(cts.Token).AsTask();
        Assert.Throws<InvalidOperationException>(() => pair.Readiness.WaitAsync(CancellationToken.None));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
    }

    [Fact]
    public async Task WaitAsync_PeerCloses_CompletesAndTheReadSeesTheEnd()
    {
        using var pair = await WaitingPair.OpenAsync();
        var wait = pair.Readiness.WaitAsync(CancellationToken.None).AsTask();
        pair.Client.Shutdown(SocketShutdown.Send);
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, SocketIo.ReceiveNow(pair.Server, new byte[16]));
    }

    [Fact]
    public async Task WaitAsync_PeerResets_CompletesAndTheReadReportsTheReset()
    {
        using var pair = await WaitingPair.OpenAsync();
        var wait = pair.Readiness.WaitAsync(CancellationToken.None).AsTask();
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Dispose();
        // The zero-byte receive ends without taking the error: the read that follows reports it, as the relay's reads do.
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        var e = Assert.Throws<SocketException>(() => SocketIo.ReceiveNow(pair.Server, new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Fact]
    public async Task WaitAsync_SocketClosedWhileWaiting_FailsWithOperationAbortedOrTheSidesReset()
    {
        using (var pair = await WaitingPair.OpenAsync())
        {
            var wait = pair.Readiness.WaitAsync(CancellationToken.None).AsTask();
            await Task.Delay(50);
            pair.Server.Dispose();
            var e = await Assert.ThrowsAsync<SocketException>(() => wait.WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(SocketError.OperationAborted, e.SocketErrorCode);
            Assert.Throws<ObjectDisposedException>(() => pair.Readiness.WaitAsync(CancellationToken.None));
        }

        // The relay's waits: the side's reset, as the relay reports a failed receive.
        using (var pair = await WaitingPair.OpenAsync(RelaySide.Backend))
        {
            var wait = pair.Readiness.WaitAsync(CancellationToken.None, asRelayError: true).AsTask();
            await Task.Delay(50);
            pair.Server.Dispose();
            var e = await Assert.ThrowsAsync<RelayException>(() => wait.WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(ProxyError.BackendReset, e.Error);
            Assert.Contains("receive failed: OperationAborted", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task BeforeClose_ReceiveLeftByACancelledWait_TheCloseIsAFinNotAReset()
    {
        // The runtime resets a socket closed under a receive in its engine unless its send side was shut: after the
        // idle release (a wait ended by its token), a flow's end must still be a clean FIN for the peer.
        using var pair = await WaitingPair.OpenAsync();
        using var cts = new CancellationTokenSource();
        var wait = pair.Readiness.WaitAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);

        pair.Readiness.BeforeClose();
        pair.Server.Dispose();
        pair.Client.ReceiveTimeout = 5000;
        Assert.Equal(0, pair.Client.Receive(new byte[16]));
    }

    [Fact]
    public async Task BeforeClose_ResetAsked_TheCloseStaysAReset()
    {
        using var pair = await WaitingPair.OpenAsync();
        using var cts = new CancellationTokenSource();
        var wait = pair.Readiness.WaitAsync(cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);

        // A flow whose answer was cut asks for a reset (SocketIo.ResetOnClose): no FIN may go before it.
        SocketIo.ResetOnClose(pair.Server);
        pair.Readiness.BeforeClose();
        pair.Server.Dispose();
        pair.Client.ReceiveTimeout = 5000;
        var e = Assert.Throws<SocketException>(() => pair.Client.Receive(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Fact]
    public async Task WaitAsync_BytesComeAsTheNextWaitBegins_NoWaitIsLost()
    {
        // The release's race, many times over: a wait is cancelled, then bytes come while the next wait begins on the
        // receive it left. Every one of those waits must end (a receive that ended between two steps of the wait's
        // start must not be dropped).
        using var pair = await WaitingPair.OpenAsync();
        var one = new byte[1];
        var buffer = new byte[16];
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        for (var i = 0; i < 3000 && DateTime.UtcNow < until; i++)
        {
            using (var release = new CancellationTokenSource())
            {
                var wait = pair.Readiness.WaitAsync(release.Token).AsTask();
                await release.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
            }

            var send = Task.Run(() => pair.Client.Send(one));
            await pair.Readiness.WaitAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            await send;
            // The byte may still be on its way when a stale readiness ended the wait: read until it is here.
            while (SocketIo.ReceiveNow(pair.Server, buffer) < 0) await pair.Readiness.WaitAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task WaitAsync_2000IdleSocketsEachCancelledThenWokenByItsOwnBytes_EveryWaitEndsOnce()
    {
        // The idle release at scale: every socket's wait is cancelled, its receive left in the engine; bytes to half of
        // them wake exactly those at their next wait, and the others stay asleep.
        const int count = 2000;
        using var listener = Listen();
        var pairs = new List<WaitingPair>();
        try
        {
            for (var i = 0; i < count; i++) pairs.Add(await WaitingPair.OpenAsync(listener));
            using (var release = new CancellationTokenSource())
            {
                var waits = pairs.Select(p => p.Readiness.WaitAsync(release.Token).AsTask()).ToArray();
                await release.CancelAsync();
                foreach (var wait in waits) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var next = pairs.Select(p => p.Readiness.WaitAsync(cts.Token).AsTask()).ToArray();
            for (var i = 0; i < count; i += 2) await pairs[i].Client.SendAsync(new byte[] { 1 });
            await Task.WhenAll(next.Where((_, i) => i % 2 == 0)).WaitAsync(TimeSpan.FromSeconds(30));
            await Task.Delay(Quiet);
            Assert.All(next.Where((_, i) => i % 2 == 1), w => Assert.False(w.IsCompleted));
            for (var i = 0; i < count; i += 2) Assert.Equal(1, SocketIo.ReceiveNow(pairs[i].Server, new byte[4]));
            await cts.CancelAsync();
        }
        finally
        {
            foreach (var pair in pairs) pair.Dispose();
        }
    }

    /// <summary>A connected pair on loopback and the server end's wait, all disposed together.</summary>
    private sealed class WaitingPair : IDisposable
    {
        private WaitingPair(Socket server, Socket client, RelaySide side)
        {
            Server = server;
            Client = client;
            Readiness = new EngineReadiness(server, side);
        }

        public Socket Server { get; }

        public Socket Client { get; }

        public EngineReadiness Readiness { get; }

        public static async Task<WaitingPair> OpenAsync(RelaySide side = RelaySide.Client)
        {
            var (server, client) = await ReadinessWaits.PairAsync();
            return new WaitingPair(server, client, side);
        }

        public static async Task<WaitingPair> OpenAsync(Socket listener)
        {
            var (server, client) = await ReadinessWaits.PairAsync(listener);
            return new WaitingPair(server, client, RelaySide.Client);
        }

        public void Dispose()
        {
            Server.Dispose();
            Client.Dispose();
            Readiness.Dispose();
        }
    }

    private static Socket Listen() => ReadinessWaits.Listen();

    private static Task WaitForBytesAsync(Socket socket) => ReadinessWaits.WaitForBytesAsync(socket);
}
