using System.Buffers;
using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>
/// A relay side after its handshake as a plain <see cref="Stream"/> (for the keepalive probes, which speak HTTP over
/// it): reads and writes clear text, flush is a no-op (each write is sent), disposing closes the TLS then the socket.
/// One reader and one writer at a time, as the relay's copy loops.
/// </summary>
internal sealed class RelaySideStream(IRelayFrontEnd side, Socket socket) : Stream
{
    private int _disposed;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        byte[] chunk = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            while (true)
            {
                // Every read follows a wait (IRelayFrontEnd): a read may find nothing after all, and then waits again.
                await side.WaitReadableAsync(cancellationToken);
                var read = await side.ReadAsync(chunk, buffer.Length, cancellationToken);
                if (read.End)
                {
                    return 0;
                }

                if (read.Count > 0)
                {
                    chunk.AsSpan(0, read.Count).CopyTo(buffer.Span);
                    return read.Count;
                }
            }
        }
        catch (RelayException e) when (e.Error == ProxyError.BackendTruncated)
        {
            // A probe reads to the close: a server that omits close_notify still answered (a cut page fails the
            // probe's hash check anyway).
            return 0;
        }
        catch (RelayException e)
        {
            throw new IOException(e.Message, e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length, side.MaxWriteChunk));
        try
        {
            for (int offset = 0; offset < buffer.Length;)
            {
                int n = Math.Min(chunk.Length, Math.Min(side.MaxWriteChunk, buffer.Length - offset));
                buffer.Span.Slice(offset, n).CopyTo(chunk);
                if (!await side.WriteAsync(chunk, n, cancellationToken))
                {
                    throw new IOException("the server closed the TLS connection");
                }

                offset += n;
            }
        }
        catch (RelayException e)
        {
            throw new IOException(e.Message, e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await side.CloseWriteAsync(cts.Token);
            Release();
        }

        GC.SuppressFinalize(this);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Release();
        }

        base.Dispose(disposing);
    }

    private void Release()
    {
        // The side first: it readies the socket's close (EngineReadiness.BeforeClose).
        (side as IDisposable)?.Dispose();
        socket.Dispose();
    }
}
