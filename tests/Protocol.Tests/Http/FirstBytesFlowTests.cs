using System.Buffers;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using Xunit;
using static SslCluster.Protocol.Tests.Http.Http2ExchangeTests;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// A flow that may speak anything, judged by its client's first read: HTTP/2 with prior knowledge by its preface's first
/// line, HTTP/1.x by a whole request line, anything else passed as it is; a server that speaks first makes it not HTTP.
/// </summary>
public sealed class FirstBytesFlowTests
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private static byte[] Client(FirstBytesFlow flow, byte[] bytes) => Feed(flow.ProcessRequest, bytes);

    private static byte[] Server(FirstBytesFlow flow, byte[] bytes) => Feed(flow.Process, bytes);

    [Theory]
    [InlineData(24)] // the whole preface
    [InlineData(16)] // its first line
    [InlineData(4)] // "PRI ": a method of HTTP/2's preface alone
    public void ProcessRequest_Http2Preface_ReadAsHttp2(int length)
    {
        using var flow = new FirstBytesFlow();
        Assert.Equal(Preface[..length], Client(flow, Preface[..length]));
        Assert.IsType<Http2Exchange>(flow.Chosen);
        Assert.Equal(Preface[length..], Client(flow, Preface[length..]));
        Assert.False(((IDrainableFlow)flow).FramingStopped);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: vip.test\r\n\r\n", false)]
    [InlineData("PRI", true)] // shorter than "PRI ": judged on it alone, not HTTP
    [InlineData("PRI * HTTP/1.1\r\n\r\n", false)] // not the preface: a request line of a method named PRI
    [InlineData("HELLO not http\r\n", true)]
    public void ProcessRequest_AnythingElse_JudgedAsHttp1OrPassed(string first, bool stopped)
    {
        using var flow = new FirstBytesFlow();
        var bytes = System.Text.Encoding.Latin1.GetBytes(first);
        Assert.Equal(bytes, Client(flow, bytes));
        Assert.IsType<HttpExchange>(flow.Chosen);
        Assert.Equal(stopped, ((IDrainableFlow)flow).FramingStopped);
    }

    [Fact]
    public void Process_ServerSpeaksFirst_NotHttpWhateverTheClientSendsThen()
    {
        using var flow = new FirstBytesFlow();
        var banner = "220 mail.vip.test ESMTP\r\n"u8.ToArray();
        Assert.Equal(banner, Server(flow, banner));
        Assert.Equal(Preface, Client(flow, Preface));
        Assert.IsType<HttpExchange>(flow.Chosen);
        Assert.True(((IDrainableFlow)flow).FramingStopped);
    }

    [Fact]
    public void Process_Http2ServerSendsItsSettingsFirst_ReadAsHttp2()
    {
        // gRPC servers send their SETTINGS without waiting for the client's preface, which may come a moment later.
        using var flow = new FirstBytesFlow();
        var settings = Frame(4, 0, 0, 12);
        Assert.Equal(settings, Server(flow, settings));
        Assert.IsType<Http2Exchange>(flow.Chosen);
        Assert.Equal(Preface, Client(flow, Preface));
        Assert.False(((IDrainableFlow)flow).FramingStopped);
    }

    [Fact]
    public void ProcessAndProcessRequest_ReadsThatBroughtNothing_ChooseNothing()
    {
        using var flow = new FirstBytesFlow();
        var output = new ArrayBufferWriter<byte>();
        flow.Process([], output);
        flow.ProcessRequest([], output);
        Assert.Equal(0, output.WrittenCount);
        Assert.Null(flow.Chosen);
        Client(flow, Preface);
        Assert.IsType<Http2Exchange>(flow.Chosen);
    }

    [Fact]
    public void GoAway_BeforeTheFirstBytes_NothingToReleaseThenTheChosenFlowIsDraining()
    {
        using var flow = new FirstBytesFlow();
        IDrainableFlow drainable = flow;
        flow.GoAway();
        Assert.Null(flow.Chosen);
        Assert.False(drainable.BetweenMessages); // not known to speak HTTP yet
        Assert.False(drainable.Releasable);
        Assert.False(drainable.AfterRelease(new ArrayBufferWriter<byte>()));

        Client(flow, Preface);
        var settings = Frame(4, 0, 0, 6);
        var got = Server(flow, settings);

        // Drained from its first frame on: the GOAWAY and the PING follow the server's SETTINGS.
        Assert.Equal(settings.Length + 34, got.Length);
        Assert.Equal(settings, got[..settings.Length]);
        Assert.Equal(7, got[settings.Length + 3]);
        Assert.Equal(6, got[settings.Length + 17 + 3]);
    }
}
