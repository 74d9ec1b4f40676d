using System.Buffers;
using System.Buffers.Binary;
using SslCluster.Protocol.Http;
using SslCluster.Protocol.Net;
using Xunit;

namespace SslCluster.Protocol.Tests.Http;

/// <summary>
/// An HTTP/2 flow through the relay: its bytes pass unchanged, and a drain sends GOAWAY and a PING between two of the
/// server's frames, takes the PING's acknowledgement out of the client's bytes, and lets the connection close once every
/// stream is done (RFC 9113 section 6.8).
/// </summary>
public sealed class Http2ExchangeTests
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private const byte Data = 0, Headers = 1, RstStream = 3, Settings = 4, PushPromise = 5, Ping = 6, GoAway = 7, WindowUpdate = 8, Continuation = 9;
    private const byte EndStream = 1, Ack = 1, EndHeaders = 4, Padded = 8;

    internal static byte[] Frame(byte type, byte flags, int stream, int length = 0, byte fill = 0xAB)
    {
        var frame = new byte[9 + length];
        frame[0] = (byte)(length >> 16);
        frame[1] = (byte)(length >> 8);
        frame[2] = (byte)length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        frame.AsSpan(9).Fill(fill);
        return frame;
    }

    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>
    /// Feeds <paramref name="bytes"/> to one side in reads of the given sizes, in turn (all in one read when none are
    /// given); returns what came out.
    /// </summary>
    internal static byte[] Feed(Action<ReadOnlySpan<byte>, IBufferWriter<byte>> process, byte[] bytes, params int[] sizes)
    {
        var output = new ArrayBufferWriter<byte>();
        var at = 0;
        for (var i = 0; at < bytes.Length; i++)
        {
            var n = Math.Min(sizes.Length == 0 ? bytes.Length : sizes[i % sizes.Length], bytes.Length - at);
            process(bytes.AsSpan(at, n), output);
            at += n;
        }
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Client(Http2Exchange h2, byte[] bytes, params int[] sizes) => Feed(h2.ProcessRequest, bytes, sizes);

    private static byte[] Server(Http2Exchange h2, byte[] bytes, params int[] sizes) => Feed(h2.Process, bytes, sizes);

    /// <summary>The GOAWAY and PING the drain sends first, read back from what the client got.</summary>
    private static (int LastStream, byte[] PingData) ReadNotice(ReadOnlySpan<byte> frames)
    {
        Assert.Equal(new byte[] { 0, 0, 8, GoAway, 0, 0, 0, 0, 0 }, frames[..9].ToArray());
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(frames[13..])); // NO_ERROR
        Assert.Equal(new byte[] { 0, 0, 8, Ping, 0, 0, 0, 0, 0 }, frames[17..26].ToArray());
        return (BinaryPrimitives.ReadInt32BigEndian(frames[9..]), frames[26..34].ToArray());
    }

    private static byte[] PingAck(byte[] data)
    {
        var ack = Frame(Ping, Ack, 0, 8);
        data.CopyTo(ack, 9);
        return ack;
    }

    /// <summary>A conversation with one request answered: the client's preface and request, the server's settings and answer.</summary>
    private static (byte[] Client, byte[] Server) OneExchange(int stream = 1) => (
        Cat(Preface, Frame(Settings, 0, 0, 6), Frame(Headers, EndHeaders | EndStream, stream, 20)),
        Cat(Frame(Settings, 0, 0, 12), Frame(Settings, Ack, 0), Frame(Headers, EndHeaders, stream, 30), Frame(Data, EndStream, stream, 100)));

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(9)]
    [InlineData(17)]
    [InlineData(4096)]
    public void Relay_AnyReadSizes_EveryByteOfBothDirectionsPassesUnchanged(int size)
    {
        var h2 = new Http2Exchange();
        var client = Cat(Preface, Frame(Settings, 0, 0, 12), Frame(WindowUpdate, 0, 0, 4), Frame(Headers, EndHeaders, 1, 40),
            Frame(Data, 0, 1, 3000), Frame(Data, EndStream, 1, 1), Frame(Headers, 0, 3, 10), Frame(Continuation, EndHeaders | EndStream, 3, 5),
            Frame(Ping, 0, 0, 8), Frame(Ping, Ack, 0, 8, fill: 7), Frame(RstStream, 0, 3, 4));
        var server = Cat(Frame(Settings, 0, 0, 18), Frame(Headers, EndHeaders, 1, 25), Frame(Data, 0, 1, 20000), Frame(Data, EndStream, 1, 0),
            Frame(Ping, Ack, 0, 8), Frame(Ping, 0, 0, 8, fill: 7));

        Assert.Equal(client, Client(h2, client, size));
        Assert.Equal(server, Server(h2, server, size));
        Assert.False(h2.Stopped);
        Assert.Equal(0, h2.OpenStreams);
        Assert.Equal(3, h2.LastClientStream);
    }

    [Fact]
    public void Streams_EndedBothWaysResetOrPromised_CountedWhileOpen()
    {
        var h2 = new Http2Exchange();
        Client(h2, Cat(Preface, Frame(Headers, EndHeaders | EndStream, 1, 10), Frame(Headers, EndHeaders, 3, 10), Frame(Headers, EndHeaders, 5, 10)));
        Assert.Equal(3, h2.OpenStreams);

        // Stream 1: the client ended it with its headers, the server with its last data frame.
        Server(h2, Cat(Frame(Settings, 0, 0), Frame(Headers, EndHeaders, 1, 10), Frame(Data, EndStream, 1, 10)));
        Assert.Equal(2, h2.OpenStreams);
        // Stream 3: the server answers whole, the client's body is still to end.
        Server(h2, Frame(Headers, EndHeaders | EndStream, 3, 10));
        Assert.Equal(2, h2.OpenStreams);
        Client(h2, Frame(Data, EndStream, 3, 1));
        Assert.Equal(1, h2.OpenStreams);
        // Stream 5: reset by the client. A pushed stream 2 (padded promise) is open until the server ends it.
        Client(h2, Frame(RstStream, 0, 5, 4));
        var promise = Frame(PushPromise, EndHeaders | Padded, 1, 1 + 4 + 6 + 2);
        promise[9] = 2; // pad length
        BinaryPrimitives.WriteInt32BigEndian(promise.AsSpan(10), 2);
        Server(h2, promise, 3); // its promised stream split across reads
        Assert.Equal(1, h2.OpenStreams);
        Server(h2, Cat(Frame(Headers, EndHeaders, 2, 5), Frame(Data, EndStream, 2, 5)));
        Assert.Equal(0, h2.OpenStreams);
        Assert.Equal(5, h2.LastClientStream);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(7)]
    [InlineData(1)]
    public void GoAway_ServerBusy_GoAwayAndPingGoBetweenTwoOfItsFramesAndNowhereElse(int size)
    {
        var h2 = new Http2Exchange();
        var (client, server) = OneExchange();
        Client(h2, client);
        Server(h2, Frame(Settings, 0, 0, 12));
        h2.GoAway();
        var first = Frame(Data, 0, 1, 300, fill: 1);
        var second = Frame(Data, EndStream, 1, 300, fill: 2);

        var got = Server(h2, Cat(first, second), size);

        // At the first boundary the server's bytes reach: before the first frame (the read began at one), never inside it.
        Assert.Equal(first.Length + second.Length + 34, got.Length);
        var (last, _) = ReadNotice(got);
        Assert.Equal(0x7FFF_FFFF, last);
        Assert.Equal(Cat(first, second), got[34..]);
        // Sent once.
        Assert.Equal(Frame(Ping, Ack, 0, 8), Server(h2, Frame(Ping, Ack, 0, 8)));
    }

    [Fact]
    public void GoAway_InsideTheServersHeaderBlock_WaitsForItsLastContinuation()
    {
        var h2 = new Http2Exchange();
        Client(h2, OneExchange().Client);
        Server(h2, Frame(Settings, 0, 0, 12));
        Server(h2, Frame(Headers, 0, 1, 20)); // no END_HEADERS: CONTINUATION frames follow, nothing may come between
        h2.GoAway();
        Assert.False(((IDrainableFlow)h2).Releasable);
        var more = Cat(Frame(Continuation, 0, 1, 10), Frame(Continuation, EndHeaders, 1, 10));
        var data = Frame(Data, EndStream, 1, 5);

        var got = Server(h2, Cat(more, data));

        Assert.Equal(more, got[..more.Length]);
        ReadNotice(got.AsSpan(more.Length));
        Assert.Equal(data, got[(more.Length + 34)..]);
    }

    [Fact]
    public void Drain_IdleConnection_GoAwayAndPingThenAfterTheAckAnotherGoAwayNamingTheLastStreamAndTheClose()
    {
        var h2 = new Http2Exchange();
        IDrainableFlow flow = h2;
        var (client, server) = OneExchange(stream: 7);
        Client(h2, client);
        Server(h2, server);
        Assert.False(flow.Releasable); // not draining
        Assert.Equal(TimeSpan.Zero, flow.IdleBeforeRelease);

        h2.GoAway();
        Assert.True(flow.BetweenMessages);
        Assert.True(flow.Releasable);
        var notice = new ArrayBufferWriter<byte>();
        Assert.False(flow.AfterRelease(notice)); // the flow relays on, waiting for the PING's answer
        var (last, ping) = ReadNotice(notice.WrittenSpan);
        Assert.Equal(0x7FFF_FFFF, last);
        Assert.False(flow.Releasable);

        // The client's answer, a byte at a time, between its other frames: ours is taken out, a server's PING answer passes.
        var theirs = Frame(Ping, Ack, 0, 8, fill: 9);
        var update = Frame(WindowUpdate, 0, 0, 4);
        Assert.Equal(Cat(theirs, update), Client(h2, Cat(theirs, PingAck(ping), update), 1));
        Assert.True(flow.Releasable);

        var goodbye = new ArrayBufferWriter<byte>();
        Assert.True(flow.AfterRelease(goodbye));
        Assert.Equal(17, goodbye.WrittenCount);
        Assert.Equal(new byte[] { 0, 0, 8, GoAway, 0, 0, 0, 0, 0 }, goodbye.WrittenSpan[..9].ToArray());
        Assert.Equal(7, BinaryPrimitives.ReadInt32BigEndian(goodbye.WrittenSpan[9..]));
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(goodbye.WrittenSpan[13..]));
        Assert.Contains("GOAWAY", flow.ClosedMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Drain_StreamsStillOpenAfterTheAck_ReleasableOnlyOnceTheLastIsDone()
    {
        var h2 = new Http2Exchange();
        IDrainableFlow flow = h2;
        Client(h2, Cat(Preface, Frame(Headers, EndHeaders | EndStream, 1, 10)));
        Server(h2, Cat(Frame(Settings, 0, 0), Frame(Headers, EndHeaders, 1, 10), Frame(Data, 0, 1, 10)));
        h2.GoAway();
        var notice = new ArrayBufferWriter<byte>();
        Assert.False(flow.AfterRelease(notice));
        var (_, ping) = ReadNotice(notice.WrittenSpan);
        // A stream the client opened before it read the GOAWAY comes before the answer to the PING.
        Assert.Equal(Frame(Headers, EndHeaders | EndStream, 3, 10), Client(h2, Cat(Frame(Headers, EndHeaders | EndStream, 3, 10), PingAck(ping))));
        Assert.Equal(2, h2.OpenStreams);
        Assert.False(flow.Releasable);

        Server(h2, Frame(Data, EndStream, 1, 10));
        Assert.False(flow.Releasable);
        Server(h2, Frame(Headers, EndHeaders, 3, 10));
        Server(h2, Frame(Data, 0, 3, 10)[..12]); // in the middle of a frame: not yet
        Server(h2, Frame(Data, 0, 3, 10)[12..]);
        Server(h2, Frame(RstStream, 0, 3, 4));
        Assert.True(flow.Releasable);
        var goodbye = new ArrayBufferWriter<byte>();
        Assert.True(flow.AfterRelease(goodbye));
        Assert.Equal(3, BinaryPrimitives.ReadInt32BigEndian(goodbye.WrittenSpan[9..]));
    }

    [Fact]
    public void AfterRelease_ServerInTheMiddleOfAFrame_NothingWrittenAndTheFlowRelaysOn()
    {
        // A release races with the response loop, which may have forwarded the start of a frame meanwhile: a GOAWAY written
        // then would land inside it.
        var h2 = new Http2Exchange();
        IDrainableFlow flow = h2;
        Client(h2, OneExchange().Client);
        Server(h2, OneExchange().Server);
        h2.GoAway();
        var notice = new ArrayBufferWriter<byte>();
        Assert.False(flow.AfterRelease(notice));
        Client(h2, PingAck(ReadNotice(notice.WrittenSpan).PingData));
        Assert.True(flow.Releasable);

        Server(h2, Frame(Ping, 0, 0, 8)[..12]);
        var nothing = new ArrayBufferWriter<byte>();
        Assert.False(flow.AfterRelease(nothing));
        Assert.Equal(0, nothing.WrittenCount);

        Server(h2, Frame(Ping, 0, 0, 8)[12..]);
        var goodbye = new ArrayBufferWriter<byte>();
        Assert.True(flow.AfterRelease(goodbye));
        Assert.Equal(17, goodbye.WrittenCount);
    }

    [Fact]
    public void Drain_ClientInTheMiddleOfAFrameHeader_NotBetweenMessagesAndItsBytesGoOnAtItsEnd()
    {
        var h2 = new Http2Exchange();
        IDrainableFlow flow = h2;
        Assert.False(flow.BetweenMessages); // nothing yet, not even the preface
        var headers = Frame(Headers, EndHeaders | EndStream, 1, 10);
        Assert.Equal(Preface, Client(h2, Cat(Preface, headers[..4])));
        Assert.False(flow.BetweenMessages);

        var rest = new ArrayBufferWriter<byte>();
        h2.CompleteRequests(rest);
        Assert.Equal(headers[..4], rest.WrittenSpan.ToArray());
        Assert.Equal(RequestEnd.HalfClose, h2.EndRequests());
    }

    [Fact]
    public void GoAway_ServerSentItsOwnGoAway_NothingIsSentAndTheFlowIsLeftToEndByItself()
    {
        // A GOAWAY of ours after the server's could name a higher last stream, which RFC 9113 forbids.
        var h2 = new Http2Exchange();
        IDrainableFlow flow = h2;
        Client(h2, OneExchange().Client);
        var serverGoAway = Cat(Frame(Settings, 0, 0), Frame(GoAway, 0, 0, 8), Frame(Data, EndStream, 1, 5));
        Assert.Equal(serverGoAway, Server(h2, serverGoAway));
        h2.GoAway();

        Assert.True(flow.FramingStopped);
        Assert.False(flow.Releasable);
        var nothing = new ArrayBufferWriter<byte>();
        Assert.False(flow.AfterRelease(nothing));
        Assert.Equal(0, nothing.WrittenCount);
        Assert.Equal(Frame(Data, 0, 1, 40), Server(h2, Frame(Data, 0, 1, 40)));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: vip.test\r\n\r\n")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")]
    public void ProcessRequest_NotHttp2sPreface_PassedAsItIsAndLeftAlone(string start)
    {
        var h2 = new Http2Exchange();
        var bytes = Cat(System.Text.Encoding.Latin1.GetBytes(start), Frame(Headers, 0, 1, 3));

        Assert.Equal(bytes, Client(h2, bytes, 3));
        Assert.True(((IDrainableFlow)h2).FramingStopped);
    }

    [Fact]
    public void ProcessRequest_ClientSendsGoAway_LeftToEndByItself()
    {
        var h2 = new Http2Exchange();
        var bytes = Cat(Preface, Frame(GoAway, 0, 0, 8), Frame(Data, 0, 1, 30));
        Assert.Equal(bytes, Client(h2, bytes, 5));
        Assert.True(h2.Stopped);
    }

    [Fact]
    public void ProcessRequest_MoreOpenStreamsThanTracked_LeftToEndByItselfEveryBytePassed()
    {
        var h2 = new Http2Exchange();
        var frames = new List<byte[]> { Preface };
        for (var i = 0; i <= Http2Exchange.MaxTrackedStreams; i++) frames.Add(Frame(Headers, EndHeaders, 2 * i + 1, 3));
        frames.Add(Frame(Data, 0, 1, 10));
        var bytes = Cat([.. frames]);

        Assert.Equal(bytes, Client(h2, bytes, 1000));
        Assert.True(h2.Stopped);
    }
}
