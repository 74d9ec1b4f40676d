using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Http;

/// <summary>
/// An HTTP/2 flow (a client that agreed <c>h2</c> by ALPN) as the relay's transform, so that a drain ends it as an HTTP/2
/// server ends a connection on a graceful shutdown (RFC 9113 section 6.8) rather than cutting it at the deadline. Every byte
/// passes unchanged and in order; the transform reads the frame headers of both directions to know which streams are
/// open. When the node drains:
/// <list type="number">
/// <item>at the next frame boundary of the server's bytes (outside a header block), or at once when both sides are idle, the
/// client gets GOAWAY with the last stream identifier 2^31-1 and NO_ERROR, and a PING: it opens no new stream on this
/// connection (its next requests go to another node), and its answer to the PING tells that every stream it opened
/// before it read the GOAWAY has reached us;</item>
/// <item>that PING's acknowledgement is not forwarded (the server never sent that PING);</item>
/// <item>once it has come and every stream is done (both ends sent END_STREAM, or either reset it), the client gets a
/// second GOAWAY naming the last stream it opened, then close_notify and FIN, and the back-end connection is closed.</item>
/// </list>
/// A server that sends its own GOAWAY, a client that sends GOAWAY, a client preface that is not HTTP/2's, or more than
/// <see cref="MaxTrackedStreams"/> open streams stop this: the flow is then relayed as it is, and ends by itself or at the
/// drain's deadline. Nothing is held back but the start of a frame header from the client (the server could do nothing with
/// it yet) and, once the PING is out, a PING acknowledgement until it is whole.
/// <para>
/// Threads: <see cref="ProcessRequest"/> and <see cref="CompleteRequests"/> run on the client-to-backend loop,
/// <see cref="Process"/> on the backend-to-client loop, <see cref="IDrainableFlow.AfterRelease"/> when both have stopped;
/// the streams they share are kept under a lock.
/// </para>
/// </summary>
public sealed class Http2Exchange : IDrainableFlow
{
    /// <summary>The most streams tracked at once; a connection with more is left to end by itself or at the drain's deadline.</summary>
    internal const int MaxTrackedStreams = 4096;

    /// <summary>How a connection a drain closed this way ends, in its summary.</summary>
    internal const string ClosedAfterStreams = "closed with GOAWAY once its streams were done: the node is draining";

    private const int FrameHeaderLength = 9;
    private const int PingFrameLength = FrameHeaderLength + 8;

    private const byte Data = 0x0;
    private const byte Headers = 0x1;
    private const byte RstStream = 0x3;
    private const byte PushPromise = 0x5;
    private const byte Ping = 0x6;
    private const byte GoAwayFrame = 0x7;
    private const byte Continuation = 0x9;

    private const byte EndStreamFlag = 0x1;
    private const byte AckFlag = 0x1;
    private const byte EndHeadersFlag = 0x4;
    private const byte PaddedFlag = 0x8;

    // A stream's ends, in its entry.
    private const byte ClientEnded = 1;
    private const byte ServerEnded = 2;

    // The drain, in order: each step is taken by one party (GoAway; the response loop or the drain between relays; the
    // client loop; the drain between relays).
    private const int Serving = 0;
    private const int GoAwayDue = 1;
    private const int PingSent = 2;
    private const int PingAcked = 3;
    private const int Closing = 4;

    /// <summary>The PING's opaque data: one random value per process, so that no server's own PING is taken for ours.</summary>
    private static readonly byte[] PingData = RandomNumberGenerator.GetBytes(8);

    private static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private int _phase;
    private volatile bool _stopped;

    // Client to server (client loop): preface bytes matched so far, a frame header (and a PING acknowledgement's payload)
    // held until whole, and the payload bytes of the current frame still to pass.
    private int _prefaceMatched;
    private readonly byte[] _clientHeld = new byte[PingFrameLength];
    private int _clientHeldCount;
    private int _clientPayloadLeft;

    // Server to client (response loop): a frame header (and a PUSH_PROMISE's first payload bytes) being read, the payload
    // bytes of the current frame still to pass. Read by the sweep while that loop waits.
    private readonly byte[] _serverHeader = new byte[FrameHeaderLength + 5];
    private int _serverHeaderCount;
    private int _serverPayloadLeft;
    private int _promiseNeeded;
    private volatile bool _serverSpoke;
    private volatile bool _serverBetweenFrames = true;
    private volatile bool _serverInHeaderBlock;

    // Streams: id to the ends seen (ClientEnded, ServerEnded), those open only.
    private readonly Lock _gate = new();
    private Dictionary<int, byte>? _streams;
    private int _lastClientStream;

