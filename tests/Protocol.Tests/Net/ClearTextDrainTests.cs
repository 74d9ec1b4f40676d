using System.Net;
using System.Net.Sockets;
using System.Text;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>
/// A drain of a clear-text relay with header insertion (an SSLM client service), or with framing only (a content rule's
/// relay, an SSLM client service without insertion: the flow judged by its first bytes): a real keep-alive HTTP client
/// socket on loopback, a real keep-alive HTTP server behind that records the request heads it receives.
/// </summary>
public sealed class ClearTextDrainTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    /// <summary>An SSLM client service's header insertion, or (as a content rule's relay has) the flow judged by its first bytes.</summary>
    private static IRelayTransform Exchange(bool insertion = true) =>
        insertion ? new HttpExchange(null, false, RequestHeaderInsertion.Create([new("X-Offload", "sslcluster")])) : new FirstBytesFlow();

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(1, false)]
    [InlineData(2, false)]
    public async Task GoAway_ClearTextClientIdleBetweenRequests_GetsAFinAndItsServerConnectionIsClosed(int goAways, bool insertion)
    {
        await using var server = new KeepAliveHttpBackend();
        using var relayed = await Relayed.StartAsync(server, exchange: Exchange(insertion));
        var first = await relayed.AskAsync("/a");

        for (var i = 0; i < goAways; i++) relayed.Relay.GoAway();

        Assert.Equal(0, await ReceiveAsync(relayed.Client, new byte[16]));
        var summary = await relayed.Run.WaitAsync(Bound);
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(DrainRelease.ClosedBetweenRequests, summary.Message);
        Assert.EndsWith("connection 1 request 1 /a\n", first, StringComparison.Ordinal);
        Assert.Equal(insertion, Assert.Single(server.Requests).Contains("\r\nX-Offload: sslcluster\r\n", StringComparison.Ordinal));
        for (var i = 0; i < 200 && server.ClosedByPeer == 0; i++) await Task.Delay(25);
        Assert.Equal(1, server.ClosedByPeer);
    }

    [Theory]
    [InlineData(false, "HELLO not http\r\n")] // a client of another protocol
    [InlineData(true, "GET / HTTP/1.1\r\nHost: vip.test\r\n\r\n")] // a server that speaks first (SMTP, FTP, POP3)
    public async Task GoAway_ClearTextFlowNotKnownAsHttp_LeftAloneAndStillRelayed(bool serverSpeaksFirst, string message)
    {
        var banner = "220 ftp.vip.test ready\r\n"u8.ToArray();
        await using var server = serverSpeaksFirst ? EchoBackend.WithBanner(banner) : new EchoBackend();
        using var relayed = await Relayed.StartAsync(server, exchange: Exchange(insertion: false));
        if (serverSpeaksFirst) Assert.Equal(banner, await ReceiveExactlyAsync(relayed.Client, banner.Length));
        await SendAsync(relayed.Client, message);
        Assert.Equal(message, Encoding.ASCII.GetString(await ReceiveExactlyAsync(relayed.Client, message.Length)));

        relayed.Relay.GoAway();
        // Well past the 0.5 s after which an idle HTTP client is closed.
        await Task.Delay(DrainRelease.SweepEvery * 15);

        Assert.False(relayed.Run.IsCompleted);
        await SendAsync(relayed.Client, message);
        Assert.Equal(message, Encoding.ASCII.GetString(await ReceiveExactlyAsync(relayed.Client, message.Length)));
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int length)
    {
        var bytes = new byte[length];
        for (var read = 0; read < length;)
        {
            var n = await ReceiveAsync(socket, bytes.AsMemory(read));
            if (n == 0) throw new IOException("closed after " + read + " bytes");
            read += n;
        }
        return bytes;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task GoAway_ClearTextClientInTheMiddleOfItsNextRequest_ThatAnswerSaysCloseThenTheClientGetsAFin(bool insertion)
    {
        await using var server = new KeepAliveHttpBackend();
        using var relayed = await Relayed.StartAsync(server, exchange: Exchange(insertion));
        await relayed.AskAsync("/a");

        // Half a head sent: the client is not between two messages, whatever the machine's pauses.
        await SendAsync(relayed.Client, "GET /b HTTP/1.1\r\nHo");
        await Task.Delay(50);
        relayed.Relay.GoAway();
        await SendAsync(relayed.Client, "st: vip.test\r\n\r\n");
        var second = await ReadResponseAsync(relayed.Client);

        Assert.Equal(0, await ReceiveAsync(relayed.Client, new byte[16]));
        Assert.Equal(ProxyError.None, (await relayed.Run.WaitAsync(Bound)).Error);
        Assert.Contains("\r\nConnection: close\r\n\r\n", second, StringComparison.Ordinal);
        Assert.EndsWith("connection 1 request 2 /b\n", second, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GoAway_BeforeTheRelayStartsAndTheClientSendsNothing_ClosedOnceIdleWithoutARequestReachingTheServer()
    {
        // The drain reaches the relay before its loops run (its release is registered after the drain began).
        await using var server = new KeepAliveHttpBackend();
        using var relayed = await Relayed.StartAsync(server, goAwayFirst: true);

        Assert.Equal(0, await ReceiveAsync(relayed.Client, new byte[16]));
        var summary = await relayed.Run.WaitAsync(Bound);
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(DrainRelease.ClosedBeforeFirstRequest, summary.Message);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task GoAway_BeforeTheRelayStartsAndAClientJudgedByItsFirstBytesSendsNothing_LeftAloneThenItsFirstRequestIsItsLast()
    {
        // Not known to speak HTTP before its first bytes: a drain does not close it for being silent.
        await using var server = new KeepAliveHttpBackend();
        using var relayed = await Relayed.StartAsync(server, goAwayFirst: true, exchange: Exchange(insertion: false));
        await Task.Delay(DrainRelease.SweepEvery * 15);
        Assert.False(relayed.Run.IsCompleted);

        var first = await relayed.AskAsync("/late");

        Assert.Contains("\r\nConnection: close\r\n\r\n", first, StringComparison.Ordinal);
        Assert.Equal(0, await ReceiveAsync(relayed.Client, new byte[16]));
        Assert.Equal(ProxyError.None, (await relayed.Run.WaitAsync(Bound)).Error);
    }

    [Fact]
    public async Task RunAsync_ClientOfAnotherProtocolFinishesSending_TheServerSeesTheEndAndItsAnswerStillComes()
    {
        // Half-close through a relay that judged the flow not HTTP: as at layer 4.
        await using var server = EchoBackend.ReplyAfterEof();
        using var relayed = await Relayed.StartAsync(server, exchange: Exchange(insertion: false));
        const string Message = "\u0016\u0003\u0001 not a request line";
        await SendAsync(relayed.Client, Message);
        relayed.Client.Shutdown(SocketShutdown.Send);

        Assert.Equal(Message, Encoding.ASCII.GetString(await ReceiveExactlyAsync(relayed.Client, Message.Length)));
        Assert.Equal(0, await ReceiveAsync(relayed.Client, new byte[16]));
        var summary = await relayed.Run.WaitAsync(Bound);
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(1, server.EofsSeen);
    }

    [Fact]
    public async Task GoAway_ClearTextHttp2ClientWithPriorKnowledge_GoAwayItsStreamFinishesThenItIsClosed()
    {
        // gRPC and other HTTP/2 clients in clear text open with HTTP/2's preface: judged by it, the flow is read as HTTP/2,
        // and a drain ends it as an HTTP/2 server would (GOAWAY, its streams done, then the close). .NET's HttpClient
        // speaking HTTP/2 with prior knowledge over http://, a real HTTP/2 server (Kestrel) behind the relay.
        await using var server = await Http2Backend.StartAsync();
        var relays = new System.Collections.Concurrent.ConcurrentQueue<(TcpRelay Relay, Task<ConnectionSummary> Run)>();
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                listener.Listen(1);
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, ct);
                var accepted = await listener.AcceptAsync(ct);
                var relay = new TcpRelay(accepted, async dial =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port), dial);
                    return new BackendLink(socket);
                }, null, null, Exchange(insertion: false));
                relays.Enqueue((relay, relay.RunAsync()));
                return new NetworkStream(client, ownsSocket: true);
            },
        })
        {
            BaseAddress = new Uri("http://vip.test/"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Bound,
        };
        Assert.StartsWith("/a on connection ", await http.GetStringAsync("/a"), StringComparison.Ordinal);
        var (relay, run) = Assert.Single(relays);
        using var slow = await http.GetAsync("/slow?ms=1500", HttpCompletionOption.ResponseHeadersRead);
        var body = await slow.Content.ReadAsStreamAsync();
        var firstByte = new byte[1];
        await body.ReadExactlyAsync(firstByte).AsTask().WaitAsync(Bound);

        relay.GoAway();
        for (var tries = 0; relays.Count < 2; tries++)
        {
            Assert.True(tries < 100, "no request went over a new connection after the GOAWAY");
            Assert.StartsWith("/meanwhile on connection ", await http.GetStringAsync("/meanwhile"), StringComparison.Ordinal);
            if (relays.Count < 2) await Task.Delay(50);
        }
        var rest = await new StreamReader(body).ReadToEndAsync().WaitAsync(Bound);

        Assert.Matches("^/slow on connection [^ ]+\n$", (char)firstByte[0] + rest);
        var summary = await run.WaitAsync(Bound);
        Assert.Equal(ProxyError.None, summary.Error);
        // .NET's client closes a connection itself once its last stream after a GOAWAY is done; else the node closes it.
        Assert.Contains(summary.Message, new[] { Http2Exchange.ClosedAfterStreams, "closed normally" });
        foreach (var (other, _) in relays) other.Dispose();
    }

    /// <summary>A clear-text client on loopback, the relay (header insertion) of its connection to the server, and the relay's run.</summary>
    private sealed record Relayed(Socket Client, TcpRelay Relay, Task<ConnectionSummary> Run) : IDisposable
    {
        public static async Task<Relayed> StartAsync(LoopbackServer server, bool goAwayFirst = false, IRelayTransform? exchange = null)
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync((IPEndPoint)listener.LocalEndPoint!);
            var accepted = await listener.AcceptAsync();
            var relay = new TcpRelay(accepted, async ct => new BackendLink(await server.ConnectAsync(ct)), null, null, exchange ?? Exchange());
            if (goAwayFirst) relay.GoAway();
            return new Relayed(client, relay, relay.RunAsync());
        }

        /// <summary>Sends a keep-alive GET for <paramref name="path"/> and reads its answer.</summary>
        public async Task<string> AskAsync(string path)
        {
            await SendAsync(Client, $"GET {path} HTTP/1.1\r\nHost: vip.test\r\n\r\n");
            return await ReadResponseAsync(Client);
        }

        public void Dispose()
        {
            Relay.Dispose();
            Client.Dispose();
        }
    }

    private static Task<int> ReceiveAsync(Socket socket, Memory<byte> buffer) =>
        socket.ReceiveAsync(buffer, SocketFlags.None, CancellationToken.None).AsTask().WaitAsync(Bound);

    private static Task SendAsync(Socket socket, string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Reads one response with a Content-Length body off a keep-alive connection.</summary>
    private static async Task<string> ReadResponseAsync(Socket socket)
    {
        var text = new StringBuilder();
        var one = new byte[1];
        while (!text.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await ReceiveAsync(socket, one) == 0) throw new IOException("closed before the head ended: " + text);
            text.Append((char)one[0]);
        }
        var length = int.Parse(text.ToString().Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.Ordinal))[15..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        return text + Encoding.ASCII.GetString(await ReceiveExactlyAsync(socket, length));
    }
}
