using System.Buffers;
using System.Text;
using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Http;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>The backend-to-client stream of a keep-alive connection: only response heads' Location values change.</summary>
public sealed class HttpExchangeTests
{
    internal static readonly UrlRewriter Rules = new([new UrlRewriteRule(1, "*.example.com"), new UrlRewriteRule(2, "www.example.*")]);

    private const string Get = "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    private const string HeadRequest = "HEAD / HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    private const string Redirect = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/next\r\nContent-Length: 0\r\n\r\n";
    private const string Redirected = "HTTP/1.1 302 Found\r\nLocation: https://www.example.com/next\r\nContent-Length: 0\r\n\r\n";

    internal static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    internal static string S(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    /// <summary>What the client receives of the back end's <paramref name="reads"/>, one call per read.</summary>
    internal static string Answer(HttpExchange exchange, params string[] reads)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        foreach (var read in reads) exchange.Process(B(read), output);
        return S(output.WrittenSpan);
    }

    /// <summary>What the back end receives of the client's <paramref name="reads"/>, one call per read.</summary>
    internal static string Forward(HttpExchange exchange, params string[] reads)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        foreach (var read in reads) exchange.ProcessRequest(B(read), output);
        return S(output.WrittenSpan);
    }

    /// <summary>Observes the requests, then feeds each response read in turn; returns what reached the client.</summary>
    private static (string Output, HttpExchange Rewriter) Run(string requests, params string[] reads)
    {
        var rewriter = new HttpExchange(Rules);
        rewriter.ProcessRequest(B(requests), new ArrayBufferWriter<byte>());
        var output = new ArrayBufferWriter<byte>();
        foreach (var read in reads) rewriter.Process(B(read), output);
        rewriter.Complete(output);
        rewriter.Dispose();
        return (S(output.WrittenSpan), rewriter);
    }

    [Theory]
    [InlineData("\u0001\u0002PING")] // a byte no method holds, first
    [InlineData("HELLO\tthere")] // a method-like word, then not a space
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH")] // no space within the longest method we wait for
    public void ProcessRequest_BytesThatCannotBeginARequestLineAndNoLineEnd_PassedAtOnce(string read)
    {
        // A client that speaks something else may send a short message with no line feed and wait for its answer.
        using var exchange = new HttpExchange(null);
        Assert.Equal(read, Forward(exchange, read));
        Assert.Equal("more", Forward(exchange, "more"));
    }

    [Fact]
    public void CompleteRequests_ClientEndedInTheMiddleOfAHead_WhatItSentIsPassedOnAsAtLayer4()
    {
        using var exchange = new HttpExchange(null);
        Assert.Equal("", Forward(exchange, "GET /x HTTP/1.1\r\nHost: a\r\n"));

        var output = new ArrayBufferWriter<byte>();
        exchange.CompleteRequests(output);

        Assert.Equal("GET /x HTTP/1.1\r\nHost: a\r\n", S(output.WrittenSpan));
    }

    [Fact]
    public void CompleteRequests_UnderHeaderInsertion_AnUnfinishedHeadGoesNowhere()
    {
        // Nothing is inserted into a head that never ended, so it is not passed on without the inserted lines.
        using var exchange = new HttpExchange(null, insertion: RequestHeaderInsertion.Create([new("X-Offload", "yes")]));
        Assert.Equal("", Forward(exchange, "GET /x HTTP/1.1\r\nHost: a\r\n"));

        var output = new ArrayBufferWriter<byte>();
        exchange.CompleteRequests(output);

        Assert.Equal(0, output.WrittenCount);
    }

    [Theory]
    [InlineData("G", "ET / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("PROPPATCH", " /x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET /path?q", "=1 HTTP/1.1\r\nHost: a\r\n\r\n")]
    public void ProcessRequest_TheStartOfARequestLine_HeldUntilTheHeadIsWhole(string first, string rest)
    {
        using var exchange = new HttpExchange(null);
        Assert.Equal("", Forward(exchange, first));
        Assert.Equal(first + rest, Forward(exchange, rest));
    }

    [Fact]
    public void Process_RedirectToMatchingHost_RewritesLocation()
    {
        var (output, rewriter) = Run(Get, Redirect);

        Assert.Equal(Redirected, output);
        Assert.Equal(1, rewriter.Rewrites);
    }

    [Theory]
    [InlineData("location")]
    [InlineData("LOCATION")]
    [InlineData("LoCaTiOn")]
    public void Process_HeaderNameInAnyCase_Rewritten(string name)
    {
        var (output, _) = Run(Get, $"HTTP/1.1 301 Moved\r\n{name}:http://a.example.com/x \r\nContent-Length: 0\r\n\r\n");

        Assert.Equal($"HTTP/1.1 301 Moved\r\n{name}:https://a.example.com/x \r\nContent-Length: 0\r\n\r\n", output);
    }

    [Theory]
    [InlineData("Location-X: http://www.example.com/")]
    [InlineData("X-Location: http://www.example.com/")]
    [InlineData("Content-Location: http://www.example.com/")]
    [InlineData("Location : http://www.example.com/")]
    [InlineData("Location: https://www.example.com/")]
    [InlineData("Location: /relative")]
    [InlineData("Location: http://www.example.com:8080/")]
    [InlineData("Location: http://other.org/")]
    public void Process_OtherHeadersOrValuesNoRuleTakes_Untouched(string header)
    {
        var response = $"HTTP/1.1 302 Found\r\n{header}\r\nContent-Length: 0\r\n\r\n";

        var (output, rewriter) = Run(Get, response);

        Assert.Equal(response, output);
        Assert.Equal(0, rewriter.Rewrites);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(201)]
    [InlineData(404)]
    public void Process_NotA300SeriesResponse_LocationUntouched(int status)
    {
        var response = $"HTTP/1.1 {status} X\r\nLocation: http://www.example.com/\r\nContent-Length: 0\r\n\r\n";

        Assert.Equal(response, Run(Get, response).Output);
    }

    [Fact]
    public void Process_KeepAliveBodiesHoldingLocationText_OnlyHeadsRewritten()
    {
        const string fakeHead = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/fake\r\n\r\n";
        var body1 = "Location: http://www.example.com/\r\n\r\n" + fakeHead;
        var r1 = $"HTTP/1.1 200 OK\r\nContent-Length: {body1.Length}\r\n\r\n{body1}";
        var r2Head = "HTTP/1.1 302 Found\r\nTransfer-Encoding: chunked\r\nLocation: http://shop.example.com/a\r\n\r\n";
        var r2Body = $"a;name=\"v\"\r\n0123456789\r\n{fakeHead.Length:x}\r\n{fakeHead}\r\n0\r\nX-Trailer: Location: http://www.example.com/\r\n\r\n";
        var r3 = "HTTP/1.1 301 Moved\r\nContent-Length: 2\r\nLocation: http://www.example.org/b\r\n\r\nok";
        var requests = Get + Get + Get;

        var (output, rewriter) = Run(requests, r1 + r2Head + r2Body + r3);

        var expected = r1 + r2Head.Replace("http://shop", "https://shop", StringComparison.Ordinal) + r2Body +
            r3.Replace("http://www", "https://www", StringComparison.Ordinal);
        Assert.Equal(expected, output);
        Assert.Equal(2, rewriter.Rewrites);
        Assert.False(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_ResponseToHead_HasNoBodyWhateverItsHeadersSay()
    {
        var headAnswer = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/h\r\nContent-Length: 50\r\n\r\n";
        var chunkedHeadAnswer = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/h\r\nTransfer-Encoding: chunked\r\n\r\n";

        var (output, rewriter) = Run(HeadRequest + HeadRequest + Get, headAnswer + chunkedHeadAnswer + Redirect);

        Assert.Equal(3, rewriter.Rewrites);
        Assert.EndsWith(Redirected, output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nLocation: http://www.example.com/\r\n\r\n")]
    [InlineData("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")]
    public void Process_204Or304_HasNoBody(string first)
    {
        var (output, rewriter) = Run(Get + Get, first + Redirect);

        Assert.EndsWith(Redirected, output, StringComparison.Ordinal);
        Assert.Equal(first.Contains("Location", StringComparison.Ordinal) ? 2 : 1, rewriter.Rewrites);
    }

    [Fact]
    public void Process_InterimResponses_FinalResponseRewrittenAndRequestsStayInStep()
    {
        const string post = "POST /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nHEAD ";
        const string interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n";
        var headAnswer = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/h\r\nContent-Length: 7\r\n\r\n";

        var (output, rewriter) = Run(post + HeadRequest + Get, interim + Redirect + interim + headAnswer + Redirect);

        Assert.Equal(interim + Redirected + interim + headAnswer.Replace("http:", "https:", StringComparison.Ordinal) + Redirected, output);
        Assert.Equal(3, rewriter.Rewrites);
    }

    [Fact]
    public void Process_ChunkedRequestBodyHoldingARequestLine_IsNotTakenForARequest()
    {
        const string post = "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n13\r\nHEAD / HTTP/1.1\r\n\r\n\r\n0\r\n\r\n";
        var withBody = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nContent-Length: 5\r\n\r\nhello";

        var (output, rewriter) = Run(post + Get, withBody + withBody);

        Assert.Equal(2, rewriter.Rewrites);
        Assert.EndsWith("hello", output, StringComparison.Ordinal);
        Assert.False(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_EverySplitPoint_SameOutputAsOneRead()
    {
        var response = "HTTP/1.1 302 Found\r\nServer: t\r\nLocation:  http://www.example.com/a?b=c  \r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5\r\nhello\r\n0\r\n\r\n" + Redirect;
        var whole = Run(Get + Get, response).Output;
        Assert.Equal(2, Run(Get + Get, response).Rewriter.Rewrites);

        for (var i = 0; i <= response.Length; i++)
        {
            Assert.Equal(whole, Run(Get + Get, response[..i], response[i..]).Output);
        }
        for (var i = 0; i < 120; i += 3)
        {
            for (var j = i; j < response.Length; j += 7)
                Assert.Equal(whole, Run(Get + Get, response[..i], response[i..j], response[j..]).Output);
        }
        Assert.Equal(whole, Run(Get + Get, response.Select(c => c.ToString()).ToArray()).Output);
    }

    [Fact]
    public void Process_PartialHead_HeldUntilCompleteThenReleasedUnchanged()
    {
        var rewriter = new HttpExchange(Rules);
        rewriter.ProcessRequest(B(Get), new ArrayBufferWriter<byte>());
        var output = new ArrayBufferWriter<byte>();

        rewriter.Process(B("HTTP/1.1 302 Found\r\nLocation: http://www.exa"), output);
        Assert.Equal(0, output.WrittenCount);
        rewriter.Complete(output);

        Assert.Equal("HTTP/1.1 302 Found\r\nLocation: http://www.exa", S(output.WrittenSpan));
        rewriter.Dispose();
    }

    [Theory]
    [InlineData(HttpExchange.MaxHeadBytes + 1, true)]
    [InlineData(HttpExchange.MaxHeadBytes, false)]
    public void Process_HeadOverTheLimit_PassesThroughUnchangedForTheRestOfTheConnection(int headSize, bool over)
    {
        const string start = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nContent-Length: 0\r\nX-Pad: ";
        var head = start + new string('p', headSize - start.Length - 4) + "\r\n\r\n";
        Assert.Equal(headSize, head.Length);

        foreach (var reads in new[] { new[] { head + Redirect }, new[] { head[..1000], head[1000..] + Redirect[..10], Redirect[10..] } })
        {
            var (output, rewriter) = Run(Get + Get, reads);

            Assert.Equal(over, rewriter.IsPassThrough);
            Assert.Equal(over ? 0 : 2, rewriter.Rewrites);
            Assert.Equal(over ? head + Redirect : head.Replace("http:", "https:", StringComparison.Ordinal) + Redirected, output);
        }
    }

    [Theory]
    [InlineData("<html>Location: http://www.example.com/</html>")]
    [InlineData("HTTP/2 302\r\nLocation: http://www.example.com/\r\n\r\n")]
    [InlineData("HTTX/1.1 302 Found\r\nLocation: http://www.example.com/\r\n\r\n")]
    public void Process_NotAnHttp1Response_PassedAtOnce(string response)
    {
        var rewriter = new HttpExchange(Rules);
        rewriter.ProcessRequest(B(Get), new ArrayBufferWriter<byte>());
        var output = new ArrayBufferWriter<byte>();

        rewriter.Process(B(response), output);

        Assert.Equal(response, S(output.WrittenSpan));
        Assert.True(rewriter.IsPassThrough);
        rewriter.Dispose();
    }

    [Theory]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\n folded\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nno colon here\r\n\r\n")]
    [InlineData("HTTP/1.1 3020 Found\r\nLocation: http://www.example.com/\r\n\r\n")]
    public void Process_UnframeableHead_PassedUnchangedAndPassThroughAfter(string response)
    {
        var (output, rewriter) = Run(Get + Get, response + Redirect);

        Assert.Equal(response + Redirect, output);
        Assert.True(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_BrokenChunking_PassThroughWithoutLosingABtye()
    {
        var response = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + Redirect;

        var (output, rewriter) = Run(Get + Get, response);

        Assert.Equal(response.Replace("http://www.example.com/\r\nT", "https://www.example.com/\r\nT", StringComparison.Ordinal), output);
        Assert.True(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_CloseDelimitedBody_RestPassesUnchanged()
    {
        var response = "HTTP/1.0 302 Found\r\nLocation: http://www.example.com/\r\n\r\n" + Redirect;

        var (output, rewriter) = Run(Get + Get, response);

        Assert.Equal("HTTP/1.0 302 Found\r\nLocation: https://www.example.com/\r\n\r\n" + Redirect, output);
        Assert.Equal(1, rewriter.Rewrites);
    }

    [Fact]
    public void Process_TransferCodingNotEndingInChunked_BodyRunsToClose()
    {
        var response = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + Redirect;

        var (output, _) = Run(Get + Get, response);

        Assert.EndsWith(Redirect, output, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_SwitchingProtocols_EverythingAfterPassesUnchanged()
    {
        const string upgrade = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        const string switched = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

        var (output, rewriter) = Run(upgrade + "\x81\x05hello", switched + Redirect);

        Assert.Equal(switched + Redirect, output);
        Assert.True(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_UpgradeDeclined_AnswerRewrittenThenPassThrough()
    {
        const string upgrade = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

        var (output, rewriter) = Run(upgrade + Get, Redirect + Redirect);

        Assert.Equal(Redirected + Redirect, output);
        Assert.True(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_ConnectTunnel_EverythingAfterPassesUnchanged()
    {
        const string connect = "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n";
        const string established = "HTTP/1.1 200 Connection Established\r\n\r\n";

        var (output, rewriter) = Run(connect, established + Redirect);

        Assert.Equal(established + Redirect, output);
        Assert.True(rewriter.IsPassThrough);
    }

    [Theory]
    [InlineData("GET /old-style\r\n")]
    [InlineData("\x16\x03\x01\x02\x00 not http at all\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")]
    public void ObserveRequest_UnframeableRequest_ItsResponsePassesUnchanged(string request)
    {
        var (output, rewriter) = Run(request, Redirect);

        Assert.Equal(Redirect, output);
        Assert.True(rewriter.IsPassThrough);
    }

    [Fact]
    public void ObserveRequest_EarlierRequestsFramed_TheirResponsesStillRewritten()
    {
        var (output, _) = Run(Get + "GET /old-style\r\n", Redirect + Redirect);

        Assert.Equal(Redirected + Redirect, output);
    }

    [Fact]
    public void ObserveRequest_MorePipelinedRequestsThanRemembered_LaterResponsesPassUnchanged()
    {
        var requests = string.Concat(Enumerable.Repeat(Get, 1100));
        var responses = string.Concat(Enumerable.Repeat(Redirect, 1100));

        var (output, rewriter) = Run(requests, responses);

        Assert.Equal(1023, rewriter.Rewrites);
        Assert.EndsWith(Redirect, output, StringComparison.Ordinal);
        Assert.True(rewriter.IsPassThrough);
    }

    [Fact]
    public void Process_UnsolicitedResponse_FramedAsAnOrdinaryAnswer()
    {
        var (output, rewriter) = Run(string.Empty, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 2\r\n\r\nno" + Redirect);

        Assert.EndsWith(Redirected, output, StringComparison.Ordinal);
        Assert.Equal(1, rewriter.Rewrites);
    }

    [Fact]
    public void Process_BlankLinesBetweenResponses_PassedAndFramingKept()
    {
        var (output, _) = Run(Get + Get, Redirect + "\r\n", "\r\n" + Redirect);

        Assert.Equal(Redirected + "\r\n\r\n" + Redirected, output);
    }

    [Fact]
    public void Process_NoRuleMatches_ByteForByteIdentical()
    {
        var rewriter = new HttpExchange(new UrlRewriter([new UrlRewriteRule(1, "nothing.invalid")]));
        var body = string.Concat(Enumerable.Range(0, 256).Select(i => (char)i));
        var stream = $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}" + Redirect +
            "HTTP/1.1 301 M\r\nLocation: http://x.org/\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n" + body + "\r\n0\r\n\r\n";
        rewriter.ProcessRequest(B(Get + Get + Get), new ArrayBufferWriter<byte>());
        var output = new ArrayBufferWriter<byte>();

        rewriter.Process(B(stream), output);
        rewriter.Complete(output);

        Assert.Equal(B(stream), output.WrittenSpan.ToArray());
        Assert.Equal(0, rewriter.Rewrites);
        rewriter.Dispose();
    }

    [Fact]
    public async Task ObserveRequest_FromAnotherThread_RequestsAndResponsesStayInStep()
    {
        const int count = 2000;
        using var rewriter = new HttpExchange(Rules);
        using var observed = new SemaphoreSlim(0);
        // The client keeps a few requests ahead of the responses (pipelining), not all 2000 of them.
        using var window = new SemaphoreSlim(8);
        var headAnswer = "HTTP/1.1 302 Found\r\nLocation: http://www.example.com/h\r\nContent-Length: 9\r\n\r\n";
        var client = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await window.WaitAsync();
                var request = B(i % 2 == 0 ? HeadRequest : Get);
                rewriter.ProcessRequest(request.AsSpan(0, 5), new ArrayBufferWriter<byte>());
                rewriter.ProcessRequest(request.AsSpan(5), new ArrayBufferWriter<byte>());
                observed.Release();
            }
        });
        var output = new ArrayBufferWriter<byte>();

        for (var i = 0; i < count; i++)
        {
            // A response is only sent once its request has been forwarded, as on a real connection.
            await observed.WaitAsync();
            rewriter.Process(B(i % 2 == 0 ? headAnswer : Redirect), output);
            window.Release();
        }
        await client;

        Assert.Equal(count, rewriter.Rewrites);
        Assert.False(rewriter.IsPassThrough);
    }
}
