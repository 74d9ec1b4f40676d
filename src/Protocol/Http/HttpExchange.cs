using System.Buffers;
using System.Text;
using SslCluster.Protocol.Net;

namespace SslCluster.Protocol.Http;

/// <summary>
/// One HTTP/1.x flow as the relay's transform (TLS-terminated, or a clear-text relay), for ssl-servers that read HTTP, SSLM
/// client services with header insertion, and clients that agreed <c>http/1.1</c> by ALPN or whose first bytes are an
/// HTTP/1.x request line (framed only, so that a drain can close them
/// between two messages; see <see cref="RequestFramer"/> for the judging of a client that named no protocol): with
/// <c>ssl-server N urlrewrite</c>, the Location header of 300-series responses is rewritten by the ssl-server's
/// <see cref="UrlRewriter"/>; with <c>ssl-server N http-reuse</c>, the back-end connection outlives the client's (see
/// <see cref="RequestFramer"/>): a client's <c>Connection: close</c> is answered by us, with <c>Connection: close</c> in
/// that response and the client closed after it, and <see cref="BackendReusable"/> says at the end whether the back-end
/// connection can serve another client. Every other byte passes unchanged and in order. It follows the responses of a
/// keep-alive connection (Content-Length, chunked, interim 1xx, bodiless 204/304 and HEAD answers, close-delimited
/// bodies) and holds back nothing but an incomplete head, at most <see cref="MaxHeadBytes"/>. Whatever it cannot frame
/// (an oversize head, a non-HTTP/1.x message, a protocol switch, a tunnel, broken chunking) turns it into a plain
/// pass-through for the rest of the connection, which is then never re-used.
/// <para>
/// Threads: <see cref="ProcessRequest"/> and <see cref="EndRequests"/> are called from the client-to-backend copy
/// loop, <see cref="Process"/> and <see cref="Complete"/> from the backend-to-client one; each direction is serial,
/// the two may run at once. <see cref="BackendReusable"/> and <see cref="Dispose"/> once both loops have ended.
/// </para>
/// </summary>
public sealed class HttpExchange : IDrainableFlow, IDisposable
{
    /// <summary>The largest message head held back to be read.</summary>
    public const int MaxHeadBytes = HeadBuffer.MaxHeadBytes;

    private enum Phase
    {
        Head,
        Body,
        PassThrough,
    }

    private readonly UrlRewriter? _rules;
    private readonly RequestFramer _requests;
    private readonly HeadBuffer _head = new();
    private MessageBody _body;
    private PendingRequest _answering;
    private Phase _phase = Phase.Head;
    private long _rewrites;
    private bool _exchangeOver;
    private bool _trailingBytes;

    /// <param name="rules">Location rewrite rules; null for none.</param>
    /// <param name="ownsBackendConnection">The back-end connection is kept for other clients (<c>http-reuse</c>).</param>
    /// <param name="insertion">Header lines inserted into every request (the client's own of those names removed); null for none.</param>
    /// <param name="sniff">
    /// The flow may not be HTTP (a TLS client that named no protocol by ALPN, a clear-text relay's client): framed only when
    /// the client's first bytes begin with a whole request line, passed as it is otherwise. Only for a passive exchange
    /// (no rules, re-use or insertion).
    /// </param>
    public HttpExchange(UrlRewriter? rules, bool ownsBackendConnection = false, RequestHeaderInsertion? insertion = null, bool sniff = false)
    {
        if (sniff && (rules is { HasRules: true } || ownsBackendConnection || insertion is not null))
        {
            throw new ArgumentException("Only a passive exchange judges whether its flow is HTTP.", nameof(sniff));
        }
        _rules = rules is { HasRules: true } ? rules : null;
        OwnsBackendConnection = ownsBackendConnection;
        _requests = new RequestFramer(ownsBackendConnection, insertion, sniff);
    }

    /// <summary>Under header insertion, the client sent bytes that could not be framed strictly, and they were not forwarded.</summary>
    public bool RequestRefused => _requests.Refused;

    /// <inheritdoc />
    bool SslCluster.Protocol.Net.IRelayTransform.RequestsRefused => _requests.Refused;

    /// <summary>The back-end connection may outlive the client's (<c>http-reuse</c>).</summary>
    public bool OwnsBackendConnection { get; }

    /// <summary>Location headers rewritten so far (readable from any thread).</summary>
    public long Rewrites => Interlocked.Read(ref _rewrites);

