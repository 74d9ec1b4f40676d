using System.Buffers;

namespace SslCluster.Protocol.Http;

internal enum HeadStatus
{
    /// <summary>The head is whole; the input is advanced past it.</summary>
    Complete,

    /// <summary>All the input is held; the head goes on in the next read.</summary>
    NeedMore,

    /// <summary>No blank line within <see cref="HeadBuffer.MaxHeadBytes"/>: the held bytes, then the input, pass as they are.</summary>
    TooLarge,
}

/// <summary>
/// Gathers one message head that arrives over several reads. A head that lies whole in one read is parsed where it
/// lies and never copied; only a split head is held, in a pooled buffer that goes back to the pool when the head is
/// done. Not thread-safe: one per direction.
/// </summary>
internal sealed class HeadBuffer : IDisposable
{
    /// <summary>The most bytes of a head held back from the peer; larger heads pass unparsed.</summary>
    public const int MaxHeadBytes = 64 * 1024;

    private const int FirstRent = 4096;

    private byte[]? _buffer;
    private int _length;

    public bool IsEmpty => _length == 0;

    /// <summary>The bytes held so far (the whole head after <see cref="HeadStatus.Complete"/> from a split head).</summary>
    public ReadOnlySpan<byte> Held => _buffer.AsSpan(0, _length);

    /// <summary>
    /// Takes bytes of <paramref name="input"/> until the head ends. On <see cref="HeadStatus.Complete"/>,
    /// <paramref name="head"/> is the head (in the input or in this buffer, valid until <see cref="Clear"/>) and
    /// <paramref name="input"/> starts after it.
    /// </summary>
    public HeadStatus Read(ref ReadOnlySpan<byte> input, out ReadOnlySpan<byte> head)
    {
        head = default;
        var window = input[..Math.Min(input.Length, MaxHeadBytes - _length)];
        if (_length == 0)
        {
            var end = HttpHead.FindEnd(window, 0);
            if (end >= 0)
            {
                head = input[..end];
                input = input[end..];
                return HeadStatus.Complete;
            }
            if (window.Length == MaxHeadBytes) return HeadStatus.TooLarge;
            Hold(window);
            input = input[window.Length..];
            return HeadStatus.NeedMore;
        }
        var before = _length;
        Hold(window);
        // The blank line may straddle the reads: look again from the last line feed that could start it.
        var found = HttpHead.FindEnd(Held, Math.Max(0, before - 2));
        if (found >= 0)
        {
            _length = found;
            input = input[(found - before)..];
            head = Held;
            return HeadStatus.Complete;
        }
        input = input[window.Length..];
        return _length >= MaxHeadBytes ? HeadStatus.TooLarge : HeadStatus.NeedMore;
    }

    private void Hold(ReadOnlySpan<byte> bytes)
    {
        var needed = _length + bytes.Length;
        if (_buffer is null || _buffer.Length < needed)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Min(MaxHeadBytes, Math.Max(FirstRent, (_buffer?.Length ?? 0) * 2))));
            Held.CopyTo(bigger);
            if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length = needed;
    }

    /// <summary>Forgets the held bytes and gives the buffer back to the pool.</summary>
    public void Clear()
    {
        _length = 0;
        if (_buffer is null) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
    }

    public void Dispose() => Clear();
}
