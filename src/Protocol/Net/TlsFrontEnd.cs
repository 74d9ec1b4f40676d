using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// One side of a flow as TLS: the client socket with our server protocol, or (re-encryption, SSL initiation) the
/// back-end socket with our client protocol, in BouncyCastle's non-blocking mode: ciphertext in through
/// <c>OfferInput</c>, clear text out through <c>ReadInput</c>, clear text in through <c>WriteApplicationData</c>,
/// ciphertext out through <c>ReadOutput</c>.
/// Concurrency: BouncyCastle is not thread-safe per connection, and the two copy loops both touch it (the
/// client-to-backend loop can produce output too: alerts, the close_notify answer, TLS 1.3 KeyUpdate replies).
/// So every protocol call holds <see cref="_gate"/> (a short, synchronous lock), and every ReadOutput-then-send
/// holds <see cref="_sendLock"/> (async) so that records reach the socket in the order BouncyCastle sealed them.
/// </summary>
internal sealed class TlsFrontEnd : IRelayFrontEnd, IDisposable
{
    // Largest clear-text chunk per write, chosen so one sealed record (header 5, explicit nonce 8, content type 1,
    // tag 16) fits one pooled buffer and goes out in one send.
    private const int ChunkSize = SocketIo.BufferSize - 256;

    private static readonly TimeSpan AlertFlushTimeout = TimeSpan.FromSeconds(1);

    private readonly Socket _socket;
    private readonly TlsProtocol _protocol;
    private readonly IOffloadTlsProtocol _offload;
    private readonly RelaySide _side;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly bool _requireCloseNotify;
    private bool _closeNotifySeen;
    private int _allowedAfterClose;
    private bool _closedWrite;
    private bool _inputEnded;
    private long _received;
    private long _sent;

    /// <summary>The client side of a flow: we are the TLS server.</summary>
    public TlsFrontEnd(Socket socket, OffloadTlsServer server, bool requireCloseNotify)
    {
        var protocol = new OffloadTlsServerProtocol();
        protocol.Accept(server);
        (_socket, _protocol, _offload, _requireCloseNotify, _side) = (socket, protocol, protocol, requireCloseNotify, RelaySide.Client);
    }

    /// <summary>
    /// The back-end side of a re-encrypted or initiated flow: we are the TLS client. The ClientHello is queued at
    /// once; the first <see cref="HandshakeStepAsync"/> sends it. A server's EOF without close_notify is a normal end.
    /// </summary>
    public TlsFrontEnd(Socket socket, OffloadTlsClient client)
    {
        var protocol = new OffloadTlsClientProtocol();
        protocol.Connect(client);
        (_socket, _protocol, _offload, _requireCloseNotify, _side) = (socket, protocol, protocol, false, RelaySide.Backend);
    }

    public int MaxWriteChunk => ChunkSize;

    public bool CanWrite
    {
        get
        {
            lock (_gate)
            {
                return !_closedWrite && !_protocol.IsClosed;
            }
        }
    }

    // Written by the client-to-backend loop, read by the other one.
    public bool InputEnded
    {
        get => Volatile.Read(ref _inputEnded);
        private set => Volatile.Write(ref _inputEnded, value);
    }

    public long BytesReceived => Interlocked.Read(ref _received);

    public long BytesSent => Interlocked.Read(ref _sent);