    /// <summary>True once the exchange has given up framing this connection and passes every byte as it is.</summary>
    public bool IsPassThrough => _phase == Phase.PassThrough;

    /// <summary>The client's bytes that were not forwarded: they came after a request that asked to close.</summary>
    public long DiscardedRequestBytes => _requests.Discarded;

    /// <inheritdoc />
    public void ProcessRequest(ReadOnlySpan<byte> clientBytes, IBufferWriter<byte> output) => _requests.Process(clientBytes, output);

    /// <inheritdoc />
    public bool RequestsEnded => _requests.RequestsEnded;

    /// <summary>A whole request head has been read, or the client's bytes turned out not to be HTTP/1.x (client thread).</summary>
    internal bool HasRequest => _requests.RequestsSeen > 0 || _requests.Stopped;

    /// <summary>
    /// What was read is one or more whole requests (pipelined) that may all be sent again, idempotent methods with their
    /// whole bodies: safe to try on an idle connection, which its server may have closed just before (RFC 9112 section
    /// 9.3.2 lets a client retry such requests when no answer came) (client thread).
    /// </summary>
    internal bool Replayable => _requests.RequestsSeen >= 1 && _requests.Replayable;

    /// <summary>
    /// The client's bytes are no longer framed, for the rest of the connection (any thread): it will never be between two
    /// messages again, so nothing can release it.
    /// </summary>
    internal bool FramingStopped => _requests.StoppedForGood;

    /// <summary>The client is between two messages, all it sent forwarded (client thread; see <see cref="RequestFramer.BetweenMessages"/>).</summary>
    internal bool BetweenMessages => _requests.BetweenMessages;

    /// <summary>
    /// Every request read so far has had its whole answer, and the back-end connection may serve another, or the node
    /// drains (any thread; see <see cref="RequestFramer.Releasable"/>).
    /// </summary>
    internal bool Releasable => _requests.Releasable;

    /// <summary>
    /// The relay was released between two messages and its back-end connection given back (only when
    /// <see cref="BackendReusable"/>, so the response side stands between two messages already): the client's next
    /// requests go over another one, and the request counts start again. Call between relays only.
    /// </summary>
    internal void NextConnection() => _requests.NextConnection();

    /// <inheritdoc />
    public RequestEnd EndRequests() => _requests.EndInput();

    /// <inheritdoc />
    public void CompleteRequests(IBufferWriter<byte> output) => _requests.Complete(output);

    /// <summary>
    /// The node is draining (any thread): the next request the client sends is its last, answered with
    /// <c>Connection: close</c>, and the exchange is over once that answer went out (see <see cref="RequestFramer.GoAway"/>).
    /// </summary>
    public void GoAway() => _requests.GoAway();

    /// <inheritdoc />
    public bool ExchangeOver => _exchangeOver;

    bool IDrainableFlow.BetweenMessages => BetweenMessages;

    bool IDrainableFlow.Releasable => Releasable;

    bool IDrainableFlow.FramingStopped => FramingStopped;

    /// <summary>A client that has just had an answer gets that long to send its next request, as under http-reuse.</summary>
    TimeSpan IDrainableFlow.IdleBeforeRelease => BackendPool.IdleClientAfter;

    /// <summary>Between two messages, like a server closing an idle keep-alive connection: nothing to say, a clean end.</summary>
    bool IDrainableFlow.AfterRelease(IBufferWriter<byte> toClient) => true;

    /// <summary>An idle HTTP/1.x client sends nothing after its last answer: the close is at once, as before.</summary>
    bool IDrainableFlow.LingersAfterClose => false;

    string IDrainableFlow.ClosedMessage => HasRequest ? DrainRelease.ClosedBetweenRequests : DrainRelease.ClosedBeforeFirstRequest;

    /// <summary>
    /// After both loops: the back-end connection stands between two messages, with every request answered, nothing
    /// unframed and nothing that asked for a close, so another client's request can go over it.
    /// </summary>
    public bool BackendReusable => !_trailingBytes && _phase == Phase.Head && _head.IsEmpty && _requests.Reusable;

