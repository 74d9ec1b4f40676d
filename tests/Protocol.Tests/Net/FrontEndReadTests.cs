using System.Net;
using System.Net.Sockets;
using SslCluster.Protocol.Net;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// How a clear-text side waits and reads: a back end whose last read filled its buffer is read at once (a response in
/// full flow, one recvfrom per read); every other wait is a zero-byte wait that holds no buffer. Real sockets on loopback.
/// </summary>
public sealed class FrontEndReadTests : IDisposable
{
    private const int Chunk = 16 * 1024 - 256;
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _sockets = [];

    public FrontEndReadTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(8);
    }

    private async Task<(Socket Ours, Socket Peer)> ConnectedAsync()
    {
        var ours = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await ours.ConnectAsync(_listener.LocalEndPoint!);
        var peer = await _listener.AcceptAsync();
        _sockets.Add(ours);
        _sockets.Add(peer);
        return (ours, peer);
    }

    private static byte[] Pattern(int length)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++) data[i] = (byte)(i * 7 + i / 251);
        return data;
    }

    /// <summary>Sends everything, then waits until the kernel holds it all on our side (one read then fills its buffer).</summary>
    private static async Task SendAndSettleAsync(Socket peer, Socket ours, byte[] data)
    {
        await peer.SendAsync(data, SocketFlags.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (ours.Available < data.Length && DateTime.UtcNow < deadline) await Task.Delay(5);
    }

    [Fact]
    public async Task ReadAsync_BackendReadFillsItsBuffer_NextWaitReturnsAtOnceAndEveryByteArrivesInOrder()
    {
        var (ours, peer) = await ConnectedAsync();
        var side = new TcpFrontEnd(ours, RelaySide.Backend);
        var sent = Pattern(3 * Chunk + 100);
        await SendAndSettleAsync(peer, ours, sent);
        peer.Shutdown(SocketShutdown.Send);

        var received = new List<byte>();
        var buffer = new byte[SocketIo.BufferSize];
        var waitsAfterFullReads = new List<bool>();
        bool lastFull = false;
        while (true)
        {
            var wait = side.WaitReadableAsync(CancellationToken.None);
            if (lastFull) waitsAfterFullReads.Add(wait.IsCompleted);
            await wait;
            var read = await side.ReadAsync(buffer, Chunk, CancellationToken.None);
            if (read.End) break;
            received.AddRange(buffer.AsSpan(0, read.Count).ToArray());
            lastFull = read.Count == Chunk;
        }

        Assert.Equal(sent, received.ToArray());
        Assert.Equal([true, true, true], waitsAfterFullReads);
        Assert.True(side.InputEnded);
    }

    /// <summary>
    /// Whether a wait went to the socket, told apart without timing: a socket wait observes a cancelled token, the
    /// shortcut after a full read does not. (A zero-byte wait may also end early on a stale readiness event of the socket
    /// engine, so "still pending after a while" would not be a sound test.)
    /// </summary>
    private static async Task<bool> WentToTheSocketAsync(TcpFrontEnd side)
    {
        try
        {
            await side.WaitReadableAsync(new CancellationToken(canceled: true));
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    [Fact]
    public async Task WaitReadableAsync_BackendAfterAShortRead_WaitsForTheSocket()
    {
        var (ours, peer) = await ConnectedAsync();
        var side = new TcpFrontEnd(ours, RelaySide.Backend);
        await peer.SendAsync(Pattern(100), SocketFlags.None);
        await side.WaitReadableAsync(CancellationToken.None);
        var buffer = new byte[SocketIo.BufferSize];
        Assert.Equal(100, (await side.ReadAsync(buffer, Chunk, CancellationToken.None)).Count);

        Assert.True(await WentToTheSocketAsync(side));

        await peer.SendAsync(Pattern(10), SocketFlags.None);
        await side.WaitReadableAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(10, (await side.ReadAsync(buffer, Chunk, CancellationToken.None)).Count);
    }

    /// <summary>
    /// After a read that filled its buffer, a back end's wait returns at once (its response is in full flow); a client's
    /// still goes to the socket: an idle keep-alive client is released from that wait, which holds no buffer.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task WaitReadableAsync_AfterAReadThatFilledItsBuffer_OnlyAClientWaitsForTheSocket(bool backend, bool expectSocketWait)
    {
        var (ours, peer) = await ConnectedAsync();
        var side = new TcpFrontEnd(ours, backend ? RelaySide.Backend : RelaySide.Client);
        await SendAndSettleAsync(peer, ours, Pattern(Chunk));
        await side.WaitReadableAsync(CancellationToken.None);
        var buffer = new byte[SocketIo.BufferSize];
        Assert.Equal(Chunk, (await side.ReadAsync(buffer, Chunk, CancellationToken.None)).Count);

        Assert.Equal(expectSocketWait, await WentToTheSocketAsync(side));
    }

    [Fact]
    public async Task ReadAsync_BackendFullReadThenSilence_NothingReadAndTheNextWaitIsAtTheSocketAndLosesNoByte()
    {
        var (ours, peer) = await ConnectedAsync();
        var side = new TcpFrontEnd(ours, RelaySide.Backend);
        await SendAndSettleAsync(peer, ours, Pattern(Chunk));
        var buffer = new byte[SocketIo.BufferSize];
        await side.WaitReadableAsync(CancellationToken.None);
        Assert.Equal(Chunk, (await side.ReadAsync(buffer, Chunk, CancellationToken.None)).Count);

        // The full read's guess that more waits is wrong: the read finds nothing and says so (no bytes, not the end)
        // instead of waiting at the socket, and the next wait is a real one, which the relay's backendWait can stop.
        var guess = side.WaitReadableAsync(CancellationToken.None);
        Assert.True(guess.IsCompleted);
        Assert.Equal(new FrontEndRead(0, false), await side.ReadAsync(buffer, Chunk, CancellationToken.None));
        using var stop = new CancellationTokenSource();
        Task wait;
        var stale = 0;
        while (true)
        {
            wait = side.WaitReadableAsync(stop.Token).AsTask();
            await Task.Delay(100);
            if (!wait.IsCompleted) break;
            // The socket engine may still hold an edge for one of the chunk's segments (a stale wake): nothing to read.
            Assert.InRange(++stale, 1, 10);
            Assert.Equal(new FrontEndRead(0, false), await side.ReadAsync(buffer, Chunk, CancellationToken.None));
        }

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);

        var next = Pattern(500);
        await peer.SendAsync(next, SocketFlags.None);
        await side.WaitReadableAsync(CancellationToken.None);
        var read = await side.ReadAsync(buffer, Chunk, CancellationToken.None);
        Assert.Equal(next, buffer.AsSpan(0, read.Count).ToArray());
    }

    [Fact]
    public async Task ReadAsync_ClientWaitWokeWithNothingThere_NoBytesAndNotTheEnd()
    {
        // A wait whose readiness went stale (an edge for bytes an earlier receive took): the read must not sit in a
        // receive, where an idle client's relay could not be released; the caller waits again.
        var (ours, peer) = await ConnectedAsync();
        var side = new TcpFrontEnd(ours, RelaySide.Client);
        var buffer = new byte[SocketIo.BufferSize];

        Assert.Equal(new FrontEndRead(0, false), await side.ReadAsync(buffer, Chunk, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(side.InputEnded);
        await peer.SendAsync(Pattern(10), SocketFlags.None);
        await side.WaitReadableAsync(CancellationToken.None);
        Assert.Equal(10, (await side.ReadAsync(buffer, Chunk, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task ReceiveNow_NothingThenBytesThenFin_ReturnsMinusOneThenTheBytesThenZeroWithoutWaiting()
    {
        var (ours, peer) = await ConnectedAsync();
        Assert.True(SocketIo.TryMakeNonBlocking(ours));
        var buffer = new byte[SocketIo.BufferSize];

        Assert.Equal(-1, SocketIo.ReceiveNow(ours, buffer));

        var sent = Pattern(1000);
        await SendAndSettleAsync(peer, ours, sent);
        Assert.Equal(sent.Length, SocketIo.ReceiveNow(ours, buffer));
        Assert.Equal(sent, buffer.AsSpan(0, sent.Length).ToArray());

        peer.Shutdown(SocketShutdown.Send);
        await WaitUntilAsync(() => ours.Poll(0, SelectMode.SelectRead));
        Assert.Equal(0, SocketIo.ReceiveNow(ours, buffer));
    }

    [Fact]
    public async Task ReceiveNow_PeerReset_ThrowsTheReset()
    {
        var (ours, peer) = await ConnectedAsync();
        Assert.True(SocketIo.TryMakeNonBlocking(ours));
        peer.LingerState = new LingerOption(true, 0);
        peer.Close();
        await WaitUntilAsync(() => ours.Poll(0, SelectMode.SelectRead));

        var e = Assert.Throws<SocketException>(() => SocketIo.ReceiveNow(ours, new byte[64]));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.True(condition());
    }

    public void Dispose()
    {
        foreach (var s in _sockets) s.Dispose();
        _listener.Dispose();
    }
}
