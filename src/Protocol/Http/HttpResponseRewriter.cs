using System.Buffers;
using System.Text;

namespace SslCluster.Protocol.Http;

/// <summary>
/// The backend-to-client direction of one TLS-terminated HTTP/1.x flow, with <c>ssl-server N urlrewrite</c> applied:
/// the Location header of 300-series responses is rewritten by the ssl-server's <see cref="UrlRewriter"/>, and every
/// other byte passes unchanged and in order. It follows the responses of a keep-alive connection (Content-Length,
/// chunked, interim 1xx, bodiless 204/304 and HEAD answers, close-delimited bodies) and holds back nothing but an
/// incomplete response head, at most <see cref="MaxHeadBytes"/>. Whatever it cannot frame (an oversize head, a
/// non-HTTP/1.x response, a protocol switch, a tunnel, broken chunking) turns it into a plain pass-through for the rest
/// of the connection.
/// <para>
/// Threads: <see cref="ObserveRequest"/> is called from the client-to-backend copy loop, <see cref="Process"/> and
/// <see cref="Complete"/> from the backend-to-client one; each direction is serial, the two may run at once.
/// <see cref="Dispose"/> once both loops have ended.
/// </para>
/// </summary>
public sealed class HttpResponseRewriter : SslCluster.Protocol.Net.IRelayTransform, IDisposable
{
    /// <summary>The largest response head held back to be rewritten.</summary>
    public const int MaxHeadBytes = HeadBuffer.MaxHeadBytes;

    private enum Phase
    {
        Head,
        Body,
        PassThrough,
    }

    private readonly UrlRewriter _rules;
    private readonly RequestObserver _requests = new();
    private readonly HeadBuffer _head = new();
    private MessageBody _body;
    private Phase _phase = Phase.Head;
    private long _rewrites;

    public HttpResponseRewriter(UrlRewriter rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _rules = rules;
    }

    /// <summary>Location headers rewritten so far (readable from any thread).</summary>
    public long Rewrites => Interlocked.Read(ref _rewrites);

    /// <summary>True once the rewriter has given up framing this connection and passes every byte as it is.</summary>
    public bool IsPassThrough => _phase == Phase.PassThrough;

    /// <summary>
    /// Client-to-backend bytes, given before they are forwarded (so the request is known before its response can
    /// arrive). They are only read, never changed.
    /// </summary>
    public void ObserveRequest(ReadOnlySpan<byte> clientBytes) => _requests.Observe(clientBytes);

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
            switch (_phase)
            {
                case Phase.PassThrough:
                    output.Write(input);
                    return;
                case Phase.Body:
                    var n = _body.Advance(input, out var malformed);
                    output.Write(input[..n]);
                    input = input[n..];
                    if (malformed) _phase = Phase.PassThrough;
                    else if (_body.IsDone) _phase = Phase.Head;
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
                output.Write(input[..blank]);
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
        output.Write(_head.Held);
        _head.Clear();
        _phase = Phase.PassThrough;
    }

    private void OnHead(ReadOnlySpan<byte> head, IBufferWriter<byte> output)
    {
        if (!HttpHead.TryParseStatusLine(head, out var status, out var headersStart) ||
            !HttpHead.TryReadFraming(head, headersStart, out var framing) ||
            status == 101)
        {
            // Unparseable, or Switching Protocols: what follows is not HTTP/1.x.
            output.Write(head);
            _phase = Phase.PassThrough;
            return;
        }
        if (status < 200)
        {
            // An interim response (100 Continue, 103 Early Hints): no body, and the final response is still to come.
            output.Write(head);
            return;
        }
        var request = _requests.Take();
        if (request == RequestKind.Unframeable)
        {
            output.Write(head);
            _phase = Phase.PassThrough;
            return;
        }
        // The CSS examines 300-series responses only (CSS SSL configuration guide, "URL rewrite").
        if (status is >= 300 and < 400) WriteRewritten(head, headersStart, output);
        else output.Write(head);

        // RFC 9112 section 6.3, in its order.
        if (request == RequestKind.Head || status is 204 or 304)
        {
            _phase = Phase.Head;
        }
        else if (request == RequestKind.Connect && status < 300)
        {
            _phase = Phase.PassThrough;
        }
        else if (framing.HasTransferEncoding)
        {
            // A coding other than chunked last means the body runs to the close of the connection.
            _body = framing.Chunked ? MessageBody.Chunked : MessageBody.None;
            _phase = framing.Chunked ? Phase.Body : Phase.PassThrough;
        }
        else if (framing.ContentLength >= 0)
        {
            _body = MessageBody.OfLength(framing.ContentLength);
            _phase = _body.IsDone ? Phase.Head : Phase.Body;
        }
        else
        {
            _phase = Phase.PassThrough;
        }
    }

    /// <summary>Writes the head with each Location value that a rule applies to replaced, all else as it came.</summary>
    private void WriteRewritten(ReadOnlySpan<byte> head, int headersStart, IBufferWriter<byte> output)
    {
        var written = 0;
        var reader = new HeaderReader(head, headersStart);
        while (reader.MoveNext())
        {
            if (!Ascii.EqualsIgnoreCase(reader.Name, "location"u8)) continue;
            output.Write(head[written..reader.ValueStart]);
            written = reader.ValueStart;
            if (_rules.TryRewrite(head[reader.ValueStart..reader.ValueEnd], output))
            {
                written = reader.ValueEnd;
                Interlocked.Increment(ref _rewrites);
            }
        }
        output.Write(head[written..]);
    }

    /// <summary>
    /// The back end closed its side: releases a held partial head unchanged (a truncated response, so framing ends
    /// there too).
    /// </summary>
    public void Complete(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!_head.IsEmpty) GiveUp(output);
    }

    /// <summary>Gives pooled buffers back; call once neither direction uses the rewriter any more.</summary>
    public void Dispose()
    {
        _head.Dispose();
        _requests.Dispose();
    }
}
