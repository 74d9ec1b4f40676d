using System.Net.Security;
using System.Text;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// An ssl-server with nothing to insert, rewrite or re-use (the CSS's plain SSL termination): a client that agreed
/// <c>http/1.1</c> by ALPN, or that named no protocol and opens with an HTTP/1.x request line, has its flow framed as
/// HTTP, the bytes unchanged, so that a drain closes it between two messages; a client of another protocol is relayed as
/// it is and left alone. Real .NET TLS clients and real servers on loopback.
/// </summary>
public sealed class AlpnHttpDataPathTests
{
    /// <summary>No http-reuse, no header insertion, no URL rewrite: the ssl-server's own lines only.</summary>
    private const string Plain = "ssl-server 1 idle timeout 0";

    private const string Http11 = "http/1.1";

    [Theory]
    [InlineData(Http11)]
    [InlineData(null)] // a client that named no protocol, known as HTTP by its first request line
    public async Task RunAsync_ClientAgreedHttp11OrOpensWithARequestLine_RequestsReachTheServerByteForByteAndAnswersComeBackWhole(string? alpn)
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        // What a framer might be tempted to tidy: a name in lower case, spaces around a value, a name we insert elsewhere,
        // an absolute-form target, a body, and two requests in one write.
        const string First = "POST http://vip.test/form?a=1&b= HTTP/1.1\r\nhost: vip.test\r\nX-Odd:   two  spaces  \r\nSession-Id: client-said\r\nContent-Length: 5\r\n\r\n";
        const string Second = "GET /two HTTP/1.1\r\nHost: vip.test\r\nAccept: */*\r\n\r\n";
        await using var open = await node.OpenAsync(new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), alpn);
        Assert.Equal(alpn ?? "", open.Ssl.NegotiatedApplicationProtocol.ToString());

        await WriteAsync(open.Ssl, First + "hello" + Second);
        var one = await ReadResponseAsync(open.Ssl).WaitAsync(Bound);
        var two = await ReadResponseAsync(open.Ssl).WaitAsync(Bound);

        Assert.Equal([First, Second], server.Requests.ToArray());
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 51\r\n\r\nconnection 1 request 1 http://vip.test/form?a=1&b=\n", one);
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n\r\nconnection 1 request 2 /two\n", two);
    }

    [Theory]
    [InlineData(Http11, "GET /unfinished HTTP/1.1\r\nHost: vip.test\r\n")]
    [InlineData(null, "GET /unfinished HTTP/1.1\r\nHost: vip.test\r\n")] // known as HTTP by its request line
    [InlineData(null, "HELLO not http\r\n")] // relayed as it comes
    public async Task RunAsync_ClientEndsInTheMiddleOfAMessage_TheServerGetsWhatItSentThenTheEnd(string? alpn, string partial)
    {
        // As at layer 4: the bytes of an unfinished request and the client's end both reach the server, which judges them.
        await using var server = new EchoBackend(); // echoes until the end, then ends too
        using var node = new Node(server.EndPoint.Port, Plain);
        await using var open = await node.OpenAsync(new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), alpn);

        await WriteAsync(open.Ssl, partial);
        await open.Ssl.ShutdownAsync().WaitAsync(Bound); // close_notify: the client has finished sending
        var echo = new MemoryStream();
        await open.Ssl.CopyToAsync(echo).WaitAsync(Bound);

        Assert.Equal(partial, Encoding.Latin1.GetString(echo.ToArray()));
        Assert.True(await server.WaitForEofsAsync(1, Bound));
    }

    [Theory]
    [InlineData(Http11, "HELLO not http\r\n", 20_000)] // a line that is not a request line, then binary bytes
    [InlineData(Http11, "\u0000\u0001PING", 0)] // a short message with no line end, whose sender waits for its answer
    [InlineData(null, "<?xml version='1.0'?><stream:stream to='vip.test' xmlns='jabber:client'>", 0)] // XMPP: a word, a space, no line end
    [InlineData(null, "GET /x", 0)] // the start of a request line, and nothing more: not held for the rest
    [InlineData(null, "get / HTTP/1.1\r\nHost: vip.test\r\n\r\n", 0)] // a method in lower case is no HTTP method
    [InlineData(null, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 200)] // HTTP/2 with prior knowledge, then its frames
    [InlineData(null, "HELLO not http\r\n", 20_000)]
    public async Task RunAsync_ClientSpeaksSomethingElse_ItsBytesPassUntouchedAndAtOnce(string? alpn, string start, int more)
    {
        // A client that named http/1.1, or no protocol, and then sent no HTTP: the flow relays bytes as they are, and
        // framing never holds them for a line feed that may not come.
        await using var server = new EchoBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        await using var open = await node.OpenAsync(new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), alpn);
        Assert.Equal(alpn ?? "", open.Ssl.NegotiatedApplicationProtocol.ToString());
        var bytes = new byte[start.Length + more];
        Encoding.Latin1.GetBytes(start).CopyTo(bytes, 0);
        for (var i = start.Length; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);

        await open.Ssl.WriteAsync(bytes).AsTask().WaitAsync(Bound);
        var echo = new byte[bytes.Length];
        await open.Ssl.ReadExactlyAsync(echo).AsTask().WaitAsync(Bound);

        Assert.Equal(bytes, echo);
    }

    [Fact]
    public async Task GoAway_IdleKeepAliveHttpClientsWithAndWithoutAlpn_AllClosedCleanlyWithTheirServerConnections()
    {
        // A drain of the default configuration: before, every keep-alive client held the drain to its deadline and
        // was cut there. Those that agreed http/1.1, and those that named no protocol but opened with an HTTP/1.1
        // request (.NET's HttpClient, wrk), are now closed as idle keep-alive connections are (close_notify).
        const int Clients = 200;
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        var states = new List<ConnectionState>();
        var opens = new List<Open>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var state = new ConnectionState(i + 1, "m", null, DateTimeOffset.UtcNow);
                var open = await node.OpenAsync(state, i % 2 == 0 ? Http11 : null);
                states.Add(state);
                opens.Add(open);
                await WriteAsync(open.Ssl, $"GET /{i} HTTP/1.1\r\nHost: vip.test\r\n\r\n");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", await ReadResponseAsync(open.Ssl).WaitAsync(Bound), StringComparison.Ordinal);
            }

            var drained = System.Diagnostics.Stopwatch.StartNew();
            foreach (var state in states) state.GoAway();

            // close_notify: SslStream reads 0 (a connection cut without it throws).
            foreach (var open in opens)
            {
                Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
                await open.Run.WaitAsync(Bound);
            }
            Assert.True(drained.Elapsed < TimeSpan.FromSeconds(5), drained.Elapsed.ToString());
            Assert.All(states, s => Assert.Equal(ProxyError.None, s.Outcome));
            for (var i = 0; i < 200 && server.ClosedByPeer < Clients; i++) await Task.Delay(25);
            Assert.Equal(Clients, server.ClosedByPeer);
        }
        finally
        {
            foreach (var open in opens) await open.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(Http11)]
    [InlineData(null)]
    public async Task GoAway_ClientSendsItsNextRequestAtOnce_AnsweredWithConnectionCloseThenClosedCleanly(string? alpn)
    {
        // A client that has just had an answer gets half a second to send its next request: that request is its last.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state, alpn);
        await WriteAsync(open.Ssl, "GET /one HTTP/1.1\r\nHost: vip.test\r\n\r\n");
        Assert.DoesNotContain("Connection: close", await ReadResponseAsync(open.Ssl).WaitAsync(Bound), StringComparison.OrdinalIgnoreCase);

        state.GoAway();
        await WriteAsync(open.Ssl, "GET /two HTTP/1.1\r\nHost: vip.test\r\n\r\n");
        var last = await ReadResponseAsync(open.Ssl).WaitAsync(Bound);

        Assert.Contains("\r\nConnection: close\r\n", last, StringComparison.Ordinal);
        Assert.EndsWith("connection 1 request 2 /two\n", last, StringComparison.Ordinal);
        Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound)); // close_notify
        await open.Run.WaitAsync(Bound);
        Assert.Equal(ProxyError.None, state.Outcome);
    }

    [Fact]
    public async Task GoAway_FramingByFirstBytesTurnedOff_AnIdleHttpClientWithoutAlpnIsLeftAloneOneWithItIsClosed()
    {
        // sslcluster.proxy.frame-http-by-first-bytes = off: a client that named no protocol is relayed as it comes, as
        // in HAProxy's mode tcp; one that agreed http/1.1 is framed either way.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Plain, framesHttpByFirstBytes: false);
        var plainState = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        var alpnState = new ConnectionState(2, "m", null, DateTimeOffset.UtcNow);
        await using var plain = await node.OpenAsync(plainState);
        await using var alpn = await node.OpenAsync(alpnState, Http11);
        foreach (var open in new[] { plain, alpn })
        {
            await WriteAsync(open.Ssl, "GET /one HTTP/1.1\r\nHost: vip.test\r\n\r\n");
            await ReadResponseAsync(open.Ssl).WaitAsync(Bound);
        }

        plainState.GoAway();
        alpnState.GoAway();

        Assert.Equal(0, await alpn.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
        await Task.Delay(DrainRelease.SweepEvery * 10);
        Assert.False(plain.Run.IsCompleted);
        await WriteAsync(plain.Ssl, "GET /two HTTP/1.1\r\nHost: vip.test\r\n\r\n");
        Assert.DoesNotContain("Connection: close", await ReadResponseAsync(plain.Ssl).WaitAsync(Bound), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task GoAway_ClientsThatNamedNoProtocolAndAreNotKnownAsHttp_LeftAloneAndStillServed()
    {
        // A client that named no protocol may speak anything: a drain leaves it to end by itself (or at the drain's
        // deadline) when its first bytes were no request line, when its server spoke first (even if the client then
        // sends what looks like a request), and when it has sent nothing yet.
        var banner = "220 mail.vip.test ESMTP\r\n"u8.ToArray();
        await using var echo = new EchoBackend();
        await using var speaksFirst = EchoBackend.WithBanner(banner);
        using var echoNode = new Node(echo.EndPoint.Port, Plain);
        using var bannerNode = new Node(speaksFirst.EndPoint.Port, Plain);
        var otherState = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        var bannerState = new ConnectionState(2, "m", null, DateTimeOffset.UtcNow);
        var silentState = new ConnectionState(3, "m", null, DateTimeOffset.UtcNow);
        await using var other = await echoNode.OpenAsync(otherState);
        await using var banned = await bannerNode.OpenAsync(bannerState);
        await using var silent = await echoNode.OpenAsync(silentState);

        await WriteAsync(other.Ssl, "HELLO not http\r\n");
        Assert.Equal("HELLO not http\r\n", await ReadTextAsync(other.Ssl, 16));
        Assert.Equal(banner, Encoding.Latin1.GetBytes(await ReadTextAsync(banned.Ssl, banner.Length)));
        const string LooksLikeARequest = "GET / HTTP/1.1\r\nHost: vip.test\r\n\r\n";
        await WriteAsync(banned.Ssl, LooksLikeARequest);
        Assert.Equal(LooksLikeARequest, await ReadTextAsync(banned.Ssl, LooksLikeARequest.Length));

        otherState.GoAway();
        bannerState.GoAway();
        silentState.GoAway();
        // Well past the 0.5 s after which an idle HTTP client is closed.
        await Task.Delay(DrainRelease.SweepEvery * 15);

        Assert.False(other.Run.IsCompleted);
        Assert.False(banned.Run.IsCompleted);
        Assert.False(silent.Run.IsCompleted);
        await WriteAsync(other.Ssl, "MORE");
        Assert.Equal("MORE", await ReadTextAsync(other.Ssl, 4));
        await WriteAsync(banned.Ssl, LooksLikeARequest);
        Assert.Equal(LooksLikeARequest, await ReadTextAsync(banned.Ssl, LooksLikeARequest.Length));
        await WriteAsync(silent.Ssl, "late");
        Assert.Equal("late", await ReadTextAsync(silent.Ssl, 4));
    }

    private static async Task<string> ReadTextAsync(SslStream ssl, int length)
    {
        var bytes = new byte[length];
        await ssl.ReadExactlyAsync(bytes).AsTask().WaitAsync(Bound);
        return Encoding.Latin1.GetString(bytes);
    }
}
