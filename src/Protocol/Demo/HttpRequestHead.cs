using System.Text;

namespace SslCluster.Protocol.Demo;

/// <summary>The request methods the demo server answers; everything else gets 405.</summary>
internal enum HttpMethodKind
{
    Get,
    Head,
    Other,
}

/// <summary>Where a header's name and value sit in the receive buffer.</summary>
internal readonly record struct HeaderRange(int NameStart, int NameLength, int ValueStart, int ValueLength);

/// <summary>
/// A parsed request head, as offsets into the connection's receive buffer: no strings are made unless a page
/// needs them, so streaming routes cost no per-request allocation. One instance is reused per connection.
/// Parsing is strict where leniency would let a front end and this server disagree about where a request ends
/// (RFC 9112 section 11.2, request smuggling): bare CR or LF, obsolete line folding, whitespace before a colon,
/// conflicting Content-Length values, and Content-Length together with Transfer-Encoding are all rejected.
/// </summary>
internal sealed class HttpRequestHead
{
    public const int MaxHeaders = 128;

    public HttpMethodKind Method { get; private set; }

    public int MethodStart { get; private set; }

    public int MethodLength { get; private set; }

    public int TargetStart { get; private set; }

    public int TargetLength { get; private set; }

    /// <summary>10 for HTTP/1.0, 11 for HTTP/1.1.</summary>
    public int Version { get; private set; }

    public List<HeaderRange> Headers { get; } = new(32);

    public long ContentLength { get; private set; }

    public bool HasTransferEncoding { get; private set; }

    /// <summary>Whether the connection stays open after the response (HTTP/1.1 default, or HTTP/1.0 with keep-alive).</summary>
    public bool KeepAlive { get; private set; }

    public int HostStart { get; private set; } = -1;

    public int HostLength { get; private set; }

    /// <summary>0 when the head is valid; otherwise the status to answer (400, 505).</summary>
    public int ErrorStatus { get; private set; }

    public string? ErrorReason { get; private set; }

    /// <summary>
    /// Parses <c>buffer[offset..offset+length]</c>: the request line and header lines, CRLF separated, without the
    /// blank line that ends the head. Returns false (with <see cref="ErrorStatus"/> set) for a bad request.
    /// </summary>
    public bool Parse(byte[] buffer, int offset, int length)
    {
        Reset();
        var head = buffer.AsSpan(offset, length);
        var lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? head : head[..lineEnd];
        if (!ParseRequestLine(requestLine, offset))
        {
            return false;
        }

        var position = lineEnd < 0 ? length : lineEnd + 2;
        var closeRequested = false;
        var keepAliveRequested = false;
        var contentLengthSeen = false;
        while (position < length)
        {
            var rest = head[position..];
            var end = rest.IndexOf("\r\n"u8);
            var line = end < 0 ? rest : rest[..end];
            var lineStart = offset + position;
            position += end < 0 ? rest.Length : end + 2;
            if (line.IndexOfAny((byte)'\r', (byte)'\n') >= 0)
            {
                return Fail(400, "bare CR or LF in a header line");
            }

            if (line.Length == 0 || line[0] is (byte)' ' or (byte)'\t')
            {
                return Fail(400, "obsolete header line folding is not accepted");
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return Fail(400, "a header line has no name or no colon");
            }

            var name = line[..colon];
            foreach (var b in name)
            {
                if (!IsTokenChar(b))
                {
                    return Fail(400, "a header name contains a character that is not allowed (whitespace before the colon?)");
                }
            }

            var valueStart = colon + 1;
            var valueEnd = line.Length;
            while (valueStart < valueEnd && line[valueStart] is (byte)' ' or (byte)'\t')
            {
                valueStart++;
            }

            while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
            {
                valueEnd--;
            }

            var value = line[valueStart..valueEnd];
            foreach (var b in value)
            {
                if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
                {
                    return Fail(400, "a header value contains a control character");
                }
            }

            if (Headers.Count == MaxHeaders)
            {
                return Fail(400, $"more than {MaxHeaders} header lines");
            }

            Headers.Add(new HeaderRange(lineStart, colon, lineStart + valueStart, valueEnd - valueStart));
            if (Ascii.EqualsIgnoreCase(name, "Host"u8))
            {
                if (HostStart >= 0)
                {
                    return Fail(400, "more than one Host header");
                }

                HostStart = lineStart + valueStart;
                HostLength = value.Length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!ParseContentLength(value, out var parsed) || (contentLengthSeen && parsed != ContentLength))
                {
                    return Fail(400, "invalid or conflicting Content-Length");
                }

                ContentLength = parsed;
                contentLengthSeen = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                HasTransferEncoding = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                foreach (var range in value.Split((byte)','))
                {
                    var token = value[range].Trim(" \t"u8);
                    closeRequested |= Ascii.EqualsIgnoreCase(token, "close"u8);
                    keepAliveRequested |= Ascii.EqualsIgnoreCase(token, "keep-alive"u8);
                }
            }
        }

