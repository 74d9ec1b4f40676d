using System.Net.Sockets;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The socket half shared by both TLS engines' relay sides (<see cref="TlsFrontEnd"/> on BouncyCastle,
/// <see cref="OpenSslFrontEnd"/> on OpenSSL): byte counters, the ordered sending of the engine's output, waiting for
/// input without a buffer, and the classification of socket errors by side. The engine is called only under
/// <see cref="Gate"/> (short and synchronous; the two copy loops share it); sends hold one async lock so records leave
/// in the order the engine sealed them.
/// </summary>
internal abstract class TlsSocketSide : IRelayFrontEnd, IDisposable
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private bool _inputEnded;
    private long _received;
    private long _sent;

    protected TlsSocketSide(Socket socket, RelaySide side)
    {
        Socket = socket;
        Side = side;
    }

    protected Socket Socket { get; }

    protected RelaySide Side { get; }

    protected Lock Gate { get; } = new();

    public long BytesReceived => Interlocked.Read(ref _received);

    public long BytesSent => Interlocked.Read(ref _sent);

    public abstract int MaxWriteChunk { get; }

    public abstract bool CanWrite { get; }

    /// <summary>True once the peer has finished sending; written by the loop that reads this side, read by the other.</summary>
    public bool InputEnded
    {
        get => Volatile.Read(ref _inputEnded);
        protected set => Volatile.Write(ref _inputEnded, value);
    }

    public abstract ValueTask WaitReadableAsync(CancellationToken cancellationToken);

    public abstract ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken);

    public abstract ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken);

    public abstract ValueTask CloseWriteAsync(CancellationToken cancellationToken);

    /// <summary>Ciphertext the engine has ready for the peer (called under <see cref="Gate"/>).</summary>
    protected abstract int PendingOutputLocked();

    /// <summary>Moves the engine's ciphertext into <paramref name="buffer"/>; the count (called under <see cref="Gate"/>).</summary>
    protected abstract int TakeOutputLocked(byte[] buffer);

    protected void CountReceived(int count) => Interlocked.Add(ref _received, count);

    /// <summary>
    /// Ends the stream as a failure of our own after the handshake (the back end could not be reached): never with
    /// close_notify, with a fatal internal_error alert where the engine can send one.
    /// </summary>
    public abstract ValueTask FailAsync(string message);

    /// <summary>Takes the engine's output into a pooled buffer and sends it, in the engine's order.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            if (PendingOutputLocked() == 0)
            {
                return;
            }
        }

        await _sendLock.WaitAsync(cancellationToken);
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                int n;
                lock (Gate)
                {
                    if (PendingOutputLocked() == 0)
                    {
                        break;
                    }

                    buffer ??= SocketIo.Rent();
                    n = TakeOutputLocked(buffer);
                }

                await SocketIo.SendAllAsync(Socket, buffer.AsMemory(0, n), cancellationToken);
                Interlocked.Add(ref _sent, n);
            }
        }
        finally
        {
            _sendLock.Release();
            if (buffer is not null)
            {
                SocketIo.Return(buffer);
            }
        }
    }

    /// <summary>Sends what the engine has queued (an alert after a failure), within a short time, ignoring errors.</summary>
    public async ValueTask FlushQuietlyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await FlushAsync(cts.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Best effort: the peer may be gone already.
        }
    }

    public virtual void Dispose() => _sendLock.Dispose();

    /// <summary><see cref="FlushAsync"/> with a socket failure classified as this side's reset.</summary>
    protected async ValueTask FlushOrThrowAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RelayException(Side.Reset(), Side.Name() + " send failed: " + SocketIo.Describe(e), e);
        }
    }

    /// <summary>Waits for the socket to be readable, holding no buffer; a socket failure is this side's reset.</summary>
    protected async ValueTask WaitSocketReadableAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SocketIo.WaitReadableAsync(Socket, cancellationToken);
        }
        catch (SocketException e)
        {
            throw ReceiveFailed(e);
        }
    }

    protected RelayException ReceiveFailed(SocketException e) =>
        new(Side.Reset(), Side.Name() + " receive failed: " + SocketIo.Describe(e), e);

    /// <summary>Sends our queued close (close_notify) if the peer still listens, then half-closes the socket.</summary>
    protected async ValueTask FinishCloseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer may be gone; closing needs no answer.
        }

        SocketIo.ShutdownSendQuietly(Socket);
    }
}
