using System.Buffers;
using System.Text;

namespace SslCluster.Protocol.Http;

/// <summary>What the framing headers of a message head say about its body.</summary>
internal readonly record struct Framing(long ContentLength, bool HasTransferEncoding, bool Chunked, bool HasUpgrade)
{
    public static Framing None { get; } = new(-1, false, false, false);

    /// <summary>A Connection header lists <c>close</c>.</summary>
    public bool ConnectionClose { get; init; }

    /// <summary>
    /// The head is as RFC 9112 writes it, with none of the leniency a recipient may show: every line ends in CRLF, no
    /// control character but HTAB, header names made of token characters. A message that is not strict is relayed,
    /// but a server may split it differently than we do, so the connection it came on or went over is not handed to
    /// another client.
    /// </summary>
    public bool Strict { get; init; }

    /// <summary>Content-Length came more than once (the same value: others are refused), which some servers read otherwise.</summary>
    public bool ContentLengthRepeated { get; init; }

    /// <summary>Transfer-Encoding lists exactly one coding, <c>chunked</c>, over all its headers.</summary>
    public bool OnlyChunked { get; init; }

    /// <summary>
    /// One Upgrade header whose value is exactly <c>websocket</c> (RFC 6455 section 4.1), and a Connection header that
    /// lists <c>upgrade</c>.
    /// </summary>
    public bool WebSocketUpgrade => UpgradeHeaders == 1 && UpgradeIsWebSocket && ConnectionUpgrade;

    /// <summary>How many Upgrade headers; whether the last one is exactly <c>websocket</c>; whether Connection lists <c>upgrade</c>.</summary>
    public int UpgradeHeaders { get; init; }

    public bool UpgradeIsWebSocket { get; init; }

    public bool ConnectionUpgrade { get; init; }
}

/// <summary>What a request was, as far as framing its response needs to know (RFC 9112 section 6.3).</summary>
internal enum RequestKind : byte
{
    Other,

    /// <summary>The response has no body whatever its headers say.</summary>
    Head,

    /// <summary>A 2xx response turns the connection into a tunnel.</summary>
    Connect,

    /// <summary>
    /// Not a request: the observer lost track of the client's bytes here (garbage, HTTP/0.9, an oversize head, a
    /// tunnel or protocol switch asked for), so from the response that would answer it on nothing can be framed.
    /// </summary>
    Unframeable,
}

/// <summary>
/// Parsing of HTTP/1.x message heads held whole in one span: the start line, the header lines and the framing
/// headers. Lines end in LF with an optional CR before it (RFC 9112 section 2.2 lets a recipient accept a bare LF).
/// </summary>
internal static class HttpHead
{
    /// <summary>
    /// The index just past the blank line that ends a head in <paramref name="data"/>, or -1. The search starts at
    /// <paramref name="from"/>, which must be the position of a line feed or before it.
    /// </summary>
    public static int FindEnd(ReadOnlySpan<byte> data, int from)
    {
        var i = from;
        while (true)
        {
            var lf = data[i..].IndexOf((byte)'\n');
            if (lf < 0) return -1;
            i += lf + 1;
            if (i < data.Length && data[i] == '\n') return i + 1;
            if (i + 1 < data.Length && data[i] == '\r' && data[i + 1] == '\n') return i + 2;
        }
    }

    /// <summary>How many CR and LF bytes start <paramref name="data"/>: blank lines between messages, which pass as they are.</summary>
    public static int LeadingBlankBytes(ReadOnlySpan<byte> data)
    {
        var n = data.IndexOfAnyExcept((byte)'\r', (byte)'\n');
        return n < 0 ? data.Length : n;
    }

    /// <summary>The longest method <see cref="CannotStartRequestLine"/> waits for (the registered ones are at most 17 bytes).</summary>
    internal const int MaxMethodBytes = 32;

