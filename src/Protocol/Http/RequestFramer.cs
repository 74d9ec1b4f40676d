using System.Buffers;
using System.Text;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Http;

/// <summary>What the response side must know of one request: how to frame its answer, and whether the client closes after it.</summary>
internal readonly record struct PendingRequest(RequestKind Kind, bool CloseAfter);

/// <summary>How the client's end of sending leaves the back-end connection (see <see cref="RequestFramer.EndInput"/>).</summary>
public enum RequestEnd
{
    /// <summary>The back end must see the client's half-close (a FIN, or close_notify): the connection is not kept.</summary>
    HalfClose,

    /// <summary>Every request is whole and some await their answers: keep relaying them, then end without closing the back end.</summary>
    AwaitResponses,

    /// <summary>Every request is whole and answered: the exchange is over and the back-end connection is idle.</summary>
    Finished,
}

/// <summary>
/// Frames the client-to-backend bytes of one connection into requests (heads, then Content-Length or chunked bodies)
/// and queues, in order, what the response side must know of each: whether it was HEAD (no response body) or CONNECT
/// (a tunnel), and whether the client asked to close after it.
/// <para>
/// Without <c>ownsBackendConnection</c> every byte is forwarded as it came (URL rewrite only watches). With it
/// (<c>ssl-server N http-reuse</c>) the back-end connection outlives the client's: a client's <c>Connection: close</c> is
/// taken out of the request, remembered, and honoured by closing the client after that response (RFC 9112 section
/// 9.6); nothing the client sends after such a request is forwarded. An HTTP/1.0 request, a protocol switch, a
/// tunnel or bytes that cannot be framed make the back-end connection single-use.
/// </para>
/// <para>
/// With a <see cref="RequestHeaderInsertion"/> every request head gets its lines, after the client's own headers of
/// those names were taken out. Bytes that cannot be framed strictly (a head too large or malformed, bare line feeds,
/// a body that breaks its own framing) are then refused rather than passed: nothing more of the client's goes to the
/// back end, since a server reading them could find a request whose headers we never saw (<see cref="Refused"/>).
/// </para>
/// <para>
/// With <c>sniff</c> (a flow nothing else frames: a TLS client that named no protocol by ALPN on an ssl-server that reads
/// no HTTP, a clear-text relay without header insertion) the flow may not be HTTP at all: it is framed only when the client's first bytes begin with a whole plain request line
/// (<see cref="HttpHead.BeginsWithRequestLine"/>), and passed as it is from the start otherwise, or when its server
/// spoke first (SMTP, IMAP, POP3 over TLS). Until the client's first bytes are judged it is not between two messages,
/// so a drain never closes it for being idle.
/// </para>
/// <para>
/// <see cref="Process"/> and <see cref="EndInput"/> run on the client-to-backend thread, <see cref="Take"/>,
/// <see cref="Peek"/> and <see cref="ResponseCompleted"/> on the backend-to-client thread: only the queue and the
/// counts are shared, under a lock.
/// </para>
/// </summary>
internal sealed class RequestFramer(bool ownsBackendConnection = false, RequestHeaderInsertion? insertion = null, bool sniff = false) : IDisposable
{
    /// <summary>
    /// Requests sent ahead of their responses (pipelining) that are remembered; a client that sends more stops the
    /// framing rather than growing the queue without bound.
    /// </summary>
    internal const int MaxPending = 1024;

    private readonly HeadBuffer _head = new();
    private readonly Queue<PendingRequest> _pending = new();
    // The monitor of the private queue above: a framer lives as long as its connection, and a Lock object of its own
    // would be 40 bytes more per connection.
    private object Gate => _pending;
    private MessageBody _body = MessageBody.None;
    private bool _stopped;

    /// <summary>Sniffing, and the client's first bytes not judged yet (client thread).</summary>
    private bool _sniffing = sniff;

    /// <summary>
    /// Whether the flow is HTTP has been judged: by the client's first bytes, or as not HTTP because its server spoke
    /// first (under Gate; from the start when not sniffing).
    /// </summary>
    private bool _judged = !sniff;

    /// <summary>A request asked to close: once its body is forwarded, the client's bytes go nowhere.</summary>
    private bool _closeRequested;

