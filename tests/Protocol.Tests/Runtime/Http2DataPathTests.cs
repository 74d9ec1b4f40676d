using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// Clients that agreed <c>h2</c> by ALPN on an ssl-server with <c>alpn h2 http/1.1</c>, relayed to a real HTTP/2 server
/// (Kestrel, clear text with prior knowledge): a drain tells them GOAWAY, lets every stream they opened finish, then
/// closes them cleanly with their server connections, as an HTTP/2 server does on a graceful shutdown. Real .NET
/// HttpClients (HTTP/2 over TLS) and a hand-driven HTTP/2 client for the frames themselves.
/// </summary>
public sealed class Http2DataPathTests
{
    private const string H2 = "ssl-server 1 idle timeout 0\nssl-server 1 alpn h2 http/1.1";

    private static int s_ids;

    /// <summary>A .NET HttpClient speaking HTTP/2 whose every connection is run through the node, each with its state.</summary>
    private sealed class H2Client : IDisposable
    {
        public H2Client(Node node)
        {
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, _) =>
                {
                    var (test, relay) = await PairAsync();
                    var state = new ConnectionState(Interlocked.Increment(ref s_ids), "m", null, DateTimeOffset.UtcNow);
                    Connections.Enqueue((state, node.RunAsync(relay, state)));
                    return new NetworkStream(test, ownsSocket: true);
                },
                SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            };
            Http = new HttpClient(handler)
            {
                BaseAddress = new Uri("https://vip.test/"),
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Timeout = Bound,
            };
        }

        public HttpClient Http { get; }

        public ConcurrentQueue<(ConnectionState State, Task Run)> Connections { get; } = new();

        public async Task<string> GetAsync(string path)
        {
            using var response = await Http.GetAsync(path);
            response.EnsureSuccessStatusCode();
            Assert.Equal(HttpVersion.Version20, response.Version);
            return await response.Content.ReadAsStringAsync();
        }

        public void Dispose() => Http.Dispose();
    }

    [Fact]
    public async Task GoAway_IdleHttp2Clients_ClosedCleanlyWithTheirServerConnectionsAndTheirNextRequestsGoElsewhere()
    {
        const int Clients = 100;
        await using var server = await Http2Backend.StartAsync();
        using var node = new Node(server.Port, H2);
        var clients = Enumerable.Range(0, Clients).Select(_ => new H2Client(node)).ToList();
        try
        {
            foreach (var (client, i) in clients.Select((c, i) => (c, i)))
            {
                Assert.StartsWith($"/{i} on connection ", await client.GetAsync($"/{i}"), StringComparison.Ordinal);
            }
            Assert.Equal(Clients, server.Opened);

            var drained = System.Diagnostics.Stopwatch.StartNew();
            foreach (var client in clients) client.Connections.Single().State.GoAway();
            foreach (var client in clients) await client.Connections.Single().Run.WaitAsync(Bound);

            Assert.True(drained.Elapsed < TimeSpan.FromSeconds(5), drained.Elapsed.ToString());
            Assert.All(clients, c => Assert.Equal(ProxyError.None, c.Connections.Single().State.Outcome));
            for (var i = 0; i < 200 && server.Closed < Clients; i++) await Task.Delay(25);
            Assert.Equal(Clients, server.Closed);

            // Each client's next request opens a new connection (here through the same node; a real drain refuses it, and
            // the client goes to another node) and is answered.
            foreach (var client in clients)
            {
                Assert.StartsWith("/next on connection ", await client.GetAsync("/next"), StringComparison.Ordinal);
                Assert.Equal(2, client.Connections.Count);
            }
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task GoAway_StreamInFlight_AnsweredWholeNewRequestsGoOverANewConnectionThenTheOldOneCloses()
    {
        await using var server = await Http2Backend.StartAsync();
        using var node = new Node(server.Port, H2);
        using var client = new H2Client(node);
        Assert.StartsWith("/first on connection ", await client.GetAsync("/first"), StringComparison.Ordinal);
        var (state, run) = client.Connections.Single();

        // A response whose second half comes 2 s after its first: the drain starts between the two.
        using var slow = await client.Http.GetAsync("/slow?ms=2000", HttpCompletionOption.ResponseHeadersRead);
        var body = await slow.Content.ReadAsStreamAsync();
        var firstByte = new byte[1];
        await body.ReadExactlyAsync(firstByte).AsTask().WaitAsync(Bound);
        state.GoAway();

        // The client reads the GOAWAY: from then on its requests go over a new connection; those sent before it had read
        // it are served on the old one, which counts them.
        var tries = 0;
        while (client.Connections.Count < 2)
        {
            Assert.True(++tries < 100, "no request went over a new connection after the GOAWAY");
            Assert.StartsWith("/meanwhile on connection ", await client.GetAsync("/meanwhile"), StringComparison.Ordinal);
            if (client.Connections.Count < 2) await Task.Delay(50);
        }
        Assert.False(run.IsCompleted); // its slow stream is still open

        var rest = await new StreamReader(body).ReadToEndAsync().WaitAsync(Bound);
        Assert.Matches("^/slow on connection [^ ]+\n$", (char)firstByte[0] + rest);
        await run.WaitAsync(Bound);
        Assert.Equal(ProxyError.None, state.Outcome);
        Assert.StartsWith("/after on connection ", await client.GetAsync("/after"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("h2")]
    [InlineData(null)] // no ALPN, HTTP/2 with prior knowledge: known by its preface
    public async Task GoAway_IdleHttp2Client_GetsGoAwayAndPingThenAfterItsAnswerAGoAwayNamingItsLastStreamAndCloseNotify(string? alpn)
    {
        // The frames themselves, read by a client driven by hand: RFC 9113 section 6.8's graceful shutdown.
        await using var server = await Http2Backend.StartAsync();
        using var node = new Node(server.Port, H2);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        var (open, reader) = await OpenRawAsync(node, state, alpn);
        await using var _ = open;

        state.GoAway();

        var goAway = await reader.NextAsync(skipSettingsAck: true);
        Assert.Equal((7, 0, 0), (goAway.Type, goAway.Flags, goAway.Stream));
        Assert.Equal(0x7FFF_FFFF, BinaryPrimitives.ReadInt32BigEndian(goAway.Payload));
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(goAway.Payload.AsSpan(4))); // NO_ERROR
        var ping = await reader.NextAsync(skipSettingsAck: true);
        Assert.Equal((6, 0, 0, 8), (ping.Type, ping.Flags, ping.Stream, ping.Payload.Length));
        Assert.False(open.Run.IsCompleted); // the close waits for the answer

        await open.Ssl.WriteAsync(Frame(6, 1, 0, ping.Payload));
        var last = await reader.NextAsync(skipSettingsAck: true);
        Assert.Equal((7, 0), (last.Type, last.Stream));
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(last.Payload)); // it opened no stream
        Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound)); // close_notify
        // What a client still sends then (here a WINDOW_UPDATE) is read and dropped until its own end, which it sends
        // on reading ours: the node's side is closed then, never with those bytes unread (a reset).
        await open.Ssl.WriteAsync(Frame(8, 0, 0, [0, 0, 1, 0]));
        Assert.False(open.Run.IsCompleted);
        open.Test.Shutdown(SocketShutdown.Send);
        await open.Run.WaitAsync(TimeSpan.FromSeconds(3));
        Assert.Equal(ProxyError.None, state.Outcome);
        for (var i = 0; i < 200 && server.Closed < 1; i++) await Task.Delay(25);
        Assert.Equal(1, server.Closed);
    }

    [Fact]
    public async Task GoAway_ClientThatNeverAnswersThePing_LeftOpenAndStillServed()
    {
        // Until its answer, streams the client opened before it read the GOAWAY may still be on their way: the connection
        // is not closed under them (a drain's deadline ends it).
        await using var server = await Http2Backend.StartAsync();
        using var node = new Node(server.Port, H2);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        var (open, reader) = await OpenRawAsync(node, state);
        await using var _ = open;

        state.GoAway();
        Assert.Equal(7, (await reader.NextAsync(skipSettingsAck: true)).Type);
        Assert.Equal(6, (await reader.NextAsync(skipSettingsAck: true)).Type);
        await Task.Delay(DrainRelease.SweepEvery * 10);

        Assert.False(open.Run.IsCompleted);
        // Its own PING is still answered by the server.
        await open.Ssl.WriteAsync(Frame(6, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]));
        var pong = await reader.NextAsync(skipSettingsAck: true);
        Assert.Equal((6, 1), (pong.Type, pong.Flags));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, pong.Payload);
    }

    /// <summary>
    /// A client driven by hand that agreed h2 (or, with no <paramref name="alpn"/>, speaks it with prior knowledge): its preface and empty SETTINGS sent, the server's SETTINGS read and
    /// acknowledged.
    /// </summary>
    private static async Task<(Open Open, FrameReader Reader)> OpenRawAsync(Node node, ConnectionState state, string? alpn = "h2")
    {
        var open = await node.OpenAsync(state, alpn);
        Assert.Equal(alpn ?? "", open.Ssl.NegotiatedApplicationProtocol.ToString());
        await open.Ssl.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        await open.Ssl.WriteAsync(Frame(4, 0, 0, []));
        var reader = new FrameReader(open.Ssl);
        while ((await reader.NextAsync()).Type != 4) { } // the server's SETTINGS
        await open.Ssl.WriteAsync(Frame(4, 1, 0, [])); // acknowledged
        return (open, reader);
    }

    private static byte[] Frame(byte type, byte flags, int stream, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame, 9);
        return frame;
    }

    private sealed class FrameReader(SslStream ssl)
    {
        public async Task<(byte Type, byte Flags, int Stream, byte[] Payload)> NextAsync(bool skipSettingsAck = false)
        {
            while (true)
            {
                var header = new byte[9];
                await ssl.ReadExactlyAsync(header).AsTask().WaitAsync(Bound);
                var payload = new byte[(header[0] << 16) | (header[1] << 8) | header[2]];
                await ssl.ReadExactlyAsync(payload).AsTask().WaitAsync(Bound);
                var frame = (header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFF_FFFF, payload);
                // Kestrel's SETTINGS acknowledgement and WINDOW_UPDATE come when they come.
                if (skipSettingsAck && (frame.Item1 == 8 || (frame.Item1 == 4 && (frame.Item2 & 1) != 0))) continue;
                return frame;
            }
        }
    }
}
