using System.Net.Security;
using System.Text;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Runtime.HttpReuseTests;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// <c>ssl-server N http-header</c> through the in-process data plane: a real TLS client (.NET SslStream) on loopback,
/// a real keep-alive HTTP server behind that records every request head it receives.
/// </summary>
public sealed class HeaderInsertionDataPathTests
{
    private const string Insert = """
        ssl-server 1 http-header session
          ssl-server 1 http-header static "X-Offload:sslcluster"
        """;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HttpHeader_KeepAliveAndPipelinedRequests_EveryOneGetsTheSessionLinesAndNoForgedOnes(bool reuse)
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Insert + (reuse ? "\n  ssl-server 1 http-reuse" : ""));
        const int Requests = 41;

        var answers = await node.ClientAsync(async ssl =>
        {
            var pages = new List<string>();
            // The first request forges every inserted name; then requests go two at a time in one write (pipelining).
            await WriteAsync(ssl, "GET /0 HTTP/1.1\r\nHost: vip.test\r\nSession-Id: 0000\r\nsession-cipher-name: NULL\r\nX-Offload: forged\r\n\r\n");
            pages.Add(await ReadResponseAsync(ssl));
            for (var i = 1; i < Requests; i += 2)
            {
                await WriteAsync(ssl, $"GET /{i} HTTP/1.1\r\nHost: vip.test\r\n\r\nPOST /{i + 1} HTTP/1.1\r\nHost: vip.test\r\nContent-Length: 3\r\n\r\nabc");
                pages.Add(await ReadResponseAsync(ssl));
                pages.Add(await ReadResponseAsync(ssl));
            }
            return pages;
        });

        Assert.Equal(Requests, answers.Count);
        Assert.All(answers, a => Assert.StartsWith("HTTP/1.1 200 OK\r\n", a, StringComparison.Ordinal));
        var heads = server.Requests.ToList();
        Assert.Equal(Requests, heads.Count);
        Assert.All(heads, h =>
        {
            // TLS 1.3 and no ticket issued here (the in-process node has no ticket keys): the session has no ID, so no
            // Session-Id line, and the client's forged one is gone too.
            Assert.DoesNotContain("Session-Id", h, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("TLS_AES_128_GCM_SHA256", Single(h, "Session-Cipher-Name"));
            Assert.Equal("128", Single(h, "Session-Cipher-Key-Size"));
            Assert.Equal("sslcluster", Single(h, "X-Offload"));
            Assert.DoesNotContain("forged", h, StringComparison.Ordinal);
            Assert.DoesNotContain("NULL", h, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task GoAway_HeaderInsertionWithoutReuse_NextAnswerSaysCloseAndBothConnectionsEnd()
    {
        // A drain on an ssl-server that reads HTTP for its insertion only: its back-end connection is the client's own.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Insert);
        var state = new SslCluster.Protocol.Runtime.ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        await WriteAsync(open.Ssl, "GET /a HTTP/1.1\r\nHost: vip.test\r\n\r\n");
        var first = await ReadResponseAsync(open.Ssl).WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound);

        // The next request is under way (half its head sent, so the client is not between two messages whatever the
        // machine's pauses, and is not closed as idle) when the drain begins: that request is the last.
        await WriteAsync(open.Ssl, "GET /b HTTP/1.1\r\nHo");
        await Task.Delay(50);
        state.GoAway();
        await WriteAsync(open.Ssl, "st: vip.test\r\n\r\n");
        var second = await ReadResponseAsync(open.Ssl).WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound);

        // close_notify (SslStream reads 0), then the node's side ends: the server sees its connection closed.
        Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound));
        await open.Run.WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound);
        Assert.DoesNotContain("Connection: close", first, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n\r\n", second, StringComparison.Ordinal);
        Assert.EndsWith("connection 1 request 2 /b\n", second, StringComparison.Ordinal);
        Assert.Equal(SslCluster.Protocol.Net.ProxyError.None, state.Outcome);
        Assert.All(server.Requests, h => Assert.Equal("sslcluster", Single(h, "X-Offload")));
        for (var i = 0; i < 200 && server.ClosedByPeer == 0; i++) await Task.Delay(25);
        Assert.Equal(1, server.ClosedByPeer);
    }

    [Theory]
    [InlineData(Insert)]
    [InlineData("ssl-server 1 urlrewrite 1 vip.test")]
    public async Task GoAway_IdleKeepAliveClientsWithoutReuse_ClosedWithCloseNotifyAndTheirServerConnectionsWithThem(string lines)
    {
        // A drain on an ssl-server that reads HTTP without http-reuse: before, these clients held the drain to its
        // deadline and were cut there. Now each one idle between two requests is closed as an idle keep-alive connection.
        const int Clients = 100;
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, lines);
        var states = new List<SslCluster.Protocol.Runtime.ConnectionState>();
        var opens = new List<Open>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var state = new SslCluster.Protocol.Runtime.ConnectionState(i + 1, "m", null, DateTimeOffset.UtcNow);
                var open = await node.OpenAsync(state);
                states.Add(state);
                opens.Add(open);
                await WriteAsync(open.Ssl, $"GET /{i} HTTP/1.1\r\nHost: vip.test\r\n\r\n");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", await ReadResponseAsync(open.Ssl).WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound), StringComparison.Ordinal);
            }

            foreach (var state in states) state.GoAway();

            // close_notify: SslStream reads 0 (a connection cut without it throws).
            foreach (var open in opens)
            {
                Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound));
                await open.Run.WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound);
            }

            Assert.All(states, s => Assert.Equal(SslCluster.Protocol.Net.ProxyError.None, s.Outcome));
            for (var i = 0; i < 200 && server.ClosedByPeer < Clients; i++) await Task.Delay(25);
            Assert.Equal(Clients, server.ClosedByPeer);
            Assert.Equal(Clients, server.Requests.Count);
        }
        finally
        {
            foreach (var open in opens) await open.DisposeAsync();
        }
    }

    [Fact]
    public async Task GoAway_RequestAnsweredJustBeforeWithoutReuse_ClientClosedOnlyOnceIdleAfterThatAnswer()
    {
        // The release waits for the client to be idle for a moment after its last answer, as under http-reuse (a
        // client that has just had an answer may be sending its next request), then closes it cleanly.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Insert);
        var state = new SslCluster.Protocol.Runtime.ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        await WriteAsync(open.Ssl, "GET /a HTTP/1.1\r\nHost: vip.test\r\n\r\n");
        var started = System.Diagnostics.Stopwatch.StartNew();
        await ReadResponseAsync(open.Ssl).WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound);

        state.GoAway();
        Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound));

        Assert.True(started.Elapsed >= SslCluster.Protocol.Net.BackendPool.IdleClientAfter, started.Elapsed.ToString());
        await open.Run.WaitAsync(SslCluster.Protocol.Tests.Tls.BackendTlsTestKit.Bound);
        Assert.Equal(SslCluster.Protocol.Net.ProxyError.None, state.Outcome);
    }

    [Fact]
    public async Task HttpHeader_RequestWithBareLineFeeds_RefusedAndTheConnectionEndsWithoutForwardingIt()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Insert);

        var answer = await node.ClientAsync(async ssl =>
        {
            await WriteAsync(ssl, "GET /ok HTTP/1.1\r\nHost: vip.test\r\n\r\n");
            var first = await ReadResponseAsync(ssl);
            await WriteAsync(ssl, "GET /bad HTTP/1.1\nHost: vip.test\nSession-Id: 00\n\n");
            var rest = new MemoryStream();
            await ssl.CopyToAsync(rest);
            return first + Encoding.ASCII.GetString(rest.ToArray());
        });

        Assert.Contains("request 1 /ok\n", answer, StringComparison.Ordinal);
        Assert.EndsWith("\nHTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", answer, StringComparison.Ordinal);
        Assert.Equal(["/ok"], server.Requests.Select(h => h.Split(' ')[1]));
    }

    [Theory]
    [InlineData("GET /bad HTTP/1.1\nHost: vip.test\n\n")]
    [InlineData("GET /ok HTTP/1.1\r\nHost: vip.test\r\n\r\nGET /bad HTTP/1.1\nHost: vip.test\n\n")]
    public async Task HttpHeader_HttpReuseAndARefusedRequestInTheFirstRead_ClientClosedAfterWhatWasAnswered(string requests)
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, Insert + "\n  ssl-server 1 http-reuse");
        var started = System.Diagnostics.Stopwatch.StartNew();

        var answer = await node.ClientAsync(async ssl =>
        {
            await WriteAsync(ssl, requests);
            var all = new MemoryStream();
            await ssl.CopyToAsync(all);
            return Encoding.ASCII.GetString(all.ToArray());
        });

        var good = requests.StartsWith("GET /ok", StringComparison.Ordinal);
        Assert.Equal(good ? ["/ok"] : [], server.Requests.Select(h => h.Split(' ')[1]));
        const string Refusal = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (good) Assert.Contains("request 1 /ok\n" + Refusal, answer, StringComparison.Ordinal);
        else Assert.Equal(Refusal, answer);
        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.Equal(0, node.DataPlane.Flows.For("ssl2", "10.60.0.1", 443).Ended(SslCluster.Protocol.Net.ProxyError.InternalError));
    }

    /// <summary>The value of the one header line named <paramref name="name"/> in a request head.</summary>
    private static string Single(string head, string name) =>
        Assert.Single(head.Split("\r\n"), l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))[(name.Length + 1)..].Trim();
}
