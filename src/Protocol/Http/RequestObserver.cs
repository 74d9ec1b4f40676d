namespace SslCluster.Protocol.Http;

/// <summary>
/// Watches the client-to-backend bytes of one connection and queues, in order, what the response side must know of
/// each request: whether it was HEAD (no response body) or CONNECT (a tunnel). It frames request bodies
/// (Content-Length, chunked) to find the next request line, and never changes or holds a forwarded byte.
/// <para>
/// <see cref="Observe"/> runs on the client-to-backend thread, the queue is read from the backend-to-client thread:
/// only the queue is shared, under a lock.
/// </para>
/// </summary>
internal sealed class RequestObserver : IDisposable
{
    /// <summary>
    /// Requests sent ahead of their responses (pipelining) that are remembered; a client that sends more stops the
    /// observation rather than growing the queue without bound.
    /// </summary>
    internal const int MaxPending = 1024;

    private readonly HeadBuffer _head = new();
    private readonly Queue<RequestKind> _pending = new();
    private readonly Lock _gate = new();
    private MessageBody _body = MessageBody.None;
    private bool _stopped;

    /// <summary>The request line of the head being gathered has been seen and is HTTP/1.x.</summary>
    private bool _lineChecked;

    public void Observe(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_stopped)
        {
            if (!_body.IsDone)
            {
                var n = _body.Advance(data, out var malformed);
                data = data[n..];
                if (malformed) Stop();
                continue;
            }
            if (_head.IsEmpty)
            {
                // RFC 9112 section 2.2: blank lines before a request line are ignored.
                data = data[HttpHead.LeadingBlankBytes(data)..];
                if (data.IsEmpty) return;
            }
            switch (_head.Read(ref data, out var head))
            {
                case HeadStatus.NeedMore:
                    // An HTTP/0.9 request ("GET /path" and a line end) never brings a blank line: judge the request
                    // line as soon as it is whole, so that its response is not waited for as a head.
                    if (!_lineChecked && _head.Held.Contains((byte)'\n'))
                    {
                        if (!HttpHead.TryParseRequestLine(_head.Held, out _, out _)) Stop();
                        _lineChecked = true;
                    }
                    return;
                case HeadStatus.TooLarge:
                    Stop();
                    return;
                default:
                    OnHead(head);
                    _head.Clear();
                    _lineChecked = false;
                    break;
            }
        }
    }

    private void OnHead(ReadOnlySpan<byte> head)
    {
        if (!HttpHead.TryParseRequestLine(head, out var kind, out var headersStart) ||
            !HttpHead.TryReadFraming(head, headersStart, out var framing) ||
            (framing.HasTransferEncoding && !framing.Chunked))
        {
            // A request whose transfer coding does not end in chunked cannot be framed (RFC 9112 section 6.3).
            Stop();
            return;
        }
        if (!Enqueue(kind)) return;
        if (kind == RequestKind.Connect || framing.HasUpgrade)
        {
            // What follows may be a tunnel or another protocol, decided by a response not seen yet: stop here, so
            // the response side frames the answer to this request and passes everything after it.
            Stop();
            return;
        }
        _body = framing.HasTransferEncoding ? MessageBody.Chunked
            : framing.ContentLength > 0 ? MessageBody.OfLength(framing.ContentLength)
            : MessageBody.None;
    }

    private bool Enqueue(RequestKind kind)
    {
        lock (_gate)
        {
            // Room is kept for the marker that Stop adds.
            if (_pending.Count < MaxPending - 1)
            {
                _pending.Enqueue(kind);
                return true;
            }
        }
        Stop();
        return false;
    }

    /// <summary>Stops watching: the responses from the next one on cannot be framed.</summary>
    private void Stop()
    {
        _stopped = true;
        _head.Clear();
        lock (_gate) _pending.Enqueue(RequestKind.Unframeable);
    }

    /// <summary>The request the next final response answers, without taking it; Other when none is known.</summary>
    public RequestKind Peek()
    {
        lock (_gate) return _pending.TryPeek(out var kind) ? kind : RequestKind.Other;
    }

    /// <summary>
    /// Takes the request a final response answers. A response with no request seen (a 408 sent on an idle
    /// connection, say) is framed as the answer to an ordinary request.
    /// </summary>
    public RequestKind Take()
    {
        lock (_gate)
        {
            // The marker stays: every response after it is unframeable too.
            if (!_pending.TryPeek(out var kind)) return RequestKind.Other;
            if (kind != RequestKind.Unframeable) _pending.Dequeue();
            return kind;
        }
    }

    public void Dispose() => _head.Dispose();
}