    /// <summary>The node is draining (<see cref="GoAway"/>, any thread): the next request read is the client's last.</summary>
    private volatile bool _goingAway;

    /// <summary>The request line of the head being gathered has been seen and is HTTP/1.x.</summary>
    private bool _lineChecked;

    // Under insertion: a WebSocket upgrade was forwarded and waits for its answer; the server switched (response thread).
    private bool _awaitingSwitch;
    private bool _switched;

    // Under insertion: the body of the last request sent is not whole yet (under Gate); the server answered that
    // request before its body was whole (response thread).
    private bool _bodyPending;
    private bool _answeredEarly;

    // Shared with the response side, under Gate.
    private int _unanswered;
    private bool _inputEnded;
    private bool _halfClosed;
    private bool _singleUse;

    /// <summary>Requests framed so far (client thread).</summary>
    public int RequestsSeen { get; private set; }

    /// <summary>True once framing stopped: every byte from here on passes as it is (client thread).</summary>
    public bool Stopped => _stopped;

    /// <summary>
    /// With header insertion, the client sent bytes that could not be framed strictly: they and everything after them
    /// are discarded (client thread).
    /// </summary>
    public bool Refused { get; private set; }

    /// <summary>
    /// Every request so far is whole, was framed, and may be sent again on another connection if the first one closes
    /// with no answer (an idempotent method: RFC 9110 section 9.2.2) (client thread).
    /// </summary>
    public bool Replayable => !_stopped && _body.IsDone && _head.IsEmpty && _onlyIdempotent;

    private bool _onlyIdempotent = true;

    /// <summary>Requests forwarded whose answers have not been relayed whole yet (any thread).</summary>
    public int Unanswered
    {
        get
        {
            lock (Gate) return _unanswered;
        }
    }

    /// <summary>Client bytes not forwarded because they came after a request that asked to close.</summary>
    public long Discarded { get; private set; }

    /// <summary>True once a request that asked to close has been forwarded whole: nothing more goes to the back end.</summary>
    public bool RequestsEnded => _closeRequested && _body.IsDone;

    /// <summary>
    /// After both loops: every request forwarded whole and answered, and nothing made the back-end connection unfit
    /// for another client (an HTTP/1.0 request, a tunnel or protocol switch, bytes that cannot be framed).
    /// </summary>
    public bool Reusable
    {
        get
        {
            lock (Gate) return ownsBackendConnection && !_singleUse && _unanswered == 0 && !_stopped && _body.IsDone && _head.IsEmpty;
        }
    }

    /// <summary>
    /// Every byte read so far was framed into whole requests and forwarded, framing goes on and no request asked to
    /// close: the client is between two messages (client thread).
    /// </summary>
    public bool BetweenMessages => !_sniffing && !_stopped && !_closeRequested && _body.IsDone && _head.IsEmpty;

    /// <summary>
    /// No request read so far waits for its answer, and nothing made the back-end connection single-use, or the node
    /// drains (<see cref="GoAway"/>), when a single-use one is released too, to be closed with its client (any thread).
    /// </summary>
    public bool Releasable
    {
        get
        {
            lock (Gate) return _unanswered == 0 && (!_singleUse || _goingAway);
        }
    }

    /// <summary>
    /// The client's next requests go over another back-end connection (the last one was released between two
    /// messages, and only when <see cref="Reusable"/>): the counts of requests start again. Call between relays only.
    /// </summary>
    public void NextConnection()
    {
        System.Diagnostics.Debug.Assert(BetweenMessages && !_inputEnded && !_singleUse && _unanswered == 0 && _pending.Count == 0 && !_lineChecked,
            "the next connection starts between two messages with nothing owed");
        RequestsSeen = 0;
        _onlyIdempotent = true;
    }

