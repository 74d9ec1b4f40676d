using System.Net.Sockets;
using System.Runtime.CompilerServices;
using SslCluster.OpenSsl;

namespace SslCluster.Protocol.Net;

/// <summary>
/// One TLS side of a flow (the client, or the real server of a re-encrypted or initiated flow): its socket and an
/// <see cref="SslConnection"/> (ciphertext fed in from the socket; what it seals taken out with its pooled buffer and sent), as clear text
/// for the relay. Every call on the SSL holds <see cref="Gate"/> (short and synchronous, never across an await; the two
/// copy loops share the SSL); every take-then-send holds one async send lock, so that records leave in the order
/// OpenSSL sealed them. Waiting for input holds no buffer; socket errors are classified by side.
/// Half-close: under TLS 1.3 the peer's close_notify only ends its input (RFC 8446 6.1) and we may still send; under
/// TLS 1.2 it is answered at once with ours and nothing more is sent (RFC 5246 7.2.1).
/// </summary>
internal sealed class TlsSocketSide : IRelayFrontEnd, IOutputSink, IDisposable
{
    // One clear-text chunk per write: one record (16 KiB of plaintext at most) fits a pooled buffer with its overhead.
    private const int ChunkSize = SocketIo.BufferSize - 256;

    private readonly SslConnection _ssl;
    private readonly bool _requireCloseNotify;
    private bool _closedWrite;
    private bool _peerClosed;
    private bool _failed;
    private readonly SendGate _sendLock = new();
    private bool _inputEnded;
    // The last wait for the socket ended readable and nothing has been received since: the bytes (or the EOF) are still
    // there, so the next receive needs no zero-byte wait of its own (one recvfrom less per request). Only this side's
    // reading loop waits and receives, one step after the other. The socket engine can end a zero-byte wait on a stale
    // readiness event with nothing to read (an edge for bytes a receive took already: common when a request came in two
    // segments); the read then finds nothing and says so, and the caller waits again (or asks ReadinessStale first).
    private bool _socketReadable;
    // The last receive filled its buffer: more ciphertext is most likely waiting (a transfer in full flow), so the next
    // receive goes straight to the socket, without a zero-byte wait first (see TcpFrontEnd). The relay's wait skips the
    // socket for it on a back end only: a client's wait is where an idle keep-alive client is released. Kept with the
    // connection: a pooled back end passes from one relay to the next, one after the other.
    private bool _lastReceiveFull;
    private long _received;
    private long _sent;
    // A flush holds output taken from the engine and is sending it: sealed bytes wait behind it, never go to the socket
    // directly (TryTake). Written under Gate only.
    private bool _flushing;
    // The first failure of a send made in TryTake (a reset, a broken pipe): no send is tried after it, and the next flush
    // reports it, since the socket may not report it twice (a reset clears the socket's pending error).
    private SocketError? _sendError;
    // An SSL_write of the relay's data is running (under Gate): only its records go to the socket at once. What the
    // handshake, a ticket, an alert or a close makes waits for the flush that follows, so that a flight of several
    // messages leaves in one send (each send is a TCP segment, and on loopback the peer's receive runs in our call).
    private bool _writingData;
    // The socket was made non-blocking (the constructor): only then may a send be tried without waiting.
    private readonly bool _nonBlocking;
    // Where chosen (ProxyConnectionOptions.EpollSocketWaits), a client's waits for its bytes go through epoll
    // (SocketReadiness) rather than the socket engine's zero-byte receive, which keeps its event-args, context and
    // operations with the socket for its life. Null for a back end (dialled through the engine, which it keeps using),
    // where epoll is not there, and by default.
    private readonly SocketReadiness? _readiness;
    // Otherwise, the wait through the runtime's socket engine, whose receive no token cancels (see EngineReadiness).
    private EngineReadiness? _engineWait;

    private Socket Socket { get; }

    private RelaySide Side { get; }

    // The send gate's monitor: an idle connection keeps this side for its life, and a Lock of its own was 40 bytes more.
    private object Gate => _sendLock;

