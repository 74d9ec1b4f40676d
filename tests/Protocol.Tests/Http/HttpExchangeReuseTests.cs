using System.Buffers;
using SslCluster.Protocol.Http;
using Xunit;
using static SslCluster.Protocol.Tests.Http.HttpExchangeTests;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// The HTTP transform of an ssl-server with http-reuse: the client's close is ours to honour, and the back-end
/// connection is reusable only between two messages with every request answered.
/// </summary>
public sealed class HttpExchangeReuseTests
{
    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    private const string OkClosed = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";

    [Theory]
    [InlineData("Connection: close\r\n", "")]
    [InlineData("connection: CLOSE\r\n", "")]
    [InlineData("Connection: close, X-Trace\r\n", "Connection: X-Trace\r\n")]
    [InlineData("Connection:keep-alive ,close\r\n", "Connection:keep-alive\r\n")]
    public void ProcessRequest_ClientAsksToClose_CloseTakenOutAndAnsweredByUs(string header, string forwardedHeader)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);

        var forwarded = Forward(exchange, $"GET / HTTP/1.1\r\nHost: a\r\n{header}Accept: */*\r\n\r\n");
        var answered = Answer(exchange, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\n\r\nhi");

        Assert.Equal($"GET / HTTP/1.1\r\nHost: a\r\n{forwardedHeader}Accept: */*\r\n\r\n", forwarded);
        Assert.Equal(OkClosed, answered);
        Assert.True(exchange.ExchangeOver);
        Assert.True(exchange.BackendReusable);
    }

    [Fact]
    public void ProcessRequest_BytesAfterARequestThatAskedToClose_NotForwarded()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        var second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";

        var forwarded = Forward(exchange, "POST /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 3\r\n\r\nab", "c" + second);

        Assert.Equal("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", forwarded);
        Assert.True(exchange.RequestsEnded);
        Assert.Equal(second.Length, exchange.DiscardedRequestBytes);
    }

    [Fact]
    public void EndRequests_EveryRequestAnswered_FinishedAndReusable()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
        Answer(exchange, Ok, Ok);

        Assert.Equal(RequestEnd.Finished, exchange.EndRequests());
        Assert.False(exchange.ExchangeOver);
        Assert.True(exchange.BackendReusable);
    }

    [Fact]
    public void EndRequests_AnswersStillOwed_ExchangeOverWithTheLastOne()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
        Answer(exchange, Ok);

        Assert.Equal(RequestEnd.AwaitResponses, exchange.EndRequests());
        Assert.False(exchange.ExchangeOver);
        Answer(exchange, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n", "0\r\n\r\n");
        Assert.True(exchange.ExchangeOver);
        Assert.True(exchange.BackendReusable);
    }

    [Theory]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n")]
    public void EndRequests_RequestCutShort_TheBackEndSeesTheHalfClose(string partial)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, partial);

        Assert.Equal(RequestEnd.HalfClose, exchange.EndRequests());
        Assert.False(exchange.BackendReusable);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\nhi")]
    [InlineData("GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")]
    [InlineData("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n")]
    [InlineData("HELO relay.test\r\n\r\n", "250 hello\r\n")]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\", Negotiate\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: negotiate abc=\r\nContent-Length: 0\r\n\r\n")]
    public void BackendReusable_ExchangeTheServerOrProtocolEndsWithTheClient_False(string request, string response)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        var forwarded = Forward(exchange, request);
        var answered = Answer(exchange, response);
        exchange.EndRequests();

        Assert.Equal(request, forwarded);
        Assert.Equal(response, answered);
        Assert.False(exchange.BackendReusable);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a\n\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX\u000bY: z\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX-A: b\u0000c\r\n\r\n")]
    [InlineData("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\nhi\r\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\nhi\r\n0\r\n\r\n")]
    [InlineData("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\n\r\n")]
    public void BackendReusable_RequestAServerMightFrameDifferently_FalseThoughRelayedAsItCame(string request)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);

        var forwarded = Forward(exchange, request);
        Answer(exchange, Ok);

        Assert.Equal(request, forwarded);
        Assert.Equal(RequestEnd.HalfClose, exchange.EndRequests());
        Assert.False(exchange.BackendReusable);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 2\n\nhi")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nhi\r\n0\r\n\r\n")]
    public void BackendReusable_AnswerFramedLeniently_False(string response)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET / HTTP/1.1\r\n\r\n");

        Assert.Equal(response, Answer(exchange, response));
        Assert.Equal(RequestEnd.HalfClose, exchange.EndRequests());
        Assert.False(exchange.BackendReusable);
    }

    [Theory]
    [InlineData("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"NTLM\"\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n")]
    public void BackendReusable_RequestAuthenticationOrNoChallenge_True(string response)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET / HTTP/1.1\r\n\r\n");

        Assert.Equal(response, Answer(exchange, response));
        Assert.Equal(RequestEnd.Finished, exchange.EndRequests());
        Assert.True(exchange.BackendReusable);
    }

    [Fact]
    public void ProcessRequest_StrictChunkedRequestWithTrailer_Reusable()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        var request = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nhi\r\n0\r\nX-Sum: 7\r\n\r\n";

        Assert.Equal(request, Forward(exchange, request[..40], request[40..55], request[55..]));
        Answer(exchange, Ok);
        Assert.Equal(RequestEnd.Finished, exchange.EndRequests());
        Assert.True(exchange.BackendReusable);
    }

    [Fact]
    public void ProcessRequest_SeveralConnectionHeadersListingClose_CloseTakenOutOfEach()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);

        var forwarded = Forward(exchange, "GET / HTTP/1.1\r\nConnection: close\r\nHost: a\r\nConnection: TE, close\r\n\r\n");

        Assert.Equal("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE\r\n\r\n", forwarded);
    }

    [Fact]
    public void EndRequests_ClientDoneThenAnswerMakesTheConnectionSingleUse_ExchangeStillOverForTheClient()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET / HTTP/1.1\r\n\r\n");

        Assert.Equal(RequestEnd.AwaitResponses, exchange.EndRequests());
        Answer(exchange, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi");

        // The client has its whole answer and nothing more to send: it is closed, and the connection not kept.
        Assert.True(exchange.ExchangeOver);
        Assert.False(exchange.BackendReusable);
    }

    [Fact]
    public void Process_BytesAfterTheLastAnswerOwed_NotReusable()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");

        var answered = Answer(exchange, Ok + "HTTP/1.1 408 Request Timeout\r\n\r\n");

        Assert.Equal(OkClosed, answered);
        Assert.True(exchange.ExchangeOver);
        Assert.False(exchange.BackendReusable);
    }

    [Fact]
    public void WithoutReuse_ClientsClose_PassedOnAndNeverAnsweredByUs()
    {
        using var exchange = new HttpExchange(Rules);
        var request = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";

        Assert.Equal(request, Forward(exchange, request));
        Assert.Equal(Ok, Answer(exchange, Ok));
        Assert.False(exchange.ExchangeOver);
        Assert.Equal(RequestEnd.HalfClose, exchange.EndRequests());
        Assert.False(exchange.BackendReusable);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n\r\n", true)]
    [InlineData("HEAD / HTTP/1.1\r\n\r\n", true)]
    [InlineData("PUT /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", true)]
    [InlineData("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("PATCH / HTTP/1.1\r\n\r\n", false)]
    [InlineData("PUT /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nx", false)]
    [InlineData("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", true)]
    [InlineData("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("GET /1 HTTP/1.1\r\n\r\nGET /2 HT", false)]
    public void Replayable_WholeIdempotentRequestsOnly_OnlyThen(string request, bool replayable)
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, request);

        Assert.True(exchange.HasRequest);
        Assert.Equal(replayable, exchange.Replayable);
    }

    [Fact]
    public void GoAway_RequestAlreadyForwarded_ItsAnswerUnchangedAndTheNextRequestIsTheLast()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");

        exchange.GoAway();
        var first = Answer(exchange, Ok);
        var forwarded = Forward(exchange, "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
        var second = Answer(exchange, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nhi");

        Assert.Equal(Ok, first);
        // The request goes as the client sent it (no Connection header of ours); the one after it goes nowhere.
        Assert.Equal("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n", forwarded);
        Assert.Equal(OkClosed, second);
        Assert.True(exchange.ExchangeOver);
        Assert.True(exchange.BackendReusable);
        Assert.Equal("GET /3 HTTP/1.1\r\nHost: a\r\n\r\n".Length, exchange.DiscardedRequestBytes);
    }

    [Fact]
    public void GoAway_BetweenTwoMessages_NotThereAnyMoreSoTheIdleClientCanBeClosed()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        Forward(exchange, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Answer(exchange, Ok);

        exchange.GoAway();

        // Nothing is owed and nothing asked to close yet: the client is still between two messages (the relay may be
        // released and the idle client closed), and the back-end connection may serve another client.
        Assert.True(exchange.BetweenMessages);
        Assert.True(exchange.Releasable);
        Assert.True(exchange.BackendReusable);
        Assert.False(exchange.ExchangeOver);
    }

    [Fact]
    public void GoAway_WithoutReuse_LastAnswerClosedAndTheExchangeOverForBothSides()
    {
        using var exchange = new HttpExchange(Rules);
        exchange.GoAway();

        var forwarded = Forward(exchange, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var answered = Answer(exchange, Ok);

        Assert.Equal("GET / HTTP/1.1\r\nHost: a\r\n\r\n", forwarded);
        Assert.Equal(OkClosed, answered);
        Assert.True(exchange.ExchangeOver);
        Assert.False(exchange.BackendReusable);
    }

    [Fact]
    public void GoAway_ConnectRequest_TunnelAnswerLeftAsItCame()
    {
        using var exchange = new HttpExchange(null, ownsBackendConnection: true);
        exchange.GoAway();

        Forward(exchange, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
        var answered = Answer(exchange, "HTTP/1.1 200 Connection Established\r\n\r\n", "tunnel bytes");

        Assert.Equal("HTTP/1.1 200 Connection Established\r\n\r\ntunnel bytes", answered);
        Assert.True(exchange.IsPassThrough);
        Assert.False(exchange.ExchangeOver);
    }
}
