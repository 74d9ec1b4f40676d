using Xunit;
using SslCluster.Protocol.Http;
using static SslCluster.Protocol.Tests.Http.HttpExchangeTests;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// A client that named no protocol by ALPN, on an ssl-server that reads no HTTP: its flow is framed when its first bytes
/// begin with a whole plain request line, and passed as it is otherwise, never held for bytes that may not come.
/// </summary>
public sealed class HttpSniffTests
{
    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("GET / HTTP/1.0\n")]
    [InlineData("POST http://vip.test/form?a=1 HTTP/1.1\r\nHost: vip.test\r\n\r\n")]
    [InlineData("OPTIONS * HTTP/1.1\r\n")]
    [InlineData("M-SEARCH * HTTP/1.1\r\n")]
    [InlineData("VERSION-CONTROL /r HTTP/1.1\r\n")]
    public void BeginsWithRequestLine_AWholePlainRequestLine_True(string first) =>
        Assert.True(HttpHead.BeginsWithRequestLine(B(first)));

    [Theory]
    [InlineData("GET / HTTP/1.1")] // no line end yet: judged on these bytes, not waited for
    [InlineData("GET /x")]
    [InlineData("get / HTTP/1.1\r\n")] // methods are case-sensitive, and every registered one is in capitals
    [InlineData("Get / HTTP/1.1\r\n")]
    [InlineData("GET  / HTTP/1.1\r\n")] // not three parts
    [InlineData("GET /a b HTTP/1.1\r\n")]
    [InlineData("GET\t/ HTTP/1.1\r\n")]
    [InlineData("GET / HTTP/2.0\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")] // HTTP/2 with prior knowledge
    [InlineData("\r\nGET / HTTP/1.1\r\n")] // a blank line first: a flow known to be HTTP skips it, a sniffed one is not HTTP
    [InlineData("<?xml version='1.0'?><stream:stream to='vip.test'>\n")]
    [InlineData("EHLO client.vip.test\r\n")]
    [InlineData("a001 LOGIN user pass\r\n")]
    [InlineData("GET / HTTP/1.1x\r\n")]
    [InlineData("")]
    public void BeginsWithRequestLine_AnythingElse_False(string first) =>
        Assert.False(HttpHead.BeginsWithRequestLine(B(first)));

    [Fact]
    public void ProcessRequest_FirstBytesARequestLine_FramedAsHttp()
    {
        using var exchange = new HttpExchange(null, sniff: true);
        Assert.False(exchange.BetweenMessages); // not judged yet: a drain leaves it alone

        // The rest of the head may come later: once known as HTTP, the flow is framed as any other.
        Assert.Equal("", Forward(exchange, "GET / HTTP/1.1\r\n"));
        Assert.Equal("GET / HTTP/1.1\r\nHost: a\r\n\r\n", Forward(exchange, "Host: a\r\n\r\n"));
        Assert.True(exchange.BetweenMessages);
        Assert.False(exchange.Releasable);

        // Its response is framed: a head is held until it is whole.
        Assert.Equal("", Answer(exchange, "HTTP/1.1 200 OK\r\n"));
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Answer(exchange, "Content-Length: 2\r\n\r\nok"));
        Assert.True(exchange.Releasable);
        Assert.False(exchange.IsPassThrough);
        Assert.False(exchange.FramingStopped);
    }

    [Theory]
    [InlineData("GET / HTT", "P/1.1\r\nHost: a\r\n\r\n")] // a request line split over two reads: not known as HTTP
    [InlineData("HELLO", " there")]
    [InlineData("\u0000\u0001", "\u0002")]
    public void ProcessRequest_FirstBytesNotAWholeRequestLine_EverythingPassedAtOnceAndNeverBetweenMessages(string first, string rest)
    {
        using var exchange = new HttpExchange(null, sniff: true);
        Assert.Equal(first, Forward(exchange, first));
        Assert.True(exchange.FramingStopped); // a drain's sweep stops looking at it
        Assert.Equal(rest, Forward(exchange, rest));
        Assert.Equal(Get, Forward(exchange, Get));
        Assert.False(exchange.BetweenMessages);

        // Nothing the server sends is framed either, whatever it looks like.
        Assert.Equal("HTTP/1.1 200 OK\r\n", Answer(exchange, "HTTP/1.1 200 OK\r\n"));
        Assert.True(exchange.IsPassThrough);
    }

    [Fact]
    public void Process_ServerSpeaksFirst_NotHttpEvenWhenTheClientThenSendsARequestLine()
    {
        // SMTP, IMAP and POP3 servers speak first. Their flow is passed as it is, and a client line that looks like an
        // HTTP request does not make it HTTP.
        using var exchange = new HttpExchange(null, sniff: true);
        Assert.Equal("HTTP/1.1 200 OK\r\n", Answer(exchange, "HTTP/1.1 200 OK\r\n"));
        Assert.True(exchange.IsPassThrough);

        Assert.Equal(Get, Forward(exchange, Get));
        Assert.False(exchange.BetweenMessages);
        Assert.True(exchange.FramingStopped);
        Assert.Equal("220 ready\r\n", Answer(exchange, "220 ready\r\n"));
    }

    [Fact]
    public void Constructor_SniffWithRulesReuseOrInsertion_Refused()
    {
        Assert.Throws<ArgumentException>(() => new HttpExchange(Rules, sniff: true));
        Assert.Throws<ArgumentException>(() => new HttpExchange(null, ownsBackendConnection: true, sniff: true));
        Assert.Throws<ArgumentException>(() => new HttpExchange(null, insertion: RequestHeaderInsertion.Create([new("X-Offload", "yes")]), sniff: true));
    }

    private const string Get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
}