    /// <summary>Forwards (to <paramref name="output"/>) what the back end is to receive of <paramref name="data"/>.</summary>
    public void Process(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        while (!data.IsEmpty)
        {
            // Not HTTP: nothing is held yet, and the marker is queued.
            if (_sniffing && !IsHttp(data)) _stopped = true;
            if (RequestsEnded)
            {
                Discarded += data.Length;
                return;
            }
            if (_stopped)
            {
                // Under insertion a protocol switch passes bytes only once the server agreed (101); before, or after
                // any other answer, what the client sends is not framed, so it is refused.
                if (_awaitingSwitch && !Volatile.Read(ref _switched))
                {
                    Refuse(data.Length);
                    return;
                }
                output.Pass(data);
                return;
            }
            if (!_body.IsDone)
            {
                if (insertion is not null && Volatile.Read(ref _answeredEarly))
                {
                    // The server answered before the body was whole without reading it all (417 to Expect, say): a
                    // server that keeps the connection would read the rest of the body as a request of the client's.
                    Refuse(data.Length);
                    return;
                }
                var n = _body.Advance(data, out var malformed);
                if ((malformed || _body.Lenient || _body.HasTrailer) && insertion is not null)
                {
                    // A bare line feed in the chunked coding: a server ending lines at CRLF only would read other chunks.
                    // A trailer field: some servers merge trailers into the headers, where it could stand for ours.
                    Refuse(data.Length);
                    return;
                }
                output.Pass(data[..n]);
                data = data[n..];
                if (malformed) Stop(output);
                else if (_body.Lenient && ownsBackendConnection) MarkSingleUse();
                if (insertion is not null && _body.IsDone) lock (Gate) _bodyPending = false;
                continue;
            }
            if (_head.IsEmpty)
            {
                // RFC 9112 section 2.2: blank lines before a request line are ignored (and passed as they are; under
                // insertion dropped, since a lone CR among them could be read as part of the line).
                var blank = HttpHead.LeadingBlankBytes(data);
                if (insertion is null) output.Pass(data[..blank]);
                data = data[blank..];
                if (data.IsEmpty) return;
            }
            switch (_head.Read(ref data, out var head))
            {
                case HeadStatus.NeedMore:
                    // An HTTP/0.9 request ("GET /path" and a line end) never brings a blank line: judge the request
                    // line as soon as it is whole, so that its response is not waited for as a head. Bytes that cannot
                    // begin a request line are judged at once: a client that speaks something else may send a short
                    // message with no line feed and wait for its answer.
                    if (!_lineChecked)
                    {
                        var wholeLine = _head.Held.Contains((byte)'\n');
                        if (wholeLine || HttpHead.CannotStartRequestLine(_head.Held))
                        {
                            if (!wholeLine || !HttpHead.TryParseRequestLine(_head.Held, out _, out _)) StopOrRefuse(output, _head.Held.Length);
                            _lineChecked = true;
                        }
                    }
                    return;
                case HeadStatus.TooLarge:
                    if (insertion is not null)
                    {
                        Refuse(_head.Held.Length + data.Length);
                        return;
                    }
                    Stop(output);
                    break;
                default:
                    OnHead(head, output);
                    _head.Clear();
                    _lineChecked = false;
                    break;
            }
        }
    }

