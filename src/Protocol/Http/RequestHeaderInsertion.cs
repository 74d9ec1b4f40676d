using System.Text;

namespace SslCluster.Protocol.Http;

/// <summary>
/// The header lines inserted into every request of one client connection (HTTP header insertion), and the names the
/// client may not send: a request's own headers of any inserted name are taken out first, so that what the servers read
/// under those names always comes from us. Built once per connection, after the handshake; immutable.
/// </summary>
public sealed class RequestHeaderInsertion
{
    private readonly byte[] _block;
    private readonly byte[][] _names;

    private RequestHeaderInsertion(byte[] block, byte[][] names)
    {
        _block = block;
        _names = names;
    }

    /// <summary>Where the requests this insertion served are counted (<c>show ssl-proxy stats hdr</c>); null counts nothing.</summary>
    public HeaderInsertionCounters? Counters { get; private init; }

    /// <summary>The same insertion, counted by <paramref name="counters"/> (the row of the connection's module).</summary>
    public RequestHeaderInsertion CountedBy(HeaderInsertionCounters counters) => new(_block, _names) { Counters = counters };

    /// <summary>The lines to insert, each <c>Name: value</c> and CRLF, in the order given.</summary>
    internal ReadOnlySpan<byte> Block => _block;

    /// <summary>How many names are taken out of the client's requests (the inserted ones and the reserved ones).</summary>
    public int Names => _names.Length;

    /// <summary>
    /// The insertion of <paramref name="headers"/>; null when there are none. A name must be an HTTP token (RFC 9110
    /// section 5.1); a value keeps its printable characters, and every control character in it (a line end above all:
    /// a certificate's subject is chosen by whoever made the certificate) becomes a space, so no value can end its line
    /// or start another header. Values are trimmed.
    /// </summary>
    /// <param name="headers">The lines, in order.</param>
    /// <param name="reserved">More names taken out of the client's requests although no line of ours has them now (a
    /// field with no value on this connection: a client must not fill it in).</param>
    /// <exception cref="ArgumentException">A name that is not a token.</exception>
    public static RequestHeaderInsertion? Create(IEnumerable<KeyValuePair<string, string>> headers, IEnumerable<string>? reserved = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var block = new List<byte>();
        var names = new List<byte[]>();
        foreach (var name in reserved ?? [])
        {
            Reserve(names, name);
        }

        foreach (var (name, value) in headers)
        {
            var nameBytes = Reserve(names, name);
            block.AddRange(nameBytes);
            block.AddRange(": "u8.ToArray());
            block.AddRange(Printable(value));
            block.AddRange("\r\n"u8.ToArray());
        }

        return names.Count == 0 ? null : new RequestHeaderInsertion([.. block], [.. names]);
    }

    /// <summary>Adds a name to those taken out of the client's requests (once); its bytes.</summary>
    private static byte[] Reserve(List<byte[]> names, string name)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name);
        if (!HttpHead.IsToken(name))
        {
            throw new ArgumentException($"'{name}' is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)", nameof(name));
        }

        if (!names.Any(n => Ascii.EqualsIgnoreCase(n, nameBytes)))
        {
            names.Add(nameBytes);
        }

        return nameBytes;
    }

    /// <summary>
    /// Whether a header the client sent under <paramref name="name"/> is taken out of its request: an inserted name in
    /// any case, and any spelling that differs from one only in characters other than letters and digits
    /// (<c>Session_Id</c>, <c>Session.Id</c>), since CGI-style servers map all of them to one variable.
    /// </summary>
    internal bool Removes(ReadOnlySpan<byte> name)
    {
        foreach (var candidate in _names)
        {
            if (SameFolded(candidate, name))
            {
                return true;
            }
        }

        return false;
    }

    private static bool SameFolded(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (Fold(a[i]) != Fold(b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static byte Fold(byte c) => c switch
    {
        >= (byte)'a' and <= (byte)'z' => (byte)(c - 32),
        >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' => c,
        _ => (byte)'_',
    };

    /// <summary>The value as UTF-8 with every control character (C0, DEL) turned into a space, trimmed.</summary>
    private static byte[] Printable(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] < 0x20 || bytes[i] == 0x7f)
            {
                bytes[i] = (byte)' ';
            }
        }

        return bytes.AsSpan().Trim((byte)' ').ToArray();
    }
}

/// <summary>
/// What header insertion did on one module's row: requests that got the lines, header lines a client sent under a
/// name of ours (taken out), and requests refused because they could not be framed strictly. Thread-safe.
/// </summary>
public sealed class HeaderInsertionCounters
{
    private long _requests;
    private long _removed;
    private long _refused;

    public long Requests => Interlocked.Read(ref _requests);

    public long Removed => Interlocked.Read(ref _removed);

    public long Refused => Interlocked.Read(ref _refused);

    internal void Inserted() => Interlocked.Increment(ref _requests);

    internal void RemovedLine() => Interlocked.Increment(ref _removed);

    internal void RefusedRequest() => Interlocked.Increment(ref _refused);

    /// <summary>Sets every count back to zero (<c>clear ssl-proxy stats</c>).</summary>
    public void Clear()
    {
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _removed, 0);
        Interlocked.Exchange(ref _refused, 0);
    }
}