    /// <summary>True once the flow is relayed as it is, for good (any thread).</summary>
    public bool Stopped => _stopped;

    /// <summary>Streams open now (any thread).</summary>
    public int OpenStreams
    {
        get
        {
            lock (_gate) return _streams?.Count ?? 0;
        }
    }

    /// <summary>The highest stream identifier the client opened (any thread).</summary>
    public int LastClientStream
    {
        get
        {
            lock (_gate) return _lastClientStream;
        }
    }

    /// <inheritdoc />
    public bool RequestsEnded => false;

    /// <inheritdoc />
    public bool ExchangeOver => false;

    /// <inheritdoc />
    public void ProcessRequest(ReadOnlySpan<byte> clientBytes, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var input = clientBytes;
        if (_stopped)
        {
            ReleaseHeld(output);
            output.Pass(input);
            return;
        }

        while (_prefaceMatched < ClientPreface.Length && !input.IsEmpty)
        {
            var n = Math.Min(ClientPreface.Length - _prefaceMatched, input.Length);
            if (!input[..n].SequenceEqual(ClientPreface.Slice(_prefaceMatched, n)))
            {
                // Not HTTP/2's preface: nothing here can be read as frames.
                Stop();
                output.Pass(input);
                return;
            }
            output.Pass(input[..n]);
            _prefaceMatched += n;
            input = input[n..];
        }

        while (!input.IsEmpty && !_stopped)
        {
            if (_clientPayloadLeft > 0)
            {
                var n = Math.Min(_clientPayloadLeft, input.Length);
                output.Pass(input[..n]);
                _clientPayloadLeft -= n;
                input = input[n..];
                continue;
            }

            if (_clientHeldCount == 0 && input.Length >= FrameHeaderLength && !IsOurPingAck(input))
            {
                // The usual case: a whole header in the read, passed from it without a copy.
                var length = OnClientFrame(input[..FrameHeaderLength]);
                output.Pass(input[..FrameHeaderLength]);
                input = input[FrameHeaderLength..];
                _clientPayloadLeft = length;
                continue;
            }

            // A header split across reads, or the acknowledgement of our PING: gathered until whole. Only such an
            // acknowledgement is held beyond its header (then the whole frame).
            var wanted = _clientHeldCount < FrameHeaderLength ? FrameHeaderLength : PingFrameLength;
            var take = Math.Min(wanted - _clientHeldCount, input.Length);
            input[..take].CopyTo(_clientHeld.AsSpan(_clientHeldCount));
            _clientHeldCount += take;
            input = input[take..];
            if (_clientHeldCount < wanted) continue;
            var header = _clientHeld.AsSpan(0, FrameHeaderLength);
            if (wanted == FrameHeaderLength && IsOurPingAck(header)) continue;

            _clientHeldCount = 0;
            if (wanted == FrameHeaderLength)
            {
                _clientPayloadLeft = OnClientFrame(header);
                output.Pass(header);
            }
            else if (_clientHeld.AsSpan(FrameHeaderLength, 8).SequenceEqual(PingData))
            {
                // Ours: the client has read the GOAWAY, and every stream it opened before is here.
                Interlocked.CompareExchange(ref _phase, PingAcked, PingSent);
            }
            else
            {
                output.Pass(_clientHeld.AsSpan(0, PingFrameLength));
            }
        }

        if (_stopped)
        {
            // Stopped here or by the response loop meanwhile: what is held came before what is left.
            ReleaseHeld(output);
            output.Pass(input);
        }
    }

    /// <summary>A PING acknowledgement with a payload of 8 bytes while ours is unanswered: it may be the answer to ours.</summary>
    private bool IsOurPingAck(ReadOnlySpan<byte> header) =>
        Volatile.Read(ref _phase) == PingSent && header.Length >= FrameHeaderLength &&
        header[3] == Ping && (header[4] & AckFlag) != 0 && PayloadLength(header) == 8;

    private static int PayloadLength(ReadOnlySpan<byte> header) => (header[0] << 16) | (header[1] << 8) | header[2];

    private static int StreamId(ReadOnlySpan<byte> bytes) => (int)(BinaryPrimitives.ReadUInt32BigEndian(bytes) & 0x7FFF_FFFF);

