namespace SslCluster.Protocol.Http;

/// <summary>
/// Follows the body of one message as its bytes go by, to find where the next head starts: a Content-Length count or
/// the chunked coding (RFC 9112 section 7.1: sizes, extensions, data, trailer section). It never holds a byte; it only
/// says how many of the given bytes still belong to the body.
/// </summary>
internal struct MessageBody
{
    private enum State : byte
    {
        Done,
        Length,
        ChunkSize,
        ChunkExtension,
        ChunkSizeLf,
        ChunkData,
        ChunkDataCr,
        ChunkDataLf,
        TrailerLineStart,
        TrailerLine,
        TrailerEndLf,
    }

    private State _state;
    private long _remaining;
    private bool _sizeHasDigit;
    private int _sizeDigits;
    private bool _lastWasCr;

    /// <summary>
    /// A chunk line ended in a bare LF (RFC 9112 section 7.1 wants CRLF). Accepted, but a server may read such a body
    /// differently, so its connection is not one to hand to another client.
    /// </summary>
    public bool Lenient { get; private set; }

    /// <summary>The chunked body has a trailer section with at least one field (RFC 9112 section 7.1.2).</summary>
    public bool HasTrailer { get; private set; }

    public static MessageBody None => default;

    public static MessageBody OfLength(long length) =>
        new() { _state = length > 0 ? State.Length : State.Done, _remaining = length };

    public static MessageBody Chunked => new() { _state = State.ChunkSize };

    public readonly bool IsDone => _state == State.Done;

    /// <summary>
    /// How many bytes at the start of <paramref name="input"/> belong to the body. Stops where the body ends, or at a
    /// byte that breaks the chunked coding (then <paramref name="malformed"/> is set and the rest cannot be framed).
    /// </summary>
    public int Advance(ReadOnlySpan<byte> input, out bool malformed)
    {
        malformed = false;
        var i = 0;
        while (i < input.Length && _state != State.Done)
        {
            switch (_state)
            {
                case State.Length or State.ChunkData:
                {
                    var n = (int)Math.Min(_remaining, input.Length - i);
                    i += n;
                    _remaining -= n;
                    if (_remaining == 0) _state = _state == State.Length ? State.Done : State.ChunkDataCr;
                    continue;
                }
                case State.ChunkExtension or State.TrailerLine:
                {
                    // Extensions and trailer fields are passed, not read: skip to the end of the line. A control
                    // character in them (a lone CR above all) is leniency: a server could end the line there.
                    var lf = input[i..].IndexOf((byte)'\n');
                    if (_lastWasCr && lf != 0) Lenient = true;
                    var line = lf < 0 ? input[i..] : input.Slice(i, lf);
                    if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
                    if (line.ContainsAny(HttpHead.Controls)) Lenient = true;
                    if (lf < 0)
                    {
                        _lastWasCr = input[^1] == '\r';
                        return input.Length;
                    }
                    if (!(lf > 0 ? input[i + lf - 1] == '\r' : _lastWasCr)) Lenient = true;
                    _lastWasCr = false;
                    i += lf + 1;
                    if (_state == State.ChunkExtension) EndOfSizeLine();
                    else _state = State.TrailerLineStart;
                    continue;
                }
            }
            var b = input[i++];
            if (!Step(b))
            {
                malformed = true;
                return i - 1;
            }
        }
        return i;
    }

    /// <summary>One byte of the chunked coding outside data, extensions and trailer lines; false if it breaks it.</summary>
    private bool Step(byte b)
    {
        switch (_state)
        {
            case State.ChunkSize:
                if (HexValue(b) is var d and >= 0)
                {
                    // A size that does not fit in 60 bits is not a real chunk.
                    if (_remaining > (long.MaxValue >> 4)) return false;
                    _remaining = (_remaining << 4) + d;
                    _sizeHasDigit = true;

                    // More digits than a 64-bit size needs (leading zeros): servers that cap the digits read it otherwise.
                    if (++_sizeDigits > 16) Lenient = true;
                    return true;
                }
                if (!_sizeHasDigit) return false;
                switch (b)
                {
                    case (byte)';': _state = State.ChunkExtension; return true;
                    case (byte)' ' or (byte)'\t':
                        // Whitespace after the size (RFC 9112 allows none): accepted, as not every server reads it so.
                        Lenient = true;
                        _state = State.ChunkExtension;
                        return true;
                    case (byte)'\r': _state = State.ChunkSizeLf; return true;
                    case (byte)'\n': Lenient = true; EndOfSizeLine(); return true;
                    default: return false;
                }
            case State.ChunkSizeLf:
                if (b != '\n') return false;
                EndOfSizeLine();
                return true;
            case State.ChunkDataCr:
                if (b == '\r') _state = State.ChunkDataLf;
                else if (b == '\n')
                {
                    Lenient = true;
                    StartChunk();
                }
                else return false;
                return true;
            case State.ChunkDataLf:
                if (b != '\n') return false;
                StartChunk();
                return true;
            case State.TrailerLineStart:
                _state = b switch
                {
                    (byte)'\r' => State.TrailerEndLf,
                    (byte)'\n' => State.Done,
                    _ => State.TrailerLine,
                };
                if (b == '\n') Lenient = true;
                if (_state == State.TrailerLine) HasTrailer = true;
                _lastWasCr = false;
                return true;
            case State.TrailerEndLf:
                if (b != '\n') return false;
                _state = State.Done;
                return true;
            default:
                return false;
        }
    }

    private void StartChunk()
    {
        _state = State.ChunkSize;
        _remaining = 0;
        _sizeHasDigit = false;
        _sizeDigits = 0;
    }

    private void EndOfSizeLine() => _state = _remaining == 0 ? State.TrailerLineStart : State.ChunkData;

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
