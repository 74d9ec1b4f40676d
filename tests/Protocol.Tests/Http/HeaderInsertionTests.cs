using SslCluster.Protocol.Http;
using Xunit;
using static SslCluster.Protocol.Tests.Http.HttpExchangeTests;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// HTTP header insertion in the request direction: every request of a connection gets the lines, the client's own
/// headers of those names never reach the server, and bytes that cannot be framed strictly are refused, not passed.
/// </summary>
public sealed class HeaderInsertionTests
{
    private const string Block = "ClientCert-Subject-CN: alice\r\nSession-Id: 0A1B\r\n";

    private static RequestHeaderInsertion Insertion() => RequestHeaderInsertion.Create(
    [
        new("ClientCert-Subject-CN", "alice"),
        new("Session-Id", "0A1B"),
    ])!;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ProcessRequest_KeepAlivePipelinedRequests_EachGetsTheLinesAfterItsOwnHeaders(bool reuse)
    {
        using var exchange = new HttpExchange(null, reuse, Insertion());
        var get = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
        var post = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        var chunked = "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";

        var forwarded = Forward(exchange, get + post + chunked);

        Assert.Equal(
            "GET /a HTTP/1.1\r\nHost: h\r\n" + Block + "\r\n" +
            "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n" + Block + "\r\nhello" +
            "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Block + "\r\n3\r\nabc\r\n0\r\n\r\n",
            forwarded);
        Assert.False(exchange.RequestRefused);
    }

    [Fact]
    public void ProcessRequest_RequestInOneByteReads_SameBytesAsInOneRead()
    {
        using var whole = new HttpExchange(null, false, Insertion());
        using var bytewise = new HttpExchange(null, false, Insertion());
        var requests = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nclientcert-subject-cn: mallory\r\n\r\nabcGET /y HTTP/1.0\r\n\r\n";

        var expected = Forward(whole, requests);
        var forwarded = Forward(bytewise, [.. requests.Select(c => c.ToString())]);

        Assert.Equal(expected, forwarded);
        Assert.Equal("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n" + Block + "\r\nabcGET /y HTTP/1.0\r\n" + Block + "\r\n", forwarded);
    }