    /// <summary>A frame header from the client: tracks the streams it opens and ends; returns its payload length.</summary>
    private int OnClientFrame(ReadOnlySpan<byte> header)
    {
        var type = header[3];
        var flags = header[4];
        var stream = StreamId(header[5..]);
        switch (type)
        {
            case Headers:
                lock (_gate)
                {
                    if (stream > _lastClientStream && (stream & 1) == 1)
                    {
                        _lastClientStream = stream;
                        if (!OpenLocked(stream, 0)) break;
                    }
                    if ((flags & EndStreamFlag) != 0) EndLocked(stream, ClientEnded);
                }
                break;
            case Data when (flags & EndStreamFlag) != 0:
                lock (_gate) EndLocked(stream, ClientEnded);
                break;
            case RstStream:
                lock (_gate) _streams?.Remove(stream);
                break;
            case GoAwayFrame:
                // The client leaves by itself once its streams are done.
                Stop();
                break;
        }
        return PayloadLength(header);
    }

    /// <summary>
    /// A stream opens, with the <paramref name="ends"/> already done; false, and the flow relayed as it is from now on,
    /// when <see cref="MaxTrackedStreams"/> are open already.
    /// </summary>
    private bool OpenLocked(int stream, byte ends)
    {
        _streams ??= [];
        if (_streams.Count >= MaxTrackedStreams)
        {
            Stop();
            return false;
        }
        _streams[stream] = ends;
        return true;
    }

    /// <summary>One end of a stream is done; a stream done at both ends is forgotten.</summary>
    private void EndLocked(int stream, byte end)
    {
        if (_streams is null || !_streams.TryGetValue(stream, out var ends)) return;
        ends |= end;
        if (ends == (ClientEnded | ServerEnded)) _streams.Remove(stream);
        else _streams[stream] = ends;
    }

    /// <inheritdoc />
    public void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var input = backendBytes;
        var passed = 0;
        var at = 0;
        while (!_stopped)
        {
            if (Volatile.Read(ref _phase) == GoAwayDue && _serverHeaderCount == 0 && _serverPayloadLeft == 0 &&
                _serverSpoke && !_serverInHeaderBlock)
            {
                // A frame boundary outside a header block: the GOAWAY and the PING go between two of the server's frames.
                output.Pass(input[passed..at]);
                passed = at;
                WriteGoAwayAndPing(output);
            }
            if (at == input.Length) break;
            at += ReadServer(input[at..]);
        }