        if (Version == 11 && HostStart < 0)
        {
            return Fail(400, "an HTTP/1.1 request needs a Host header");
        }

        if (HasTransferEncoding && contentLengthSeen)
        {
            return Fail(400, "both Content-Length and Transfer-Encoding are present");
        }

        KeepAlive = Version == 11 ? !closeRequested : keepAliveRequested && !closeRequested;
        return true;
    }

    /// <summary>Makes a failed parse close the connection after the error response: the stream can no longer be trusted.</summary>
    public void ForceClose() => KeepAlive = false;

    private bool ParseRequestLine(ReadOnlySpan<byte> line, int offset)
    {
        var firstSpace = line.IndexOf((byte)' ');
        var lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace == firstSpace || line[(firstSpace + 1)..lastSpace].IndexOf((byte)' ') >= 0)
        {
            return Fail(400, "the request line is not 'METHOD target HTTP/1.x'");
        }

        var method = line[..firstSpace];
        foreach (var b in method)
        {
            if (!IsTokenChar(b))
            {
                return Fail(400, "the method is not a token");
            }
        }

        var target = line[(firstSpace + 1)..lastSpace];
        if (target.IsEmpty)
        {
            return Fail(400, "the request target is empty");
        }

        foreach (var b in target)
        {
            if (b <= 0x20 || b >= 0x7F)
            {
                return Fail(400, "the request target contains whitespace, a control or a non-ASCII byte");
            }
        }

        var version = line[(lastSpace + 1)..];
        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            Version = 11;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            Version = 10;
        }
        else if (version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]))
        {
            return Fail(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
        }
        else
        {
            return Fail(400, "the protocol version is not HTTP/1.x");
        }

        MethodStart = offset;
        MethodLength = method.Length;
        TargetStart = offset + firstSpace + 1;
        TargetLength = target.Length;
        Method = method.SequenceEqual("GET"u8) ? HttpMethodKind.Get
            : method.SequenceEqual("HEAD"u8) ? HttpMethodKind.Head
            : HttpMethodKind.Other;
        return true;
    }

    private static bool ParseContentLength(ReadOnlySpan<byte> value, out long length)
    {
        // "5, 5" (a list of equal values) is allowed by RFC 9110; anything else that is not digits is not.
        length = -1;
        foreach (var range in value.Split((byte)','))
        {
            var item = value[range].Trim(" \t"u8);
            if (item.IsEmpty || item.Length > 18)
            {
                return false;
            }

            long parsed = 0;
            foreach (var b in item)
            {
                if (b is < (byte)'0' or > (byte)'9')
                {
                    return false;
                }

                parsed = (parsed * 10) + (b - '0');
            }

            if (length >= 0 && parsed != length)
            {
                return false;
            }

            length = parsed;
        }

        return length >= 0;
    }

    // RFC 9110 tchar.
    private static bool IsTokenChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\''
            or (byte)'*' or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';

    private bool Fail(int status, string reason)
    {
        ErrorStatus = status;
        ErrorReason = reason;
        KeepAlive = false;
        return false;
    }

    private void Reset()
    {
        Method = HttpMethodKind.Other;
        MethodStart = MethodLength = TargetStart = TargetLength = Version = 0;
        Headers.Clear();
        ContentLength = 0;
        HasTransferEncoding = false;
        KeepAlive = false;
        HostStart = -1;
        HostLength = 0;
        ErrorStatus = 0;
        ErrorReason = null;
    }
}
