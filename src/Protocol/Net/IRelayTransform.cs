using System.Buffers;

namespace SslCluster.Protocol.Net;

/// <summary>
/// Rewrites the back end's clear text on its way to the client (URL rewrite), seeing the client's clear text to
/// keep track of the exchange. Called from the relay's two loops, one direction each: the request side and the
/// response side run on different threads.
/// </summary>
public interface IRelayTransform
{
    /// <summary>Client bytes about to be forwarded to the back end.</summary>
    void ObserveRequest(ReadOnlySpan<byte> clientBytes);

    /// <summary>Back-end bytes; writes to <paramref name="output"/> what may be released now.</summary>
    void Process(ReadOnlySpan<byte> backendBytes, IBufferWriter<byte> output);

    /// <summary>The back end finished: releases anything held.</summary>
    void Complete(IBufferWriter<byte> output);
}

/// <summary>A growable buffer the response loop drains after each transform call; reused for the connection.</summary>
internal sealed class RelayOutput : IBufferWriter<byte>
{
    private readonly ArrayBufferWriter<byte> _buffer = new(SocketIo.BufferSize);
    private int _taken;

    public int Count => _buffer.WrittenCount - _taken;

    public void Advance(int count) => _buffer.Advance(count);

    public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);

    public Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);

    /// <summary>Copies the next <paramref name="count"/> bytes out; clears the buffer once all were taken.</summary>
    public void Take(byte[] destination, int count)
    {
        _buffer.WrittenSpan.Slice(_taken, count).CopyTo(destination);
        _taken += count;
        if (_taken == _buffer.WrittenCount)
        {
            _buffer.ResetWrittenCount();
            _taken = 0;
        }
    }
}
