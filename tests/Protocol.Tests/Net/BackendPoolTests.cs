using System.Net;
using System.Net.Sockets;
using SslCluster.Protocol.Net;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>The idle back-end connections of http-reuse: handed out only while open and fresh, closed otherwise.</summary>
public sealed class BackendPoolTests : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _serverEnds = [];

    public BackendPoolTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
    }

    private async Task<(BackendLeg Leg, Socket Server, RecordingFlow Flow)> ConnectedAsync()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(_listener.LocalEndPoint!);
        var server = await _listener.AcceptAsync();
        _serverEnds.Add(server);
        var flow = new RecordingFlow();
        return (new BackendLeg(new BackendLink(client, Flow: flow), new TcpFrontEnd(client, RelaySide.Backend)), server, flow);
    }

    private static bool Closed(Socket server) => server.Poll(2_000_000, SelectMode.SelectRead) && server.Available == 0;

    [Fact]
    public async Task TryTake_ReturnedConnection_HandedOutOnceMostRecentFirstAndOnlyForItsKey()
    {
        using var pool = new BackendPool(TimeSpan.FromSeconds(30));
        var (a, _, _) = await ConnectedAsync();
        var (b, _, _) = await ConnectedAsync();
        pool.Return("k", a);
        pool.Return("k", b);

        Assert.Null(pool.TryTake("other"));
        Assert.Same(b, pool.TryTake("k"));
        Assert.Same(a, pool.TryTake("k"));
        Assert.Null(pool.TryTake("k"));
        Assert.Equal(2, pool.Reused);
    }

    [Fact]
    public async Task TryTake_ServerClosedTheIdleConnection_DroppedAndCountedStale()
    {
        using var pool = new BackendPool(TimeSpan.FromSeconds(30));
        var (leg, server, flow) = await ConnectedAsync();
        pool.Return("k", leg);
        server.Shutdown(SocketShutdown.Send);
        await Task.Delay(100);

        Assert.Null(pool.TryTake("k"));
        Assert.Equal(1, pool.Stale);
        Assert.True(flow.EndedCount == 1);
    }

    [Fact]
    public async Task TryTake_ServerSentBytesRightAfterTheReturn_NeverHandedOut()
    {
        using var pool = new BackendPool(TimeSpan.FromSeconds(30));
        var (leg, server, flow) = await ConnectedAsync();
        pool.Return("k", leg);
        // The rest of a body sent for a HEAD, a late 408: bytes nothing asked for, which no next client may read.
        server.Send("HTTP/1.1 408 Request Timeout\r\n\r\n"u8);
        await Task.Delay(50);

        Assert.Null(pool.TryTake("k"));
        Assert.Equal(1, pool.Stale);
        Assert.Equal(1, flow.EndedCount);
    }

    [Fact]
    public async Task TryTake_IdleLongerThanTheReuseTime_ClosedNotHandedOut()
    {
        var time = new ManualTime();
        using var pool = new BackendPool(TimeSpan.FromSeconds(4), time);
        var (leg, server, _) = await ConnectedAsync();
        pool.Return("k", leg);
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Null(pool.TryTake("k"));
        Assert.True(Closed(server));
    }

    [Fact]
    public async Task Return_KeyAlreadyFull_ClosesTheConnection()
    {
        using var pool = new BackendPool(TimeSpan.FromSeconds(30));
        var legs = new List<(BackendLeg Leg, Socket Server, RecordingFlow Flow)>();
        for (var i = 0; i <= BackendPool.MaxIdlePerKey; i++) legs.Add(await ConnectedAsync());
        foreach (var l in legs) pool.Return("k", l.Leg);

        Assert.Equal(BackendPool.MaxIdlePerKey, pool.IdleCount);
        Assert.True(Closed(legs[^1].Server));
    }

    [Fact]
    public async Task Dispose_IdleConnections_AllClosedAndLaterReturnsClosedToo()
    {
        var pool = new BackendPool(TimeSpan.FromSeconds(30));
        var (a, serverA, flowA) = await ConnectedAsync();
        var (b, serverB, _) = await ConnectedAsync();
        pool.Return("k", a);

        pool.Dispose();
        pool.Return("k", b);

        Assert.True(Closed(serverA));
        Assert.True(Closed(serverB));
        Assert.Equal([true], flowA.IdleCalls);
        Assert.Equal(1, flowA.EndedCount);
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public async Task Return_SideHoldsUnreadInput_ClosedNotKept()
    {
        using var pool = new BackendPool(TimeSpan.FromSeconds(30));
        var (plain, server, flow) = await ConnectedAsync();
        // A TLS side with records left inside the engine after the last answer: they belong to no request.
        var leg = new BackendLeg(plain.Link, new PendingInputSide());
        pool.Return("k", leg);

        Assert.Equal(0, pool.IdleCount);
        Assert.Null(pool.TryTake("k"));
        Assert.True(Closed(server));
        Assert.Equal(1, flow.EndedCount);
    }

    [Fact]
    public void RelayOutput_PassedBytesContinueTheReadBuffer_SentFromItWithoutACopy()
    {
        using var output = new RelayOutput();
        var read = "HTTP/1.1 200 OK\r\n\r\nbody"u8.ToArray();

        output.Begin(read);
        output.Pass(read.AsSpan(0, 19));
        output.Pass(read.AsSpan(19, 4));
        Assert.True(output.TakeDirect(out var direct));
        Assert.Equal(read.Length, direct);

        output.Begin(read);
        output.Pass(read.AsSpan(0, 17));
        output.Pass("X: y\r\n"u8);
        output.Pass(read.AsSpan(17));
        Assert.False(output.TakeDirect(out _));
        var copy = new byte[output.Count];
        output.Take(copy, copy.Length);
        Assert.Equal("HTTP/1.1 200 OK\r\nX: y\r\n\r\nbody", System.Text.Encoding.ASCII.GetString(copy));
        Assert.Equal(0, output.Count);
    }

    public void Dispose()
    {
        _serverEnds.ForEach(s => s.Dispose());
        _listener.Dispose();
    }

    private sealed class RecordingFlow : IBackendFlowObserver
    {
        public int EndedCount;
        public List<bool> IdleCalls { get; } = [];

        public void Started()
        {
        }

        public void HandshakeCompleted(SslCluster.Protocol.Tls.BackendHandshakeInfo handshake)
        {
        }

        public void Ended(bool handshakeDone) => EndedCount++;

        public void Idle(bool idle) => IdleCalls.Add(idle);
    }

    private sealed class PendingInputSide : IRelayFrontEnd
    {
        public int MaxWriteChunk => 16384;

        public bool CanWrite => true;

        public bool InputEnded => false;

        public bool HasPendingInput => true;

        public bool InputWaiting => true;

        public long BytesReceived => 0;

        public long BytesSent => 0;

        public ValueTask WaitReadableAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken) => ValueTask.FromResult(FrontEndRead.Ended);

        public ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken) => ValueTask.FromResult(true);

        public ValueTask CloseWriteAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1_000_000;

        public override long GetTimestamp() => _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