    [Theory]
    [InlineData("PROPFIND")]
    [InlineData("MKCOL")]
    [InlineData("PATCH")]
    [InlineData("X-ANY-TOKEN")]
    public void ProcessRequest_WebDavAndOtherTokenMethods_GetTheLines(string method)
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, $"{method} /dav HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok");

        Assert.Equal($"{method} /dav HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n{Block}\r\nok", forwarded);
    }

    [Theory]
    [InlineData(1535)]
    [InlineData(1536)]
    [InlineData(1537)]
    public void ProcessRequest_PostWithAHeadOfAboutFifteenHundredBytes_LinesAndBodyForwarded(int headLength)
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var start = "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nX-Pad: ";
        var head = start + new string('p', headLength - start.Length - 4) + "\r\n\r\n";
        Assert.Equal(headLength, head.Length);

        var forwarded = Forward(exchange, head[..700], head[700..] + "bo", "dy");

        Assert.Equal(head[..^2] + Block + "\r\nbody", forwarded);
    }

    [Fact]
    public void ProcessRequest_ExpectContinue_HeadWithTheLinesThenTheBodyWhenItComes()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var head = "PUT /big HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";

        var first = Forward(exchange, head);
        var then = Forward(exchange, "hello");

        Assert.Equal(head[..^2] + Block + "\r\n", first);
        Assert.Equal("hello", then);
    }

    [Theory]
    [InlineData("ClientCert-Subject-CN: mallory\r\n")]
    [InlineData("clientcert-subject-cn:mallory\r\n")]
    [InlineData("SESSION-ID: 00\r\nClientCert-Subject-CN: x\r\nSession-Id: 01\r\n")]
    public void ProcessRequest_ClientSendsInsertedNames_TheirLinesTakenOut(string forged)
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, $"GET / HTTP/1.1\r\nHost: h\r\n{forged}Accept: */*\r\n\r\n");

        Assert.Equal("GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n" + Block + "\r\n", forwarded);
    }

    [Fact]
    public void ProcessRequest_ReuseAndConnectionClose_CloseTakenOutAndLinesInserted()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true, Insertion());

        var forwarded = Forward(exchange, "GET / HTTP/1.1\r\nConnection: close\r\nSession-Id: forged\r\nHost: h\r\n\r\n");

        Assert.Equal("GET / HTTP/1.1\r\nHost: h\r\n" + Block + "\r\n", forwarded);
        Assert.True(exchange.RequestsEnded);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: h\nClientCert-Subject-CN: mallory\n\n")] // bare line feeds
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\n X-Folded: ClientCert-Subject-CN: mallory\r\n\r\n")] // obsolete line folding
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")]
    [InlineData("GET  /  HTTP/1.1\r\nHost: h\r\n\r\n")]
    public void ProcessRequest_HeadAServerMightReadOtherwise_RefusedAndNothingAfterItForwarded(string bad)
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var good = "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n";
        var forged = "GET /after HTTP/1.1\r\nHost: h\r\nClientCert-Subject-CN: mallory\r\n\r\n";

        var forwarded = Forward(exchange, good, bad, forged);

        Assert.Equal("GET /ok HTTP/1.1\r\nHost: h\r\n" + Block + "\r\n", forwarded);
        Assert.True(exchange.RequestRefused);
        Assert.True(exchange.RequestsEnded);
        Assert.Equal(bad.Length + forged.Length, exchange.DiscardedRequestBytes);
    }

    [Fact]
    public void Complete_RefusedAfterEveryEarlierRequestWasAnswered_A400ForTheClient()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        Forward(exchange, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /bad HTTP/1.1\nHost: h\n\n");
        var answered = Answer(exchange, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

        var output = new System.Buffers.ArrayBufferWriter<byte>();
        exchange.Complete(output);

        Assert.EndsWith("ok", answered, StringComparison.Ordinal);
        Assert.Equal("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", S(output.WrittenSpan));
    }

    [Fact]
    public void Complete_RefusedButAnEarlierAnswerIsMissing_NoFabricatedAnswer()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        Forward(exchange, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /bad HTTP/1.1\nHost: h\n\n");

        var output = new System.Buffers.ArrayBufferWriter<byte>();
        exchange.Complete(output);

        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void ProcessRequest_ChunkedBodyBreaksItsFraming_RestRefused()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        var badChunk = "zz\r\nGET /smuggled HTTP/1.1\r\nClientCert-Subject-CN: mallory\r\n\r\n";

        var forwarded = Forward(exchange, head, badChunk);

        Assert.Equal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Block + "\r\n", forwarded);
        Assert.True(exchange.RequestRefused);
        Assert.Equal(badChunk.Length, exchange.DiscardedRequestBytes);
    }

    [Fact]
    public void ProcessRequest_HeadOverTheLimit_Refused()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var huge = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + new string('a', HttpExchange.MaxHeadBytes) + "\r\n\r\n";

        var forwarded = Forward(exchange, huge);

        Assert.Equal("", forwarded);
        Assert.True(exchange.RequestRefused);
        Assert.Equal(huge.Length, exchange.DiscardedRequestBytes);
    }

    [Fact]
    public void ProcessRequest_WebSocketUpgradeAnswered101_HeadGetsTheLinesAndTheTunnelPassesUntouched()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        var frames = "\x81\x05hello";

        var head = Forward(exchange, upgrade);
        var answer = Answer(exchange, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        var tunnel = Forward(exchange, frames);

        Assert.Equal("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + Block + "\r\n", head);
        Assert.StartsWith("HTTP/1.1 101 ", answer, StringComparison.Ordinal);
        Assert.Equal(frames, tunnel);
        Assert.False(exchange.RequestRefused);
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true)]
    [InlineData(null, false)]
    public void ProcessRequest_WebSocketUpgradeNotAnswered101_LaterBytesRefused(string? answer, bool answered)
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: WebSocket\r\n\r\n";
        var forged = "GET /forged HTTP/1.1\r\nHost: h\r\nSession-Id: 00\r\n\r\n";

        Forward(exchange, upgrade);
        if (answered) Answer(exchange, answer!);
        var after = Forward(exchange, forged);

        Assert.Equal("", after);
        Assert.True(exchange.RequestRefused);
    }

    [Theory]
    [InlineData("GET /u HTTP/1.1\r\nHost: h\r\nUpgrade: foo\r\n\r\n")]
    [InlineData("GET /u HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")]
    [InlineData("GET /u HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 77\r\nTransfer-Encoding: chunked,\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("GET /a\tHTTP/1.1 HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("G(E)T / HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0, 0\r\n\r\n")]
    public void ProcessRequest_SwitchTunnelOrFramingAServerMayReadOtherwise_Refused(string request)
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var forged = "GET /forged HTTP/1.1\r\nHost: h\r\nSession-Id: 00\r\n\r\n";

        var forwarded = Forward(exchange, request + forged);

        Assert.Equal("", forwarded);
        Assert.True(exchange.RequestRefused);
    }

    [Fact]
    public void ProcessRequest_ServerAnswersBeforeTheBodyIsWhole_RestOfTheBodyAndWhatFollowsRefused()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var head = "PUT /big HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 60\r\n\r\n";
        var smuggled = "GET /forged HTTP/1.1\r\nHost: h\r\nSession-Id: 00\r\n\r\n";

        var first = Forward(exchange, head + "abc");
        var answer = Answer(exchange, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
        var rest = Forward(exchange, smuggled);

        Assert.Equal(head[..^2] + Block + "\r\nabc", first);
        Assert.StartsWith("HTTP/1.1 417 ", answer, StringComparison.Ordinal);
        Assert.Equal("", rest);
        Assert.True(exchange.RequestRefused);
    }

    [Fact]
    public void ProcessRequest_AnswerAfterTheWholeBody_NextRequestsGoOn()
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var first = Forward(exchange, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
        Answer(exchange, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        var second = Forward(exchange, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ndef");

        Assert.EndsWith("abc", first, StringComparison.Ordinal);
        Assert.Equal("POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n" + Block + "\r\ndef", second);
        Assert.False(exchange.RequestRefused);
    }

    [Fact]
    public void ProcessRequest_BlankBytesBeforeTheRequestLine_DroppedNotPassed()
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, "\r\n\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");

        Assert.Equal("GET / HTTP/1.1\r\nHost: h\r\n" + Block + "\r\n", forwarded);
    }

    [Fact]
    public void ProcessRequest_ChunkedWithAnExtension_FramedAsChunked()
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=\"v\"\r\nhello\r\n0\r\n\r\n");

        Assert.Equal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Block + "\r\n5;name=\"v\"\r\nhello\r\n0\r\n\r\n", forwarded);
        Assert.False(exchange.RequestRefused);
    }

    [Fact]
    public void ProcessRequest_ChunkedWithATrailingEmptyListElement_FramedAsChunked()
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\nGET /next HTTP/1.1\r\nSession-Id: 00\r\n\r\n");

        Assert.Equal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n" + Block + "\r\n0\r\n\r\nGET /next HTTP/1.1\r\n" + Block + "\r\n", forwarded);
    }

    [Theory]
    [InlineData("2;\nxx\r\n0\r\n\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\n0\r\n\r\n")]
    [InlineData("0\r\nSession-Id: 00\r\n\r\n")]
    [InlineData("0 \r\n\r\n")]
    [InlineData("00000000000000000005\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\rb\r\nhello\r\n0\r\n\r\n")]
    public void ProcessRequest_LeniencyOrTrailerInTheChunkedCoding_Refused(string body)
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

        var forwarded = Forward(exchange, head, body);

        Assert.Equal("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" + Block + "\r\n", forwarded);
        Assert.True(exchange.RequestRefused);
    }

    [Theory]
    [InlineData("Session_Id: 00\r\n")]
    [InlineData("session.id: 00\r\n")]
    [InlineData("CLIENTCERT_SUBJECT_CN: mallory\r\n")]
    [InlineData("ClientCert~Subject~CN: mallory\r\n")]
    public void ProcessRequest_SpellingsCgiServersFoldTogether_TakenOut(string forged)
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, $"GET / HTTP/1.1\r\nHost: h\r\n{forged}\r\n");

        Assert.Equal("GET / HTTP/1.1\r\nHost: h\r\n" + Block + "\r\n", forwarded);
    }

    [Theory]
    [InlineData("Connection: keep-alive, Session-Id\r\n", "Connection: keep-alive\r\n")]
    [InlineData("Connection: session_id, CLIENTCERT-SUBJECT-CN\r\n", "")]
    public void ProcessRequest_ConnectionListsInsertedNames_ThoseTokensTakenOut(string connection, string expected)
    {
        using var exchange = new HttpExchange(null, false, Insertion());

        var forwarded = Forward(exchange, $"GET / HTTP/1.1\r\nHost: h\r\n{connection}\r\n");

        Assert.Equal($"GET / HTTP/1.1\r\nHost: h\r\n{expected}" + Block + "\r\n", forwarded);
    }

    [Fact]
    public void ProcessRequest_MoreRequestsAheadThanRemembered_TheOneTooManyIsNotWrittenAtAll()
    {
        using var exchange = new HttpExchange(null, false, Insertion());
        var get = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        var last = "POST /last HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";

        var forwarded = Forward(exchange, string.Concat(Enumerable.Repeat(get, 1023)), last);

        Assert.Equal(1023, forwarded.Split("GET / ").Length - 1);
        Assert.DoesNotContain("/last", forwarded, StringComparison.Ordinal);
        Assert.True(exchange.RequestRefused);
        Assert.Equal(last.Length, exchange.DiscardedRequestBytes);
    }

    [Theory]
    [InlineData("evil\r\nSession-Id: 00", "evil  Session-Id: 00")]
    [InlineData("  padded\t", "padded")]
    [InlineData("a\0b\x7f", "a b")]
    public void Create_ValueWithControlCharacters_TheyBecomeSpacesAndNoLineIsAdded(string value, string expected)
    {
        var insertion = RequestHeaderInsertion.Create([new("ClientCert-Subject", value)])!;
        using var exchange = new HttpExchange(null, false, insertion);

        var forwarded = Forward(exchange, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");

        Assert.Equal($"GET / HTTP/1.1\r\nHost: h\r\nClientCert-Subject: {expected}\r\n\r\n", forwarded);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Bad Name")]
    [InlineData("Name:")]
    [InlineData("Näme")]
    public void Create_NameThatIsNotAToken_Refused(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => RequestHeaderInsertion.Create([new(name, "v")]));

        Assert.Contains("is not an HTTP header name", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NoHeaders_Null()
    {
        Assert.Null(RequestHeaderInsertion.Create([]));
    }
}