    /// <summary>
    /// Whether the first bytes of a message, before its line end has come, can no longer begin a request line: a method of
    /// visible characters (as <see cref="TryParseRequestLine(ReadOnlySpan{byte}, out RequestKind, out int)"/> takes them)
    /// then a space. So bytes that are not HTTP/1.x are known as such at once, not held until a line feed that may never
    /// come.
    /// </summary>
    public static bool CannotStartRequestLine(ReadOnlySpan<byte> held)
    {
        var end = held.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E);
        if (end < 0) return held.Length > MaxMethodBytes;
        return end == 0 || end > MaxMethodBytes || held[end] != ' ';
    }

    /// <summary>
    /// Whether <paramref name="data"/>, the first bytes a client sent, begin with a whole request line of the plain form
    /// (<c>METHOD SP target SP HTTP/1.x</c> and its line end, the method in capitals as every registered one is): how a
    /// flow whose client named no protocol by ALPN is known to speak HTTP/1.x. Stricter than what a flow known to be
    /// HTTP accepts, and judged on these bytes alone, so that a client of another protocol is never held waiting for a
    /// line end (XMPP, say, opens with a word, a space and no line feed).
    /// </summary>
    public static bool BeginsWithRequestLine(ReadOnlySpan<byte> data)
    {
        var lf = data.IndexOf((byte)'\n');
        if (lf < 0) return false;
        var line = data[..(lf + 1)];
        if (!TryParseRequestLine(line, out _, out var headersStart) || !IsStrictRequestLine(line, headersStart) ||
            !IsPlainRequestLine(line, headersStart))
        {
            return false;
        }
        var method = line[..line.IndexOf((byte)' ')];
        return char.IsAsciiLetterUpper((char)method[0]) && !method.ContainsAnyInRange((byte)'a', (byte)'z');
    }

    /// <summary>The first line of a head without its line end, and where the header lines start.</summary>
    private static ReadOnlySpan<byte> StartLine(ReadOnlySpan<byte> head, out int headersStart)
    {
        var lf = head.IndexOf((byte)'\n');
        headersStart = lf + 1;
        var line = head[..lf];
        return line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;
    }

    /// <summary><c>HTTP/1.x SSS reason</c>: false for anything else (HTTP/0.9 bodies, HTTP/2, garbage).</summary>
    public static bool TryParseStatusLine(ReadOnlySpan<byte> head, out int status, out int headersStart)
    {
        status = 0;
        var line = StartLine(head, out headersStart);
        if (line.Length < 12 || !IsHttp1Version(line[..8]) || line[8] != ' ') return false;
        if (line.Length > 12 && line[12] != ' ') return false;
        for (var i = 9; i < 12; i++)
        {
            if (!char.IsAsciiDigit((char)line[i])) return false;
            status = status * 10 + (line[i] - '0');
        }
        return status >= 100;
    }

    /// <summary>
    /// <c>METHOD target HTTP/1.x</c>: false for an HTTP/0.9 line (no version), another version or garbage.
    /// Methods are case-sensitive (RFC 9110 section 9.1), so "head" is not HEAD.
    /// </summary>
    public static bool TryParseRequestLine(ReadOnlySpan<byte> head, out RequestKind kind, out int headersStart) =>
        TryParseRequestLine(head, out kind, out headersStart, out _);

    /// <summary>The same, also saying whether the request is HTTP/1.0 (whose connection closes unless it asks otherwise).</summary>
    public static bool TryParseRequestLine(ReadOnlySpan<byte> head, out RequestKind kind, out int headersStart, out bool http10)
    {
        kind = RequestKind.Other;
        http10 = false;
        var line = StartLine(head, out headersStart);
        var sp1 = line.IndexOf((byte)' ');
        var sp2 = line.LastIndexOf((byte)' ');
        if (sp1 <= 0 || sp2 == sp1 || !IsHttp1Version(line[(sp2 + 1)..])) return false;
        var method = line[..sp1];
        if (method.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0) return false;
        if (method.SequenceEqual("HEAD"u8)) kind = RequestKind.Head;
        else if (method.SequenceEqual("CONNECT"u8)) kind = RequestKind.Connect;
        http10 = line[^1] == '0';
        return true;
    }

    /// <summary>
    /// Whether a request may be sent again after a connection closed under it with no answer: an idempotent method
    /// (RFC 9110 section 9.2.2), so a server that did act on it acts the same way twice.
    /// </summary>
    public static bool IsIdempotentMethod(ReadOnlySpan<byte> head)
    {
        var sp = head.IndexOf((byte)' ');
        if (sp <= 0) return false;
        var method = head[..sp];
        return method.SequenceEqual("GET"u8) || method.SequenceEqual("HEAD"u8) || method.SequenceEqual("OPTIONS"u8) ||
               method.SequenceEqual("TRACE"u8) || method.SequenceEqual("PUT"u8) || method.SequenceEqual("DELETE"u8);
    }

    /// <summary>Control characters a strict head never holds (HTAB is allowed; CR and LF only as a line end).</summary>
    internal static readonly SearchValues<byte> Controls =
        SearchValues.Create([.. Enumerable.Range(0, 32).Where(b => b != '\t').Select(b => (byte)b), 0x7F]);

    /// <summary>Bytes that are not token characters (RFC 9110 section 5.6.2 tchar), which a header name never holds.</summary>
    internal static readonly SearchValues<byte> TokenChars = SearchValues.Create(Encoding.ASCII.GetBytes(TokenCharacters));

    private static readonly SearchValues<char> TokenText = SearchValues.Create(TokenCharacters);

    // RFC 9110 section 5.6.2 tchar.
    private const string TokenCharacters = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>Whether <paramref name="text"/> is an HTTP token (a header name, a method): one or more tchar.</summary>
    public static bool IsToken(ReadOnlySpan<char> text) => !text.IsEmpty && !text.ContainsAnyExcept(TokenText);

    /// <summary>A request line of exactly three parts (a target with a space in it is read differently by different servers).</summary>
    public static bool IsStrictRequestLine(ReadOnlySpan<byte> head, int headersStart) => head[..headersStart].Count((byte)' ') == 2;

    /// <summary>
    /// The request line is <c>token SP target SP version</c> with a method of token characters and a target of visible
    /// characters only (no HTAB, which a server may also split on), as header insertion requires.
    /// </summary>
    public static bool IsPlainRequestLine(ReadOnlySpan<byte> head, int headersStart)
    {
        var line = StartLine(head, out _);
        var sp1 = line.IndexOf((byte)' ');
        var sp2 = line.LastIndexOf((byte)' ');
        return sp1 > 0 && sp2 > sp1 + 1 && !line[..sp1].ContainsAnyExcept(TokenChars) &&
            line[(sp1 + 1)..sp2].IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) < 0;
    }

    /// <summary><c>HTTP/1.0</c> in a status line: the server closes after the response unless it says keep-alive.</summary>
    public static bool IsHttp10Response(ReadOnlySpan<byte> head) => head.StartsWith("HTTP/1.0"u8);

    /// <summary>Whether a comma-separated header value lists <paramref name="token"/> (case-insensitive), as Connection does.</summary>
    public static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token)) return true;
        }
        return false;
    }

    private static bool IsHttp1Version(ReadOnlySpan<byte> v) =>
        v.Length == 8 && v.StartsWith("HTTP/1."u8) && char.IsAsciiDigit((char)v[7]);

    /// <summary>
    /// Reads Content-Length, Transfer-Encoding, Upgrade and whether Connection lists close. False when the framing cannot be trusted: a malformed
    /// header line, an obsolete line folding, or Content-Length values that are not one number (RFC 9112 section 6.3).
    /// </summary>
    public static bool TryReadFraming(ReadOnlySpan<byte> head, int headersStart, out Framing framing)
    {
        framing = Framing.None;
        var codingsSeen = 0;
        var lastChunked = false;
        var reader = new HeaderReader(head, headersStart);
        var startLine = head[..headersStart];
        var strictStart = startLine.Length >= 2 && startLine[^2] == '\r' && !startLine[..^2].ContainsAny(Controls);
        while (reader.MoveNext())
        {
            var value = head[reader.ValueStart..reader.ValueEnd];
            if (Ascii.EqualsIgnoreCase(reader.Name, "content-length"u8))
            {
                if (!TryParseContentLength(value, framing.ContentLength, out var length)) return false;
                framing = framing with { ContentLength = length, ContentLengthRepeated = framing.ContentLength >= 0 || value.Contains((byte)',') };
            }
            else if (Ascii.EqualsIgnoreCase(reader.Name, "transfer-encoding"u8))
            {
                // Any Transfer-Encoding header, even an empty one, means the message is not framed by Content-Length.
                // The last coding listed decides: chunked must be the final one (RFC 9112 section 6.3). Empty list
                // elements do not count (RFC 9110 section 5.6.1), as a server reading "chunked," ignores them too.
                var codings = codingsSeen;
                foreach (var range in value.Split((byte)','))
                {
                    var coding = value[range].Trim(" \t"u8);
                    if (coding.IsEmpty) continue;
                    codings++;
                    lastChunked = Ascii.EqualsIgnoreCase(coding, "chunked"u8);
                }
                codingsSeen = codings;
                framing = framing with { HasTransferEncoding = true, Chunked = lastChunked && codings > 0, OnlyChunked = lastChunked && codings == 1 };
            }
            else if (Ascii.EqualsIgnoreCase(reader.Name, "upgrade"u8))
            {
                framing = framing with { HasUpgrade = true, UpgradeHeaders = framing.UpgradeHeaders + 1, UpgradeIsWebSocket = Ascii.EqualsIgnoreCase(value, "websocket"u8) };
            }
            else if (Ascii.EqualsIgnoreCase(reader.Name, "connection"u8))
            {
                if (HasToken(value, "close"u8)) framing = framing with { ConnectionClose = true };
                if (HasToken(value, "upgrade"u8)) framing = framing with { ConnectionUpgrade = true };
            }
        }
        framing = framing with { Strict = strictStart && !reader.Lenient };
        return !reader.Malformed;
    }

    /// <summary>A number, or a list of the same number (<c>42, 42</c>), equal to any value seen before.</summary>
    private static bool TryParseContentLength(ReadOnlySpan<byte> value, long before, out long length)
    {
        length = before;
        foreach (var range in value.Split((byte)','))
        {
            var item = value[range].Trim(" \t"u8);
            // 18 digits stay below long.MaxValue; a larger body is not something to frame.
            if (item.IsEmpty || item.Length > 18 || item.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0) return false;
            long n = 0;
            foreach (var d in item) n = n * 10 + (d - '0');
            if (length >= 0 && n != length) return false;
            length = n;
        }
        return true;
    }
}