    /// <summary>
    /// Backend-to-client bytes: writes to <paramref name="output"/> everything that can go to the client now, and
    /// holds the start of a response head that is not whole yet.
    /// </summary>
    public void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var input = backendBytes;
        while (!input.IsEmpty)
        {
            if (_exchangeOver)
            {
                // Bytes after the last answer owed: nothing asked for them, and the connection cannot be trusted again.
                _trailingBytes = true;
                _requests.MarkSingleUse();
                return;
            }
            switch (_phase)
            {
                case Phase.PassThrough:
                    output.Pass(input);
                    return;
                case Phase.Body:
                    var n = _body.Advance(input, out var malformed);
                    output.Pass(input[..n]);
                    input = input[n..];
                    if (_body.Lenient) _requests.MarkSingleUse();
                    if (malformed) PassThrough();
                    else if (_body.IsDone) Answered();
                    break;
                default:
                    input = ReadHead(input, output);
                    break;
            }
        }
    }

    /// <summary>Consumes head bytes of <paramref name="input"/>; returns what is left for the next phase.</summary>
    private ReadOnlySpan<byte> ReadHead(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        if (_head.IsEmpty)
        {
            var blank = HttpHead.LeadingBlankBytes(input);
            if (blank > 0)
            {
                output.Pass(input[..blank]);
                return input[blank..];
            }
            if (_requests.Peek() == RequestKind.Unframeable)
            {
                _phase = Phase.PassThrough;
                return input;
            }
        }
        if (!StartsLikeResponse(input))
        {
            // An HTTP/0.9 answer or garbage has no head to wait for: release it at once.
            GiveUp(output);
            return input;
        }
        switch (_head.Read(ref input, out var head))
        {
            case HeadStatus.NeedMore:
                return input;
            case HeadStatus.TooLarge:
                GiveUp(output);
                return input;
            default:
                OnHead(head, output);
                _head.Clear();
                return input;
        }
    }

    /// <summary>Whether the held bytes and <paramref name="input"/> can still begin with "HTTP/".</summary>
    private bool StartsLikeResponse(ReadOnlySpan<byte> input)
    {
        var prefix = "HTTP/"u8;
        var held = _head.Held.Length;
        if (held >= prefix.Length) return true;
        var more = Math.Min(prefix.Length - held, input.Length);
        return input[..more].SequenceEqual(prefix.Slice(held, more));
    }

    /// <summary>Releases the held bytes unchanged and passes everything from now on.</summary>
    private void GiveUp(IBufferWriter<byte> output)
    {
        output.Pass(_head.Held);
        _head.Clear();
        PassThrough();
    }

    /// <summary>Nothing more is framed on this connection, so it ends with the client's and is never re-used.</summary>
    private void PassThrough()
    {
        _phase = Phase.PassThrough;
        _requests.MarkSingleUse();
    }

    private void OnHead(ReadOnlySpan<byte> head, IBufferWriter<byte> output)
    {
        if (!HttpHead.TryParseStatusLine(head, out var status, out var headersStart) ||
            !HttpHead.TryReadFraming(head, headersStart, out var framing) ||
            status == 101)
        {
            // Unparseable, or Switching Protocols: what follows is not HTTP/1.x.
            if (status == 101) _requests.Switched();
            output.Pass(head);
            PassThrough();
            return;
        }
        if (status < 200)
        {
            // An interim response (100 Continue, 103 Early Hints): no body, and the final response is still to come.
            output.Pass(head);
            return;
        }
        var request = _requests.Take();
        if (request.Kind == RequestKind.Unframeable)
        {
            output.Pass(head);
            PassThrough();
            return;
        }
        if (HttpHead.IsHttp10Response(head) || framing.ConnectionClose ||
            (framing.HasTransferEncoding && framing.ContentLength >= 0) || !framing.Strict ||
            (status is 401 or 407 && AsksForConnectionAuthentication(head, headersStart)))
        {
            // The back end closes this connection after the response, or frames its messages in a way another parser
            // may read differently (both Content-Length and Transfer-Encoding, bare line feeds), or authenticates the
            // connection rather than each request (NTLM, Negotiate): it ends with this client.
            _requests.MarkSingleUse();
        }
        // The CSS examines 300-series responses only (CSS SSL configuration guide, "URL rewrite").
        var rewrite = _rules is not null && status is >= 300 and < 400;
        if (rewrite || request.CloseAfter) WriteHead(head, headersStart, rewrite, request.CloseAfter, output);
        else output.Pass(head);

        _answering = request;
        // RFC 9112 section 6.3, in its order.
        if (request.Kind == RequestKind.Head || status is 204 or 304)
        {
            Answered();
        }
        else if (request.Kind == RequestKind.Connect && status < 300)
        {
            PassThrough();
        }
        else if (framing.HasTransferEncoding)
        {
            // A coding other than chunked last means the body runs to the close of the connection.
            if (!framing.Chunked)
            {
                PassThrough();
                return;
            }
            _body = MessageBody.Chunked;
            _phase = Phase.Body;
        }
        else if (framing.ContentLength >= 0)
        {
            _body = MessageBody.OfLength(framing.ContentLength);
            if (_body.IsDone) Answered();
            else _phase = Phase.Body;
        }
        else
        {
            PassThrough();
        }
    }

    /// <summary>
    /// A 401 or 407 that offers NTLM or Negotiate: those schemes authenticate the connection, not the request, so it must
    /// serve this client alone (another client would inherit the login; this one would lose it on another connection).
    /// </summary>
    private static bool AsksForConnectionAuthentication(ReadOnlySpan<byte> head, int headersStart)
    {
        var reader = new HeaderReader(head, headersStart);
        while (reader.MoveNext())
        {
            if (!Ascii.EqualsIgnoreCase(reader.Name, "www-authenticate"u8) && !Ascii.EqualsIgnoreCase(reader.Name, "proxy-authenticate"u8)) continue;
            var value = head[reader.ValueStart..reader.ValueEnd];
            foreach (var range in value.Split((byte)','))
            {
                var scheme = value[range].Trim(" \t"u8);
                var end = scheme.IndexOfAny((byte)' ', (byte)'\t');
                if (end >= 0) scheme = scheme[..end];
                if (Ascii.EqualsIgnoreCase(scheme, "ntlm"u8) || Ascii.EqualsIgnoreCase(scheme, "negotiate"u8)) return true;
            }
        }
        return false;
    }

    /// <summary>The final response to <see cref="_answering"/> went out whole; the next message is a head.</summary>
    private void Answered()
    {
        _phase = Phase.Head;
        if (_requests.ResponseCompleted(_answering)) _exchangeOver = true;
    }

    /// <summary>
    /// Writes the head with each Location value that a rule applies to replaced (<paramref name="rewriteLocation"/>),
    /// and, for a client that asked to close (<paramref name="close"/>), its Connection and Keep-Alive headers replaced
    /// by <c>Connection: close</c>; all else as it came.
    /// </summary>
    private void WriteHead(ReadOnlySpan<byte> head, int headersStart, bool rewriteLocation, bool close, IBufferWriter<byte> output)
    {
        var written = 0;
        var reader = new HeaderReader(head, headersStart);
        while (reader.MoveNext())
        {
            if (close && (Ascii.EqualsIgnoreCase(reader.Name, "connection"u8) || Ascii.EqualsIgnoreCase(reader.Name, "keep-alive"u8)))
            {
                output.Pass(head[written..reader.LineStart]);
                written = reader.LineEnd;
                continue;
            }
            if (!rewriteLocation || !Ascii.EqualsIgnoreCase(reader.Name, "location"u8)) continue;
            output.Pass(head[written..reader.ValueStart]);
            written = reader.ValueStart;
            if (_rules!.TryRewrite(head[reader.ValueStart..reader.ValueEnd], output))
            {
                written = reader.ValueEnd;
                Interlocked.Increment(ref _rewrites);
            }
        }
        if (close)
        {
            // The blank line ends the head: the header goes just before it.
            var end = head.Length - (head[^2] == '\r' ? 2 : 1);
            output.Pass(head[written..end]);
            output.Pass("Connection: close\r\n"u8);
            written = end;
        }
        output.Pass(head[written..]);
    }

    /// <summary>
    /// The back end closed its side: releases a held partial head unchanged (a truncated response, so framing ends
    /// there too).
    /// </summary>
    public void Complete(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!_head.IsEmpty) GiveUp(output);
        else if (_requests.Refused && _phase == Phase.Head && _requests.Unanswered == 0) output.Pass(RefusalAnswer);
    }

    /// <summary>
    /// What a client whose request was refused (<see cref="RequestRefused"/>) gets once every request before it was
    /// answered whole: a 400 and the end of the connection, as HAProxy answers a request it cannot parse.
    /// </summary>
    internal static ReadOnlySpan<byte> RefusalAnswer => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8;

    /// <summary>Gives pooled buffers back; call once neither direction uses the rewriter any more.</summary>
    public void Dispose()
    {
        _head.Dispose();
        _requests.Dispose();
    }
}