    public TlsSocketSide(Socket socket, SslConnection ssl, bool requireCloseNotify, RelaySide side = RelaySide.Client, bool epollWaits = false)
    {
        Socket = socket;
        Side = side;
        _ssl = ssl;
        _requireCloseNotify = requireCloseNotify;
        // Records go to the socket as OpenSSL seals them when it takes them at once (TryTake), and a socket found readable
        // is read at once (ReceiveAsync); neither ever waits on a non-blocking socket. Closed by an abort already: every
        // record then waits for a flush and every receive goes through the socket engine, which report the socket's end.
        _nonBlocking = SocketIo.TryMakeNonBlocking(socket);
        if (_nonBlocking) ssl.OutputSink = this;
        if (_nonBlocking && side == RelaySide.Client && epollWaits) _readiness = SocketReadiness.For(socket);
    }

    /// <summary>The OpenSSL connection, for what the handshake negotiated and why it failed.</summary>
    public SslConnection Connection => _ssl;

    public int MaxWriteChunk => ChunkSize;

    public bool CanWrite
    {
        get
        {
            lock (Gate)
            {
                return !_closedWrite && !_failed;
            }
        }
    }

    /// <summary>
    /// Runs the handshake to its end: Ok, Failed (an alert for the peer already sent when OpenSSL made one), or null
    /// when the peer closed the connection first. Socket errors and cancellation come out as exceptions.
    /// </summary>
    public async ValueTask<SslStatus?> HandshakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            SslStatus status;
            lock (Gate)
            {
                status = _ssl.Handshake();
            }

            if (status == SslStatus.Failed)
            {
                _failed = true;
                await FlushQuietlyAsync(TimeSpan.FromSeconds(1));
                return status;
            }

            await FlushAsync(cancellationToken);
            if (status != SslStatus.WantInput)
            {
                return status;
            }

            if (await ReceiveAsync(cancellationToken, staleIsNothing: false) == 0)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Ends the stream as a failure of our own after the handshake (the back end could not be reached). OpenSSL has no
    /// call to send an alert of our choosing after the handshake, so nothing more is sent, and never a close_notify: the
    /// peer sees the stream end unclean.
    /// </summary>
    public void Fail()
    {
        lock (Gate)
        {
            _failed = true;
        }
    }

