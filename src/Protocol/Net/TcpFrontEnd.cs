using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace SslCluster.Protocol.Net;

/// <summary>A clear-text socket as one side of a relay: the client, or a plain back end.</summary>
internal sealed class TcpFrontEnd(Socket socket, RelaySide side = RelaySide.Client, bool epollWaits = false) : IRelayFrontEnd, IDisposable
{
    // Every read follows a wait that found the socket readable (or a read that filled its buffer): it is tried at once,
    // without the socket engine's async receive; when nothing was there after all, the read says so and the caller
    // waits again.
    private readonly bool _nonBlocking = SocketIo.TryMakeNonBlocking(socket);
    // Where chosen, a client waits for its bytes through epoll, as a TLS client does (TlsSocketSide): no socket-engine
    // state for an idle client. A back end keeps the engine it was dialled through.
    // (A field initializer cannot read _nonBlocking; a socket made non-blocking says so here.)
    private readonly OpenSsl.SocketReadiness? _readiness = side == RelaySide.Client && epollWaits && !socket.Blocking
        ? OpenSsl.SocketReadiness.For(socket) : null;
    // Otherwise, the wait through the runtime's socket engine, whose receive no token cancels (see EngineReadiness).
    private EngineReadiness? _engineWait;
    private bool _closedWrite;
    private bool _inputEnded;
    // A back end's last read filled all it asked for: more is most likely waiting (a response in full flow), so the next
    // read goes straight to the socket instead of a zero-byte wait first, one recvfrom per read instead of two (HAProxy
    // stops reading on a short read the same way). Not for a client: its waits are where an idle keep-alive client is
    // released, and must hold no buffer. Written and read by whichever loop reads this side, one after the other (a
    // pooled back end passes from one relay to the next).
    private bool _lastReadFull;
    private long _received;
    private long _sent;

    public int MaxWriteChunk => SocketIo.BufferSize;

    public bool CanWrite => !_closedWrite;

    // Written by the client-to-backend loop, read by the other one.
    public bool InputEnded
    {
        get => Volatile.Read(ref _inputEnded);
        private set => Volatile.Write(ref _inputEnded, value);
    }

    // Bytes waiting in the kernel are seen by the pool's poll of the socket.
    public bool HasPendingInput => InputEnded;

    public bool InputWaiting => InputEnded || SocketIo.HasBytes(socket);

    public long BytesReceived => Interlocked.Read(ref _received);

    public long BytesSent => Interlocked.Read(ref _sent);

    public ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        if (_lastReadFull) return ValueTask.CompletedTask;
        return _readiness?.WaitReadableAsync(cancellationToken) ??
            (_engineWait ??= new EngineReadiness(socket, side)).WaitAsync(cancellationToken, asRelayError: true);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken)
    {
        int n;
        int asked = Math.Min(maxCount, SocketIo.BufferSize);
        try
        {
            // A read follows a wait (or a full read). Nothing there means the wait's readiness was stale (an edge the
            // socket engine saw for bytes an earlier receive took) or the guess wrong: the caller waits again, so that a
            // client idle between two messages is back in its wait, where a release or a drain finds it.
            n = await SocketIo.ReceiveOrNothingAsync(socket, _nonBlocking, buffer.AsMemory(0, asked), cancellationToken);
            if (n < 0)
            {
                _lastReadFull = false;
                return new FrontEndRead(0, false);
            }
        }
        catch (SocketException e)
        {
            throw side.ReceiveFailed(e);
        }

        _lastReadFull = n == asked && side == RelaySide.Backend;
        if (n == 0)
        {
            InputEnded = true;
            return FrontEndRead.Ended;
        }

        Interlocked.Add(ref _received, n);
        return new FrontEndRead(n, false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        if (_closedWrite)
        {
            return false;
        }

        try
        {
            await SocketIo.SendAllAsync(socket, buffer.AsMemory(0, count), cancellationToken);
        }
        catch (SocketException e)
        {
            throw side.SendFailed(e);
        }

        Interlocked.Add(ref _sent, count);
        return true;
    }

    /// <summary>Frees the wait: call once the relay has stopped reading this side, before the socket is closed (see <see cref="EngineReadiness.BeforeClose"/>).</summary>
    public void Dispose()
    {
        _engineWait?.BeforeClose();
        _readiness?.Dispose();
    }

    public ValueTask CloseWriteAsync(CancellationToken cancellationToken)
    {
        if (!_closedWrite)
        {
            _closedWrite = true;
            SocketIo.ShutdownSendQuietly(socket);
        }

        return ValueTask.CompletedTask;
    }
}