        output.Pass(input[passed..]);
        _serverBetweenFrames = _serverHeaderCount == 0 && _serverPayloadLeft == 0;
    }

    /// <summary>Reads the server's bytes up to the end of the current frame header or payload; returns how many it read.</summary>
    private int ReadServer(ReadOnlySpan<byte> input)
    {
        if (_serverPayloadLeft > 0)
        {
            var n = Math.Min(_serverPayloadLeft, input.Length);
            if (_promiseNeeded > 0)
            {
                // A PUSH_PROMISE's pad length and promised stream: the stream the server opens.
                var take = Math.Min(_promiseNeeded, n);
                input[..take].CopyTo(_serverHeader.AsSpan(_serverHeaderCount));
                _serverHeaderCount += take;
                _promiseNeeded -= take;
                _serverPayloadLeft -= take;
                if (_promiseNeeded == 0) OnPromise();
                return take;
            }
            _serverPayloadLeft -= n;
            return n;
        }

        var headerTake = Math.Min(FrameHeaderLength - _serverHeaderCount, input.Length);
        input[..headerTake].CopyTo(_serverHeader.AsSpan(_serverHeaderCount));
        _serverHeaderCount += headerTake;
        if (_serverHeaderCount == FrameHeaderLength) OnServerFrame();
        return headerTake;
    }

    /// <summary>A whole frame header from the server.</summary>
    private void OnServerFrame()
    {
        var header = _serverHeader.AsSpan(0, FrameHeaderLength);
        var type = header[3];
        var flags = header[4];
        var stream = StreamId(header[5..]);
        _serverPayloadLeft = PayloadLength(header);
        _serverHeaderCount = 0;
        _serverSpoke = true;
        switch (type)
        {
            case Headers:
                _serverInHeaderBlock = (flags & EndHeadersFlag) == 0;
                if ((flags & EndStreamFlag) != 0) lock (_gate) EndLocked(stream, ServerEnded);
                break;
            case Continuation:
                _serverInHeaderBlock = (flags & EndHeadersFlag) == 0;
                break;
            case Data when (flags & EndStreamFlag) != 0:
                lock (_gate) EndLocked(stream, ServerEnded);
                break;
            case RstStream:
                lock (_gate) _streams?.Remove(stream);
                break;
            case PushPromise:
                _serverInHeaderBlock = (flags & EndHeadersFlag) == 0;
                _promiseNeeded = (flags & PaddedFlag) != 0 ? 5 : 4;
                // Kept after the header's bytes until the promised stream is read; the header is read again after it.
                _serverHeaderCount = FrameHeaderLength;
                if (_serverPayloadLeft < _promiseNeeded) Stop();
                break;
            case GoAwayFrame:
                // The server leaves by itself; a GOAWAY of ours after its own could name a higher stream, which RFC 9113
                // forbids.
                Stop();
                break;
        }
    }

    /// <summary>A PUSH_PROMISE's promised stream: open, the client sending nothing on it.</summary>
    private void OnPromise()
    {
        var padded = (_serverHeader[4] & PaddedFlag) != 0;
        var promised = StreamId(_serverHeader.AsSpan(FrameHeaderLength + (padded ? 1 : 0)));
        _serverHeaderCount = 0;
        lock (_gate) OpenLocked(promised, ClientEnded);
    }

    /// <summary>GOAWAY naming 2^31-1 (no stream refused yet) and our PING, once: the first step of the drain.</summary>
    private void WriteGoAwayAndPing(IBufferWriter<byte> output)
    {
        if (Interlocked.CompareExchange(ref _phase, PingSent, GoAwayDue) != GoAwayDue) return;
        var frames = output.GetSpan(2 * PingFrameLength);
        WriteGoAway(frames, 0x7FFF_FFFF);
        var ping = frames[PingFrameLength..];
        ping[..FrameHeaderLength].Clear();
        ping[2] = 8;
        ping[3] = Ping;
        PingData.CopyTo(ping[FrameHeaderLength..]);
        output.Advance(2 * PingFrameLength);
    }

    /// <summary>A GOAWAY frame with NO_ERROR and <paramref name="lastStream"/>, 17 bytes.</summary>
    private static void WriteGoAway(Span<byte> frame, int lastStream)
    {
        frame[..PingFrameLength].Clear();
        frame[2] = 8;
        frame[3] = GoAwayFrame;
        BinaryPrimitives.WriteInt32BigEndian(frame[FrameHeaderLength..], lastStream);
    }

    /// <inheritdoc />
    public void Complete(IBufferWriter<byte> output)
    {
    }

    /// <inheritdoc />
    public void CompleteRequests(IBufferWriter<byte> output) => ReleaseHeld(output);

    /// <summary>Bytes held of a frame header the client never finished go on as they came, before its end.</summary>
    private void ReleaseHeld(IBufferWriter<byte> output)
    {
        if (_clientHeldCount == 0) return;
        output.Pass(_clientHeld.AsSpan(0, _clientHeldCount));
        _clientHeldCount = 0;
    }

    /// <inheritdoc />
    public RequestEnd EndRequests() => RequestEnd.HalfClose;

    /// <summary>The flow is relayed as it is from now on, for good.</summary>
    private void Stop() => _stopped = true;

    bool IDrainableFlow.BetweenMessages => _prefaceMatched == ClientPreface.Length && _clientHeldCount == 0 && _clientPayloadLeft == 0;

    bool IDrainableFlow.Releasable
    {
        get
        {
            if (_stopped || !_serverSpoke || !_serverBetweenFrames || _serverInHeaderBlock) return false;
            var phase = Volatile.Read(ref _phase);
            return phase == GoAwayDue || (phase == PingAcked && OpenStreams == 0);
        }
    }

    bool IDrainableFlow.FramingStopped => _stopped;

    /// <summary>
    /// None: the GOAWAY is the client's notice, and once its PING is answered with no stream open, the client can open
    /// no new one.
    /// </summary>
    TimeSpan IDrainableFlow.IdleBeforeRelease => TimeSpan.Zero;

    /// <inheritdoc />
    public void GoAway() => Interlocked.CompareExchange(ref _phase, GoAwayDue, Serving);

    bool IDrainableFlow.AfterRelease(IBufferWriter<byte> toClient)
    {
        // A flow that stopped being framed (the server's own GOAWAY) gets nothing of ours; and nothing goes in the middle
        // of a server frame or header block (the response loop may have forwarded part of one as the release came).
        if (_stopped || !_serverBetweenFrames || _serverInHeaderBlock) return false;
        switch (Volatile.Read(ref _phase))
        {
            case GoAwayDue:
                WriteGoAwayAndPing(toClient);
                return false;
            case PingAcked when OpenStreams == 0:
                // The second GOAWAY: every stream up to the last the client opened was served, none after it.
                WriteGoAway(toClient.GetSpan(PingFrameLength), LastClientStream);
                toClient.Advance(PingFrameLength);
                Volatile.Write(ref _phase, Closing);
                return true;
            default:
                return false;
        }
    }

    /// <summary>An HTTP/2 client acknowledges what it reads (WINDOW_UPDATE) as long as it reads.</summary>
    bool IDrainableFlow.LingersAfterClose => true;

    string IDrainableFlow.ClosedMessage => ClosedAfterStreams;
}