    // Not async: a cancelled wait (the idle release) then throws once less on its way up.
    public ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            // Clear text or unprocessed records already inside OpenSSL, or the peer's close_notify already seen.
            if (_ssl.BufferedInput > 0 || _peerClosed)
            {
                return ValueTask.CompletedTask;
            }
        }

        if (_lastReceiveFull && Side == RelaySide.Backend)
        {
            // Nothing is buffered in the engine (checked above): the read goes straight to the socket, as after a wait.
            _socketReadable = true;
            return ValueTask.CompletedTask;
        }

        var wait = WaitSocketReadableAsync(cancellationToken);
        if (!wait.IsCompleted && Side == RelaySide.Client)
        {
            // The client has nothing for us now (an idle wait, not a pause inside a transfer, which finds bytes already
            // there): the engine's buffers grown by the handshake or a large transfer go back.
            ReleaseIdleBuffers();
        }

        return wait;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (InputEnded)
            {
                return FrontEndRead.Ended;
            }

            // The last wait found the engine holding nothing and the socket readable: an SSL_read now could only ask
            // for input, so the ciphertext is fed first. That readiness can be stale (an edge the socket engine saw for
            // bytes a receive had taken already): then nothing is read, and the caller waits again, so that a client
            // idle between two messages is back in its wait, where a release or a drain finds it, not in a receive.
            if (_socketReadable)
            {
                var received = await ReceiveOrEofAsync(cancellationToken, staleIsNothing: true);
                if (received == 0) return End();
                if (received < 0) return new FrontEndRead(0, false);
            }

            SslStatus status;
            int read;
            bool answerClose = false;
            bool renegotiation = false;
            lock (Gate)
            {
                status = _ssl.Read(buffer.AsSpan(0, Math.Min(maxCount, buffer.Length)), out read);
                if (status == SslStatus.Closed && !_peerClosed)
                {
                    _peerClosed = true;
                    if (_ssl.Version != 0x0304 && !_closedWrite)
                    {
                        // TLS 1.2: answer the close_notify now and send nothing more.
                        _closedWrite = true;
                        _ssl.Shutdown();
                        answerClose = true;
                    }
                }
                else if (status == SslStatus.Failed)
                {
                    _failed = true;
                }
                else if (_ssl.RenegotiationAttempted)
                {
                    _failed = true;
                    renegotiation = true;
                    InputEnded = true;
                }
            }

            if (renegotiation)
            {
                throw new RelayException(Side.ProtocolError(), $"{Side.Name()} tried a TLS renegotiation, which is refused: connection closed");
            }

            switch (status)
            {
                case SslStatus.Ok:
                    // Reading may have queued records of ours (a TLS 1.3 KeyUpdate answer).
                    await FlushOrThrowAsync(cancellationToken);
                    return new FrontEndRead(read, false);
                case SslStatus.Closed:
                    if (answerClose)
                    {
                        await FlushQuietlyAsync(TimeSpan.FromSeconds(1));
                    }

                    return End();
                case SslStatus.Failed:
                    InputEnded = true;
                    await FlushQuietlyAsync(TimeSpan.FromSeconds(1));
                    throw _ssl.AlertReceived >= 0
                        ? new RelayException(Side.AlertReceived(), $"{Side.Name()} sent fatal alert {AlertName(_ssl.AlertReceived)}")
                        : new RelayException(Side.ProtocolError(), $"{Side.Name()} record refused: {_ssl.Error}");
            }

            // WantInput: what reading queued goes out first (a TLS 1.3 KeyUpdate answer, a warning alert), so a peer
            // that keeps asking cannot grow our output buffer while we wait for it; then more ciphertext, read again.
            await FlushOrThrowAsync(cancellationToken);
            if (await ReceiveOrEofAsync(cancellationToken, staleIsNothing: false) == 0)
            {
                return End();
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            if (_closedWrite || _failed)
            {
                return false;
            }

            SslStatus status;
            _writingData = true;
            try
            {
                status = _ssl.Write(buffer.AsSpan(0, count));
            }
            finally
            {
                _writingData = false;
            }

            if (status != SslStatus.Ok)
            {
                _failed = true;
                throw new RelayException(Side.ProtocolError(), $"{Side.Name()} write refused: {_ssl.Error}");
            }
        }

        await FlushOrThrowAsync(cancellationToken);
        return true;
    }

    public async ValueTask CloseWriteAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            if (_closedWrite)
            {
                return;
            }

            _closedWrite = true;
            if (!_failed)
            {
                _ssl.Shutdown();
            }
        }

        await FinishCloseAsync(cancellationToken);
    }

    public void ReleaseIdleBuffers()
    {
        lock (Gate)
        {
            if (!_ssl.IsDisposed) _ssl.ReleaseIdleBuffers();
        }
    }

    /// <summary>Frees the SSL: call once both copy loops have stopped, before the socket is closed (see <see cref="EngineReadiness.BeforeClose"/>).</summary>
    public void Dispose()
    {
        _engineWait?.BeforeClose();
        lock (Gate)
        {
            _ssl.Dispose();
        }

        _readiness?.Dispose();
    }

    private int PendingOutputLocked() => _ssl.PendingOutput;

    /// <summary>The alert's name as TLS calls it (for example "handshake_failure").</summary>
    internal static string AlertName(int alert) => Org.BouncyCastle.Tls.AlertDescription.GetText((short)alert);

    /// <summary>
    /// Receives ciphertext and feeds it: 1 when it did, 0 at EOF. Waits without a buffer, then reads into a pooled one;
    /// right after a wait that found the socket readable, or a receive that filled its buffer, it reads at once. With
    /// <paramref name="staleIsNothing"/>, -1 when nothing was there after all (a non-blocking socket), instead of waiting.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveAsync(CancellationToken cancellationToken, bool staleIsNothing)
    {
        while (true)
        {
            if (!_socketReadable && !_lastReceiveFull)
            {
                if (_readiness is null) await EngineWait.WaitAsync(cancellationToken);
                else await _readiness.WaitReadableAsync(cancellationToken);
            }

            _socketReadable = false;
            byte[] buffer = SocketIo.Rent();
            try
            {
                var into = buffer.AsMemory(0, SocketIo.BufferSize);
                // Bytes are read only with plain receives, never through the engine's receive (whose event-args would stay
                // with the socket): nothing there after a wait (a stale readiness, a wait cancelled earlier) means
                // waiting again.
                int n = await SocketIo.ReceiveOrNothingAsync(Socket, _nonBlocking, into, cancellationToken);
                if (n < 0)
                {
                    _lastReceiveFull = false;
                    if (!staleIsNothing) continue;
                    return -1;
                }

                _lastReceiveFull = n == SocketIo.BufferSize;
                if (n == 0)
                {
                    return 0;
                }

                CountReceived(n);
                lock (Gate)
                {
                    _ssl.Feed(buffer.AsSpan(0, n));
                }

                return 1;
            }
            finally
            {
                SocketIo.Return(buffer);
            }
        }
    }

    /// <summary>Like <see cref="ReceiveAsync"/> in the relay: socket errors classified, a missing close_notify checked at EOF (0).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveOrEofAsync(CancellationToken cancellationToken, bool staleIsNothing)
    {
        int more;
        try
        {
            more = await ReceiveAsync(cancellationToken, staleIsNothing);
        }
        catch (SocketException e)
        {
            throw Side.ReceiveFailed(e);
        }

        // Under TLS 1.2 a server we sent close_notify to may discard what it had left and close (RFC 5246 7.2.1):
        // nothing can be cut short then.
        if (more == 0 && !_peerClosed && Side == RelaySide.Backend && !(Volatile.Read(ref _closedWrite) && _ssl.Version != 0x0304))
        {
            // A TLS server ends what it sends with close_notify (RFC 8446 6.1); a bare FIN may have cut a response
            // short, and a clean end towards the client would hide that.
            InputEnded = true;
            throw new RelayException(ProxyError.BackendTruncated, "backend closed the connection without TLS close_notify: what it sent may be truncated");
        }

        if (more == 0 && _requireCloseNotify && !Volatile.Read(ref _closedWrite) && !_peerClosed)
        {
            InputEnded = true;
            throw new RelayException(ProxyError.ClientTruncated, "client closed the connection without TLS close_notify");
        }

        return more;
    }

    private FrontEndRead End()
    {
        InputEnded = true;
        return FrontEndRead.Ended;
    }

    public long BytesReceived => Interlocked.Read(ref _received);

    public long BytesSent => Interlocked.Read(ref _sent);

    public bool HasPendingInput
    {
        get
        {
            lock (Gate)
            {
                return _ssl.BufferedInput > 0 || _peerClosed || InputEnded;
            }
        }
    }

    /// <summary>Bytes or a close inside the engine (<see cref="HasPendingInput"/>), or bytes in the socket.</summary>
    public bool InputWaiting => HasPendingInput || SocketIo.HasBytes(Socket);

    /// <summary>
    /// After <see cref="WaitReadableAsync"/> ended: nothing is there after all (no input inside the engine, no byte, no
    /// end or failure of the socket; one peek), so the wait's readiness was stale and the caller waits again. For the
    /// waits whose wake decides more than a read does: a keep-alive client's wait for its next request, where a drain
    /// closes it when nothing came. Asked in the caller's loop, so that an idle client holds no frame more for it.
    /// </summary>
    public bool ReadinessStale => _nonBlocking && !HasPendingInput && SocketIo.NothingYet(Socket);

    /// <summary>True once the peer has finished sending; written by the loop that reads this side, read by the other.</summary>
    public bool InputEnded
    {
        get => Volatile.Read(ref _inputEnded);
        private set => Volatile.Write(ref _inputEnded, value);
    }

    private void CountReceived(int count) => Interlocked.Add(ref _received, count);

    /// <summary>
    /// The engine's sink, called under <see cref="Gate"/> inside an SSL call: the records of the relay's data
    /// (<see cref="WriteAsync"/>) are sent at once when no flush is sending (they would pass it) and the socket takes
    /// them without waiting; what it does not take (all of
    /// it after a failure, which the next flush then meets and reports) waits in the engine's output buffer.
    /// </summary>
    int IOutputSink.TryTake(ReadOnlySpan<byte> data)
    {
        // A flush may have taken its buffer and not yet handed it to the socket: a record sent now would pass it.
        if (!_writingData || _flushing || _sendError is not null)
        {
            return 0;
        }

        try
        {
            int sent = SocketIo.SendNow(Socket, data);
            Interlocked.Add(ref _sent, sent);
            return sent;
        }
        catch (SocketException e)
        {
            _sendError = e.SocketErrorCode;
            return 0;
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    /// <summary>Takes the engine's output with its pooled buffer (no copy) and sends it, in the engine's order.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            // Nothing waits and no other flush is still sending what it took: this one has nothing to wait for.
            if (PendingOutputLocked() == 0 && !_flushing)
            {
                return;
            }
        }

        await _sendLock.EnterAsync(cancellationToken);
        try
        {
            while (true)
            {
                byte[]? buffer;
                int start, n;
                SocketError? failed;
                lock (Gate)
                {
                    buffer = _ssl.TakeOutputBuffer(out start, out n);
                    _flushing = buffer is not null;
                    failed = _sendError;
                }

                if (buffer is null)
                {
                    break;
                }

                if (failed is { } error)
                {
                    // A send in TryTake failed: this is how the socket ended, whatever a send now would say.
                    SocketIo.Return(buffer);
                    throw new SocketException((int)error);
                }

                try
                {
                    // Most flushes (a handshake's flight, an answer) fit the socket's send buffer: sent here, without the
                    // socket engine's async send (whose event-args object a socket then keeps for its life).
                    int now = _nonBlocking ? SocketIo.SendNow(Socket, buffer.AsSpan(start, n)) : 0;
                    Interlocked.Add(ref _sent, now);
                    if (now < n) await SocketIo.SendAllAsync(Socket, buffer.AsMemory(start + now, n - now), cancellationToken);
                    Interlocked.Add(ref _sent, n - now);
                }
                catch
                {
                    // What this flush took is lost, perhaps in part sent: the stream cannot go on, and nothing may be sent
                    // after the gap (a pooled back end would carry a broken stream to its next client).
                    lock (Gate)
                    {
                        _sendError ??= SocketError.OperationAborted;
                    }

                    throw;
                }
                finally
                {
                    // Rented from the shared pool by the engine, as SocketIo's buffers are.
                    SocketIo.Return(buffer);
                }
            }
        }
        finally
        {
            lock (Gate)
            {
                _flushing = false;
            }

            _sendLock.Exit();
        }
    }

    /// <summary>Sends what the engine has queued (an alert after a failure), within a short time, ignoring errors.</summary>
    private async ValueTask FlushQuietlyAsync(TimeSpan timeout)
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

    /// <summary><see cref="FlushAsync"/> with a socket failure classified as this side's reset.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushOrThrowAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (SocketException e)
        {
            throw Side.SendFailed(e);
        }
    }

    /// <summary>Waits for the socket to be readable, holding no buffer; a socket failure is this side's reset.</summary>
    private ValueTask WaitSocketReadableAsync(CancellationToken cancellationToken)
    {
        var wait = _readiness is null ? EngineWait.WaitAsync(cancellationToken, asRelayError: true) : _readiness.WaitReadableAsync(cancellationToken);
        // Set before the wait ends, so that no async step is kept pending around it (an idle client's wait is all it
        // keeps): a wait that ends cancelled leaves it set, and the next read then finds nothing and waits again.
        _socketReadable = true;
        return wait;
    }

    // Made at the first wait: a side whose socket was aborted before it could wait never needs one.
    private EngineReadiness EngineWait => _engineWait ??= new EngineReadiness(Socket, Side);


    /// <summary>Sends our queued close (close_notify) if the peer still listens, then half-closes the socket.</summary>
    private async ValueTask FinishCloseAsync(CancellationToken cancellationToken)
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