    private void OnHead(ReadOnlySpan<byte> head, IBufferWriter<byte> output)
    {
        if (!HttpHead.TryParseRequestLine(head, out var kind, out var headersStart, out var http10) ||
            !HttpHead.TryReadFraming(head, headersStart, out var framing) ||
            (framing.HasTransferEncoding && !framing.Chunked) ||
            (insertion is not null && !InsertableRequest(head, headersStart, kind, http10, framing)))
        {
            // A request whose transfer coding does not end in chunked cannot be framed (RFC 9112 section 6.3). Under
            // header insertion, neither can one a server might read with other headers than we did.
            if (insertion is not null)
            {
                Refuse(head.Length);
                return;
            }
            output.Pass(head);
            Stop(null);
            return;
        }
        var clientClose = ownsBackendConnection && !http10 && framing.ConnectionClose;
        // Draining: this request is the client's last, answered with Connection: close (RFC 9112 section 9.6), as if
        // the client had asked, whether or not the back-end connection is ours to keep. Not a CONNECT: its answer opens
        // a tunnel, which ends with the drain's deadline.
        var close = clientClose || (_goingAway && kind != RequestKind.Connect);
        if (insertion is not null && !HasRoom())
        {
            // Nothing of a request that cannot be remembered goes out: its answer could not be framed.
            Refuse(head.Length);
            return;
        }
        if (clientClose || insertion is not null)
        {
            // The client's close is ours to honour: the back end must keep the connection for the next client.
            WriteHead(head, headersStart, clientClose, output);
        }
        else
        {
            output.Pass(head);
        }
        if (http10 || (framing.HasTransferEncoding && framing.ContentLength >= 0) || (ownsBackendConnection && (!framing.Strict || !HttpHead.IsStrictRequestLine(head, headersStart))))
        {
            // HTTP/1.0: its keep-alive is the exception, and the back end answers it as HTTP/1.0. Both Content-Length
            // and Transfer-Encoding (RFC 9112 section 6.3), or a head with bare line feeds, control characters or
            // odd header names: a server may frame it differently than we do and read what follows as another
            // request (request smuggling), so no other client's request may follow on this connection.
            lock (Gate) _singleUse = true;
        }
        if (!Enqueue(new PendingRequest(kind, close))) return;
        RequestsSeen++;
        _onlyIdempotent &= HttpHead.IsIdempotentMethod(head);
        if (insertion is not null && framing.WebSocketUpgrade)
        {
            // The answer decides: a 101 (Switched, from the response side) lets the WebSocket bytes pass; until then,
            // and after any other answer, the client's bytes are refused.
            _awaitingSwitch = true;
            _stopped = true;
            lock (Gate) _singleUse = true;
            return;
        }
        if (kind == RequestKind.Connect || framing.HasUpgrade)
        {
            // What follows may be a tunnel or another protocol, decided by a response not seen yet: stop here, so
            // the response side frames the answer to this request and passes everything after it.
            Stop(null);
            return;
        }
        _body = framing.HasTransferEncoding ? MessageBody.Chunked
            : framing.ContentLength > 0 ? MessageBody.OfLength(framing.ContentLength)
            : MessageBody.None;
        if (insertion is not null && !_body.IsDone) lock (Gate) _bodyPending = true;
        _closeRequested = close;
    }

    /// <summary>
    /// The head as the back end is to read it: with <paramref name="dropClose"/>, the <c>close</c> token taken out of
    /// every Connection header (a line dropped when nothing else is listed); under header insertion, the client's
    /// headers of the inserted names dropped and the inserted lines added after the last header.
    /// </summary>
    private void WriteHead(ReadOnlySpan<byte> head, int headersStart, bool dropClose, IBufferWriter<byte> output)
    {
        var written = 0;
        var reader = new HeaderReader(head, headersStart);
        while (reader.MoveNext())
        {
            if (insertion?.Removes(reader.Name) == true)
            {
                insertion.Counters?.RemovedLine();
                output.Pass(head[written..reader.LineStart]);
                written = reader.LineEnd;
                continue;
            }
            var value = head[reader.ValueStart..reader.ValueEnd];
            if (!Ascii.EqualsIgnoreCase(reader.Name, "connection"u8) || !HasDroppedToken(value, dropClose)) continue;
            output.Pass(head[written..reader.LineStart]);
            written = reader.LineEnd;
            var kept = 0;
            foreach (var range in value.Split((byte)','))
            {
                var token = value[range].Trim(" \t"u8);
                if (token.IsEmpty || Dropped(token, dropClose)) continue;
                output.Pass(kept++ == 0 ? head[reader.LineStart..reader.ValueStart] : ", "u8);
                output.Pass(token);
            }
            if (kept > 0) output.Pass("\r\n"u8);
        }
        if (insertion is null)
        {
            output.Pass(head[written..]);
            return;
        }
        // The blank line that ends the head (CRLF: a strict head was required) comes after the inserted lines.
        var end = head.Length - 2;
        output.Pass(head[written..end]);
        output.Pass(insertion.Block);
        insertion.Counters?.Inserted();
        output.Pass(head[end..]);
    }

    /// <summary>
    /// A Connection token taken out: <c>close</c> when the client's close is ours to honour, and under insertion any
    /// inserted name (a server or proxy behind would drop those headers as hop-by-hop).
    /// </summary>
    private bool Dropped(ReadOnlySpan<byte> token, bool dropClose) =>
        (dropClose && Ascii.EqualsIgnoreCase(token, "close"u8)) || insertion?.Removes(token) == true;

