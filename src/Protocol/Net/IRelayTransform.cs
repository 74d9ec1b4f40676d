using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The clear text of an HTTP flow on its way through the relay (URL rewrite, back-end connection re-use): what the
/// client sends becomes what the back end receives, and the back end's answers what the client receives. Called
/// from the relay's two loops, one direction each: the request side and the response side run on different threads.
/// </summary>
public interface IRelayTransform
{
    /// <summary>Client bytes: writes to <paramref name="output"/> what goes to the back end.</summary>
    void ProcessRequest(ReadOnlySpan<byte> clientBytes, IBufferWriter<byte> output);

    /// <summary>True once nothing more the client sends is to be forwarded (it asked to close).</summary>
    bool RequestsEnded { get; }

    /// <summary>
    /// True once the client sent bytes the transform refused to forward (header insertion and a request it cannot frame
    /// strictly): the client's side is read no more, and the back end is told the client finished.
    /// </summary>
    bool RequestsRefused => false;

    /// <summary>
    /// The client finished sending, before <see cref="EndRequests"/>: writes to <paramref name="output"/> what was held
    /// of a message it did not finish, where the transform forwards what it cannot frame (a relay at layer 4 would have
    /// forwarded those bytes too).
    /// </summary>
    void CompleteRequests(IBufferWriter<byte> output);

    /// <summary>The client finished sending: whether the back end must see it, or the exchange ends without that.</summary>
    Http.RequestEnd EndRequests();

    /// <summary>
    /// True once the last answer the client is owed went through <see cref="Process"/> and the client sends nothing
    /// more: the relay closes the client's side and keeps the back end's open.
    /// </summary>
    bool ExchangeOver { get; }

    /// <summary>Back-end bytes; writes to <paramref name="output"/> what may be released now.</summary>
    void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output);

    /// <summary>The back end finished: releases anything held.</summary>
    void Complete(IBufferWriter<byte> output);
}

/// <summary>
/// What a transform released, until the loop has sent it. Bytes the transform passes unchanged
/// (<see cref="RelayOutputs.Pass"/>) straight from the read buffer given to <see cref="Begin"/> are not copied: as
/// long as the output is exactly the start of that buffer, the loop sends from the buffer itself
/// (<see cref="TakeDirect"/>), which is the case for every body byte and for heads the transform does not change.
/// Anything else (a changed head, a head gathered over several reads) goes to a pooled buffer rented on the first
/// write and given back once drained, so that an idle connection holds none.
/// </summary>
internal sealed class RelayOutput : IBufferWriter<byte>, IDisposable
{
    private byte[]? _buffer;
    private int _written;
    private int _taken;

    // The read buffer of the current call and how many of its first bytes pass unchanged (not copied).
    private byte[]? _source;
    private int _passed;
    private bool _direct;

    public int Count => _written - _taken + (_direct ? _passed : 0);

    /// <summary>Starts a transform call on bytes read into <paramref name="source"/> (from its index 0).</summary>
    public void Begin(byte[] source)
    {
        _source = source;
        _passed = 0;
        _direct = _written == _taken;
    }

    /// <summary>
    /// Ends the call: true when the output is the first <paramref name="count"/> bytes of the read buffer, to be sent
    /// from it; false when it is in the pooled buffer (<see cref="TryDetach"/>, <see cref="Take"/>).
    /// </summary>
    public bool TakeDirect(out int count)
    {
        count = _passed;
        var direct = _direct;
        _source = null;
        _direct = false;
        _passed = 0;
        return direct;
    }

    /// <summary>
    /// Ends the call without sending: what passed unchanged is copied in (the read buffer is about to go back), so the
    /// output holds the whole of it for a later <see cref="Take"/>.
    /// </summary>
    public void Keep()
    {
        if (_direct) Materialize();
        _source = null;
        _passed = 0;
    }

    /// <summary>Bytes that go out unchanged: recorded when they continue the read buffer's start, copied otherwise.</summary>
    public void Pass(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (_direct)
        {
            if (_passed < _source!.Length && Unsafe.AreSame(ref MemoryMarshal.GetReference(bytes), ref _source[_passed]))
            {
                _passed += bytes.Length;
                return;
            }
            Materialize();
        }
        this.Write(bytes);
    }

    /// <summary>The output stops being the read buffer's start: what passed so far is copied, and all else follows it.</summary>
    private void Materialize()
    {
        _direct = false;
        if (_passed == 0) return;
        var passed = _source.AsSpan(0, _passed);
        _passed = 0;
        this.Write(passed);
    }

    public void Advance(int count) => _written += count;

    // Reserve first, then read the buffer it may have replaced: `_buffer.AsSpan(Reserve(n))` would take the old one (null
    // on the first write: an empty span, which the Write extension could only get round by asking again).
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_direct) Materialize();
        var at = Reserve(sizeHint);
        return _buffer.AsMemory(at);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (_direct) Materialize();
        var at = Reserve(sizeHint);
        return _buffer.AsSpan(at);
    }

    /// <summary>Makes room for at least <paramref name="sizeHint"/> bytes (one at least); returns where they start.</summary>
    private int Reserve(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        if (_buffer is null || _buffer.Length < needed)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(SocketIo.BufferSize, (_buffer?.Length ?? 0) * 2)));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _written).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }
            _buffer = bigger;
        }
        return _written;
    }

    /// <summary>
    /// Hands over the pooled buffer when it holds, from its start, all that is left and no more than
    /// <paramref name="max"/> bytes (the usual case: one request or one response at a time), so that it is sent
    /// without a copy; the caller returns it to the pool.
    /// </summary>
    public bool TryDetach(int max, out byte[] buffer, out int count)
    {
        buffer = _buffer!;
        count = _written;
        if (_buffer is not null && _written == 0)
        {
            // Reserved but never written (an empty write): nothing to send, and an idle connection keeps no buffer.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        if (_buffer is null || _taken != 0 || _written > max) return false;
        _buffer = null;
        _written = 0;
        return true;
    }

    /// <summary>Gives a buffer still rented back (a loop that ended with output unsent).</summary>
    public void Dispose()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        _written = _taken = 0;
        _source = null;
        _direct = false;
    }

    /// <summary>Copies the next <paramref name="count"/> bytes out; gives the buffer back once all were taken.</summary>
    public void Take(byte[] destination, int count)
    {
        _buffer.AsSpan(_taken, count).CopyTo(destination);
        _taken += count;
        if (_taken == _written)
        {
            ArrayPool<byte>.Shared.Return(_buffer!);
            _buffer = null;
            _written = 0;
            _taken = 0;
        }
    }
}

/// <summary>Passing bytes unchanged to any writer: without a copy into a <see cref="RelayOutput"/> when it can.</summary>
internal static class RelayOutputs
{
    public static void Pass(this IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        if (output is RelayOutput relay) relay.Pass(bytes);
        else output.Write(bytes);
    }
}