    /// <summary>
    /// One handshake step: wait for bytes, offer them, send whatever BouncyCastle answered. False at EOF.
    /// BouncyCastle's exceptions (TlsFatalAlert, TlsFatalAlertReceived, IOException) and SocketException come out
    /// unchanged: the handshake caller classifies them.
    /// </summary>
    public async ValueTask<bool> HandshakeStepAsync(CancellationToken cancellationToken)
    {
        // Our own first flight (a ClientHello on the back-end side) goes out before we wait for the peer.
        await FlushAsync(cancellationToken);
        await SocketIo.WaitReadableAsync(_socket, cancellationToken);
        byte[] buffer = SocketIo.Rent();
        try
        {
            int n = await _socket.ReceiveAsync(buffer.AsMemory(0, SocketIo.BufferSize), SocketFlags.None,
                cancellationToken);
            if (n == 0)
            {
                return false;
            }

            Interlocked.Add(ref _received, n);
            lock (_gate)
            {
                _protocol.OfferInput(buffer, 0, n);
            }
        }
        finally
        {
            SocketIo.Return(buffer);
        }

        await FlushAsync(cancellationToken);
        return true;
    }

    /// <summary>Sends a fatal alert of our own (used when the backend cannot be reached after the handshake).</summary>
    public void Fail(short alertDescription, string message)
    {
        lock (_gate)
        {
            _offload.Fail(alertDescription, message);
        }
    }