    private bool HasDroppedToken(ReadOnlySpan<byte> value, bool dropClose)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Dropped(value[range].Trim(" \t"u8), dropClose)) return true;
        }
        return false;
    }

    private bool Enqueue(PendingRequest request)
    {
        lock (Gate)
        {
            // Room is kept for the marker that Stop adds.
            if (HasRoomLocked)
            {
                _pending.Enqueue(request);
                _unanswered++;
                return true;
            }
        }
        StopOrRefuse(null, 0);
        return false;
    }

    /// <summary>
    /// Under header insertion, a request a server can only read as we did: a strict head and request line, chunked as
    /// its only transfer coding and no Content-Length with it, no transfer coding in HTTP/1.0 (RFC 9112 section 6.1),
    /// no CONNECT, and no Upgrade but to a WebSocket (an h2c switch would carry headers we never see).
    /// </summary>
    private static bool InsertableRequest(ReadOnlySpan<byte> head, int headersStart, RequestKind kind, bool http10, Framing framing) =>
        framing.Strict && HttpHead.IsStrictRequestLine(head, headersStart) && HttpHead.IsPlainRequestLine(head, headersStart) &&
        !framing.ContentLengthRepeated &&
        (!framing.HasTransferEncoding || (framing.OnlyChunked && framing.ContentLength < 0 && !http10)) &&
        kind != RequestKind.Connect && (!framing.HasUpgrade || framing.WebSocketUpgrade);

    private bool HasRoom()
    {
        lock (Gate) return HasRoomLocked;
    }

    // Room is kept for the marker that Stop or Refuse adds (under Gate).
    private bool HasRoomLocked => _pending.Count < MaxPending - 1;

    /// <summary>The server answered a protocol switch with 101 (response thread): the bytes after it pass.</summary>
    public void Switched() => Volatile.Write(ref _switched, true);

    /// <summary>Bytes that cannot be framed: passed from here on, or under header insertion refused (<see cref="Refuse"/>).</summary>
    private void StopOrRefuse(IBufferWriter<byte>? output, int discarded)
    {
        if (insertion is null) Stop(output);
        else Refuse(discarded);
    }

    /// <summary>
    /// Under header insertion: the <paramref name="discarded"/> bytes at fault, and everything the client sends after
    /// them, go nowhere; the back-end connection is not kept, and the client's connection ends once the answers owed
    /// to its earlier requests were relayed (<see cref="RequestsEnded"/>).
    /// </summary>
    private void Refuse(int discarded)
    {
        if (!Refused) insertion?.Counters?.RefusedRequest();
        Refused = true;
        _stopped = true;
        _closeRequested = true;
        _body = MessageBody.None;
        Discarded += discarded;
        _head.Clear();
        lock (Gate) NotFramedLocked();
    }

    /// <summary>
    /// Stops framing: the held bytes go out as they are (to <paramref name="output"/>; null when they were written
    /// already), and the responses from the next one on cannot be framed.
    /// </summary>
    private void Stop(IBufferWriter<byte>? output)
    {
        _stopped = true;
        output?.Pass(_head.Held);
        _head.Clear();
        lock (Gate) NotFramedLocked();
    }

    /// <summary>
    /// The client finished sending (client thread, before <see cref="EndInput"/>): an unfinished head it left is passed
    /// on as it is, as a relay at layer 4 would, since the server judges it; under header insertion it goes nowhere
    /// (nothing is inserted into it), and after a request that asked to close nothing more is forwarded.
    /// </summary>
    public void Complete(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (insertion is null && !_stopped && !_head.IsEmpty && !RequestsEnded) Stop(output);
    }

    /// <summary>
    /// The client finished sending (EOF or close_notify). Says whether the back end must be told, or whether the
    /// connection can end after the answers still owed (or now) with the back end left open.
    /// </summary>
    public RequestEnd EndInput()
    {
        lock (Gate)
        {
            _inputEnded = true;
            if (!ownsBackendConnection || _singleUse || _stopped || !_body.IsDone || !_head.IsEmpty)
            {
                _halfClosed = true;
                return RequestEnd.HalfClose;
            }
            return _unanswered == 0 ? RequestEnd.Finished : RequestEnd.AwaitResponses;
        }
    }

    /// <summary>
    /// Sniffing: judges the client's first bytes (client thread, once). False when they do not begin with a plain request
    /// line, or when the server spoke first; the marker that makes every response unframeable is then queued, in the
    /// same step as the judgement, so that the response side never sees the one without the other.
    /// </summary>
    private bool IsHttp(ReadOnlySpan<byte> first)
    {
        _sniffing = false;
        var http = HttpHead.BeginsWithRequestLine(first);
        lock (Gate)
        {
            // Judged already: the server spoke first, and its marker is queued.
            if (_judged) return false;
            _judged = true;
            if (!http) NotFramedLocked();
        }
        return http;
    }

    /// <summary>Every response from the next one on is unframeable, and the back-end connection single-use (under Gate).</summary>
    private void NotFramedLocked()
    {
        _pending.Enqueue(new PendingRequest(RequestKind.Unframeable, false));
        _singleUse = true;
        Volatile.Write(ref _notFramed, true);
    }

    /// <summary>Set with the marker of <see cref="NotFramedLocked"/>: read by a drain's sweep on another thread.</summary>
    private bool _notFramed;

    /// <summary>
    /// Framing stopped for good (any thread), or a sniffed flow is known not to be HTTP (its server spoke first): the
    /// client is never again between two messages, so a drain cannot close it, and its sweep can end.
    /// </summary>
    public bool StoppedForGood => Volatile.Read(ref _stopped) || Volatile.Read(ref _notFramed);

    /// <summary>
    /// The request the next final response answers, without taking it; Other when none is known (response thread, on
    /// the server's first bytes of a message). Sniffing, a server that speaks before the client's first bytes were
    /// judged makes the flow not HTTP: Unframeable, as are all the responses after it.
    /// </summary>
    public RequestKind Peek()
    {
        lock (Gate)
        {
            if (!_judged)
            {
                _judged = true;
                NotFramedLocked();
            }
            return _pending.TryPeek(out var request) ? request.Kind : RequestKind.Other;
        }
    }

    /// <summary>
    /// Takes the request a final response answers. A response with no request seen (a 408 sent on an idle
    /// connection, say) is framed as the answer to an ordinary request, and the connection is not kept.
    /// </summary>
    public PendingRequest Take()
    {
        lock (Gate)
        {
            // The marker stays: every response after it is unframeable too.
            if (!_pending.TryPeek(out var request))
            {
                _singleUse = true;
                return new PendingRequest(RequestKind.Other, false);
            }
            if (request.Kind != RequestKind.Unframeable) _pending.Dequeue();

            // Under insertion: the answer is to the last request sent, whose body is still coming (see Process).
            if (_bodyPending && _pending.Count == 0) Volatile.Write(ref _answeredEarly, true);
            return request;
        }
    }

    /// <summary>
    /// A final response was relayed whole. True when it was the last answer the client is owed and the client will
    /// send nothing more (it asked to close, or finished sending): the exchange is over.
    /// </summary>
    public bool ResponseCompleted(PendingRequest answered)
    {
        lock (Gate)
        {
            // A response nothing asked for (Take made the connection single-use) owes no request its answer.
            if (_unanswered > 0) _unanswered--;
            // A client that asked to close (or the last request of a drain, with or without http-reuse) is closed even
            // when the back end is not kept, and so is one that finished sending between two messages (its half-close
            // was not passed on, so the back end will not end it). One whose half-close was passed on is ended by the
            // back end's close.
            return answered.CloseAfter || (ownsBackendConnection && !_halfClosed && _inputEnded && _unanswered == 0);
        }
    }

    /// <summary>
    /// The node is draining (any thread): the next request head read is the client's last. Its answer carries
    /// <c>Connection: close</c>, the client is closed after it, and nothing it sends after that request is forwarded,
    /// as when a client asks to close. A request already forwarded is answered as it is; the one after it is the last.
    /// </summary>
    public void GoAway() => _goingAway = true;

    /// <summary>Something on the response side makes the back-end connection single-use.</summary>
    public void MarkSingleUse()
    {
        lock (Gate) _singleUse = true;
    }

    public void Dispose() => _head.Dispose();
}