/// <summary>
/// Walks the header lines of a head. Stops at the blank line, or at a line it cannot read (no colon, whitespace
/// before the colon, an obsolete folded continuation), which it reports as <see cref="Malformed"/>.
/// </summary>
internal ref struct HeaderReader(ReadOnlySpan<byte> head, int start)
{
    private readonly ReadOnlySpan<byte> _head = head;
    private int _position = start;

    public ReadOnlySpan<byte> Name { get; private set; }

    /// <summary>The value without its surrounding whitespace, as offsets into the head.</summary>
    public int ValueStart { get; private set; }

    public int ValueEnd { get; private set; }

    /// <summary>Where the current header line starts in the head, and where the next one starts (past its line end).</summary>
    public int LineStart { get; private set; }

    public int LineEnd { get; private set; }

    public bool Malformed { get; private set; }

    /// <summary>A line read so far (the blank one included) ended without CR, held a control character, or named a header with other than token characters.</summary>
    public bool Lenient { get; private set; }

    public bool MoveNext()
    {
        if (_position >= _head.Length) return false;
        var lf = _head[_position..].IndexOf((byte)'\n');
        if (lf < 0) return false;
        var line = _head.Slice(_position, lf);
        if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
        else Lenient = true;
        if (line.IsEmpty)
        {
            _position = _head.Length;
            return false;
        }
        var colon = line.IndexOf((byte)':');
        if (line[0] is (byte)' ' or (byte)'\t' || colon <= 0 || line[colon - 1] is (byte)' ' or (byte)'\t')
        {
            Malformed = true;
            return false;
        }
        Name = line[..colon];
        var value = line[(colon + 1)..];
        if (Name.ContainsAnyExcept(HttpHead.TokenChars) || value.ContainsAny(HttpHead.Controls)) Lenient = true;
        var lead = value.Length - value.TrimStart(" \t"u8).Length;
        ValueStart = _position + colon + 1 + lead;
        ValueEnd = _position + colon + 1 + value.TrimEnd(" \t"u8).Length;
        if (ValueEnd < ValueStart) ValueEnd = ValueStart;
        LineStart = _position;
        _position += lf + 1;
        LineEnd = _position;
        return true;
    }
}