    /// <summary>Sends what BouncyCastle has queued (an alert after a failure), within a short time, ignoring errors.</summary>
    public async ValueTask FlushQuietlyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await FlushAsync(cts.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Best effort: the client may be gone already.
        }
    }

    public async ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // Pending clear text, or the client's close_notify already processed: ReadAsync has work without I/O.
            // After our own close (backend finished) we fall through and wait on the socket to drain it.
            if (PendingInputLocked() > 0 || _closeNotifySeen)
            {
                return;
            }
        }

        try
        {
            await SocketIo.WaitReadableAsync(_socket, cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RelayException(_side.Reset(), _side.Name() + " receive failed: " + SocketIo.Describe(e), e);
        }
    }

    public async ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken)
    {
        if (InputEnded)
        {
            return FrontEndRead.Ended;
        }

        int n = TakeInput(buffer, maxCount, out bool ended);
        if (n > 0 || ended)
        {
            return ended && n == 0 ? End() : new FrontEndRead(n, false);
        }

        byte[] cipher = SocketIo.Rent();
        RelayException? refused = null;
        try
        {
            int received;
            try
            {
                received = await _socket.ReceiveAsync(cipher.AsMemory(0, SocketIo.BufferSize), SocketFlags.None,
                    cancellationToken);
            }
            catch (SocketException e)
            {
                throw new RelayException(_side.Reset(), _side.Name() + " receive failed: " + SocketIo.Describe(e), e);
            }

            if (received == 0)
            {
                // TCP EOF. BouncyCastle is not told (CloseInput would close our sending side too): the backend may
                // still be answering and the client may only have half-closed. A missing close_notify is only an
                // error when the options ask for it.
                if (_requireCloseNotify && !Volatile.Read(ref _closedWrite) && !_closeNotifySeen)
                {
                    InputEnded = true;
                    throw new RelayException(ProxyError.ClientTruncated,
                        "client closed the connection without TLS close_notify");
                }

                return End();
            }

            Interlocked.Add(ref _received, received);
            try
            {
                if (!OfferInput(cipher, received))
                {
                    // We sent close_notify already (the backend finished); BouncyCastle accepts no more input, so
                    // whatever the client still sends (typically its own close_notify) is read and dropped to EOF.
                    return new FrontEndRead(0, false);
                }
            }
            catch (RelayException e) when (e.Error == _side.ProtocolError())
            {
                refused = e;
            }
        }
        finally
        {
            SocketIo.Return(cipher);
        }

        if (refused is not null)
        {
            // BouncyCastle queued its fatal alert; the client should learn why before the connection closes.
            await FlushQuietlyAsync(AlertFlushTimeout);
            ExceptionDispatchInfo.Throw(refused);
        }

        await FlushOrThrowAsync(cancellationToken);
        n = TakeInput(buffer, maxCount, out bool endedNow);
        return endedNow && n == 0 ? End() : new FrontEndRead(n, false);
    }

    public async ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_closedWrite || _protocol.IsClosed)
            {
                return false;
            }

            _protocol.WriteApplicationData(buffer, 0, count);
        }

        await FlushOrThrowAsync(cancellationToken);
        return true;
    }

    public async ValueTask CloseWriteAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_closedWrite)
            {
                return;
            }

            _closedWrite = true;
            if (!_protocol.IsClosed)
            {
                // Queues our close_notify (under TLS 1.3 after a client close_notify too: see the protocol class).
                _protocol.Close();
            }
        }

        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client may be gone; closing needs no answer.
        }

        SocketIo.ShutdownSendQuietly(_socket);
    }

    public void Dispose() => _sendLock.Dispose();

    /// <summary>Reads ReadOutput into a pooled buffer and sends it, in BouncyCastle's order.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_protocol.GetAvailableOutputBytes() == 0)
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
                lock (_gate)
                {
                    if (_protocol.GetAvailableOutputBytes() == 0)
                    {
                        break;
                    }

                    buffer ??= SocketIo.Rent();
                    n = _protocol.ReadOutput(buffer, 0, SocketIo.BufferSize);
                }

                await SocketIo.SendAllAsync(_socket, buffer.AsMemory(0, n), cancellationToken);
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

    private async ValueTask FlushOrThrowAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (SocketException e)
        {
            throw new RelayException(_side.Reset(), _side.Name() + " send failed: " + SocketIo.Describe(e), e);
        }
    }

    private bool OfferInput(byte[] cipher, int count)
    {
        try
        {
            lock (_gate)
            {
                // Checked under the same lock as CloseWriteAsync's Close(): the backend loop may close at any time.
                if (_closedWrite && _protocol.IsClosed)
                {
                    return false;
                }

                _protocol.OfferInput(cipher, 0, count);
                return true;
            }
        }
        catch (TlsFatalAlertReceived e)
        {
            InputEnded = true;
            throw new RelayException(_side.AlertReceived(),
                _side.Name() + " sent fatal alert " + AlertDescription.GetText(e.AlertDescription), e);
        }
        catch (TlsFatalAlert e)
        {
            InputEnded = true;
            throw new RelayException(_side.ProtocolError(),
                _side.Name() + " record refused, we sent fatal alert " + AlertDescription.GetText(e.AlertDescription) +
                ": " + e.Message, e);
        }
        catch (IOException e)
        {
            InputEnded = true;
            throw new RelayException(_side.ProtocolError(), _side.Name() + " record refused: " + e.Message, e);
        }
    }

    /// <summary>Takes decrypted application data; <paramref name="ended"/> once the client's stream is over.</summary>
    private int TakeInput(byte[] buffer, int maxCount, out bool ended)
    {
        lock (_gate)
        {
            int available = PendingInputLocked();
            int n = available > 0 ? _protocol.ReadInput(buffer, 0, Math.Min(available, Math.Min(maxCount, buffer.Length))) : 0;
            if (_closeNotifySeen)
            {
                _allowedAfterClose -= n;
            }

            ended = PendingInputLocked() == 0 && _closeNotifySeen;
            return n;
        }
    }

    private int PendingInputLocked()
    {
        int available = _protocol.GetAvailableInputBytes();
        if (_offload.PeerCloseNotifyReceived)
        {
            if (!_closeNotifySeen)
            {
                _closeNotifySeen = true;
                _allowedAfterClose = _offload.ApplicationDataBeforePeerClose;
            }

            // Records after the client's close_notify are not its data; they are left unread.
            return Math.Min(available, _allowedAfterClose);
        }

        // Closed without our Close(): BouncyCastle processed the client's close_notify under TLS 1.2 (and answered).
        if (_protocol.IsClosed && !_closedWrite && !_closeNotifySeen && !_protocol.IsFailed)
        {
            _closeNotifySeen = true;
            _allowedAfterClose = int.MaxValue;
        }

        return available;
    }

    private FrontEndRead End()
    {
        InputEnded = true;
        return FrontEndRead.Ended;
    }
}
