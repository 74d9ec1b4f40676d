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
/// <c>http/1.1</c> by ALPN has its flow framed as HTTP, the bytes unchanged, so that a drain closes it between two
/// messages; a client without ALPN stays a layer-4 flow. Real .NET TLS clients and a real keep-alive server on loopback.
/// </summary>
public sealed class AlpnHttpDataPathTests
{
    /// <summary>No http-reuse, no header insertion, no URL rewrite: the ssl-server's own lines only.</summary>
    private const string Plain = "ssl-server 1 idle timeout 0";

    private const string Http11 = "http/1.1";

    [Fact]
    public async Task RunAsync_ClientAgreedHttp11_RequestsReachTheServerByteForByteAndAnswersComeBackWhole()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        // What a framer might be tempted to tidy: a name in lower case, spaces around a value, a name we insert elsewhere,
        // an absolute-form target, a body, and two requests in one write.
        const string First = "POST http://vip.test/form?a=1&b= HTTP/1.1\r\nhost: vip.test\r\nX-Odd:   two  spaces  \r\nSession-Id: client-said\r\nContent-Length: 5\r\n\r\n";
        const string Second = "GET /two HTTP/1.1\r\nHost: vip.test\r\nAccept: */*\r\n\r\n";
        await using var open = await node.OpenAsync(new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), Http11);
        Assert.Equal(Http11, open.Ssl.NegotiatedApplicationProtocol.ToString());

        await WriteAsync(open.Ssl, First + "hello" + Second);
        var one = await ReadResponseAsync(open.Ssl).WaitAsync(Bound);
        var two = await ReadResponseAsync(open.Ssl).WaitAsync(Bound);

        Assert.Equal([First, Second], server.Requests.ToArray());
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 51\r\n\r\nconnection 1 request 1 http://vip.test/form?a=1&b=\n", one);
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n\r\nconnection 1 request 2 /two\n", two);
    }

    [Theory]
    [InlineData("HELLO not http\r\n", 20_000)] // a line that is not a request line, then binary bytes
    [InlineData("\u0000\u0001PING", 6)] // a short message with no line end, whose sender waits for its answer
    public async Task RunAsync_ClientAgreedHttp11ButSpeaksSomethingElse_ItsBytesPassUntouchedAndAtOnce(string start, int length)
    {
        // A client that named http/1.1 and then sent no HTTP: the flow falls back to relaying bytes as they are, and
        // framing never holds them for a line feed that may not come.
        await using var server = new EchoBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        await using var open = await node.OpenAsync(new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), Http11);
        var bytes = new byte[length];
        Encoding.Latin1.GetBytes(start).CopyTo(bytes, 0);
        for (var i = start.Length; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);

        await open.Ssl.WriteAsync(bytes).AsTask().WaitAsync(Bound);
        var echo = new byte[bytes.Length];
        await open.Ssl.ReadExactlyAsync(echo).AsTask().WaitAsync(Bound);

        Assert.Equal(bytes, echo);
    }

    [Fact]
    public async Task RunAsync_ClientAgreedHttp11AndEndsInTheMiddleOfAHead_TheServerGetsWhatItSentThenTheEnd()
    {
        // As at layer 4: the bytes of an unfinished request and the client's end both reach the server, which judges them.
        await using var server = new EchoBackend(); // echoes until the end, then ends too
        using var node = new Node(server.EndPoint.Port, Plain);
        await using var open = await node.OpenAsync(new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), Http11);
        const string Partial = "GET /unfinished HTTP/1.1\r\nHost: vip.test\r\n";

        await WriteAsync(open.Ssl, Partial);
        await open.Ssl.ShutdownAsync().WaitAsync(Bound); // close_notify: the client has finished sending
        var echo = new MemoryStream();
        await open.Ssl.CopyToAsync(echo).WaitAsync(Bound);

        Assert.Equal(Partial, Encoding.Latin1.GetString(echo.ToArray()));
        Assert.True(await server.WaitForEofsAsync(1, Bound));
    }

    [Fact]
    public async Task GoAway_IdleKeepAliveClientsThatAgreedHttp11_ClosedCleanlyWhileAClientWithoutAlpnIsLeftAlone()
    {
        // A drain of the default configuration: before, every keep-alive client held the drain to its deadline and
        // was cut there. Those that agreed http/1.1 are now closed as idle keep-alive connections (close_notify); a
        // client that named no protocol may speak anything, so its flow is still left to end by itself.
        const int Clients = 100;
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Plain);
        var states = new List<ConnectionState>();
        var opens = new List<Open>();
        var layer4State = new ConnectionState(Clients + 1, "m", null, DateTimeOffset.UtcNow);
        await using var layer4 = await node.OpenAsync(layer4State);
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var state = new ConnectionState(i + 1, "m", null, DateTimeOffset.UtcNow);
                var open = await node.OpenAsync(state, Http11);
                states.Add(state);
                opens.Add(open);
                await WriteAsync(open.Ssl, $"GET /{i} HTTP/1.1\r\nHost: vip.test\r\n\r\n");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", await ReadResponseAsync(open.Ssl).WaitAsync(Bound), StringComparison.Ordinal);
            }
            await WriteAsync(layer4.Ssl, "GET /layer4 HTTP/1.1\r\nHost: vip.test\r\n\r\n");
            await ReadResponseAsync(layer4.Ssl).WaitAsync(Bound);

            var drained = System.Diagnostics.Stopwatch.StartNew();
            foreach (var state in states) state.GoAway();
            layer4State.GoAway();

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

            // The layer-4 client is still served, byte for byte, on its own connection.
            Assert.False(layer4.Run.IsCompleted);
            await WriteAsync(layer4.Ssl, "GET /still HTTP/1.1\r\nHost: vip.test\r\n\r\n");
            Assert.EndsWith("request 2 /still\n", await ReadResponseAsync(layer4.Ssl).WaitAsync(Bound), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var open in opens) await open.DisposeAsync();
        }
    }
}
