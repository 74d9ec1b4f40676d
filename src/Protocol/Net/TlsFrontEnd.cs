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
/// So every protocol call holds <see cref="TlsSocketSide.Gate"/> (a short, synchronous lock), and every
/// ReadOutput-then-send holds the send lock of <see cref="TlsSocketSide"/>, so that records reach the socket in the
/// order BouncyCastle sealed them.
/// </summary>
internal sealed class TlsFrontEnd : TlsSocketSide
{
    // Largest clear-text chunk per write, chosen so one sealed record (header 5, explicit nonce 8, content type 1,
    // tag 16) fits one pooled buffer and goes out in one send.
    private const int ChunkSize = SocketIo.BufferSize - 256;

    private static readonly TimeSpan AlertFlushTimeout = TimeSpan.FromSeconds(1);

    private readonly TlsProtocol _protocol;
    private readonly IOffloadTlsProtocol _offload;
    private readonly bool _requireCloseNotify;
    private bool _closeNotifySeen;
    private int _allowedAfterClose;
    private bool _closedWrite;

    /// <summary>The client side of a flow: we are the TLS server.</summary>
    public TlsFrontEnd(Socket socket, OffloadTlsServer server, bool requireCloseNotify)
        : base(socket, RelaySide.Client)
    {
        var protocol = new OffloadTlsServerProtocol();
        protocol.Accept(server);
        (_protocol, _offload, _requireCloseNotify) = (protocol, protocol, requireCloseNotify);
    }

    /// <summary>
    /// The back-end side of a re-encrypted or initiated flow: we are the TLS client. The ClientHello is queued at
    /// once; the first <see cref="HandshakeStepAsync"/> sends it. A server's EOF without close_notify is a normal end.
    /// </summary>
    public TlsFrontEnd(Socket socket, OffloadTlsClient client)
        : base(socket, RelaySide.Backend)
    {
        var protocol = new OffloadTlsClientProtocol();
        protocol.Connect(client);
        (_protocol, _offload, _requireCloseNotify) = (protocol, protocol, false);
    }

    public override int MaxWriteChunk => ChunkSize;

    public override bool CanWrite
    {
        get
        {
            lock (Gate)
            {
                return !_closedWrite && !_protocol.IsClosed;
            }
        }
    }

    /// <summary>
    /// One handshake step: wait for bytes, offer them, send whatever BouncyCastle answered. False at EOF.
    /// BouncyCastle's exceptions (TlsFatalAlert, TlsFatalAlertReceived, IOException) and SocketException come out
    /// unchanged: the handshake caller classifies them.
    /// </summary>
    public async ValueTask<bool> HandshakeStepAsync(CancellationToken cancellationToken)
    {
        // Our own first flight (a ClientHello on the back-end side) goes out before we wait for the peer.
        await FlushAsync(cancellationToken);
        await SocketIo.WaitReadableAsync(Socket, cancellationToken);
        byte[] buffer = SocketIo.Rent();
        try
        {
            int n = await Socket.ReceiveAsync(buffer.AsMemory(0, SocketIo.BufferSize), SocketFlags.None,
                cancellationToken);
            if (n == 0)
            {
                return false;
            }

            CountReceived(n);
            lock (Gate)
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

    /// <summary>Sends a fatal internal_error alert of our own, within a short time.</summary>
    public override async ValueTask FailAsync(string message)
    {
        lock (Gate)
        {
            _offload.Fail(AlertDescription.internal_error, message);
        }

        await FlushQuietlyAsync(AlertFlushTimeout);
    }

    public override async ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            // Pending clear text, or the client's close_notify already processed: ReadAsync has work without I/O.
            // After our own close (backend finished) we fall through and wait on the socket to drain it.
            if (PendingInputLocked() > 0 || _closeNotifySeen)
            {
                return;
            }
        }

        await WaitSocketReadableAsync(cancellationToken);
    }

    public override async ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken)
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
                received = await Socket.ReceiveAsync(cipher.AsMemory(0, SocketIo.BufferSize), SocketFlags.None,
                    cancellationToken);
            }
            catch (SocketException e)
            {
                throw ReceiveFailed(e);
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

            CountReceived(received);
            try
            {
                if (!OfferInput(cipher, received))
                {
                    // We sent close_notify already (the backend finished); BouncyCastle accepts no more input, so
                    // whatever the client still sends (typically its own close_notify) is read and dropped to EOF.
                    return new FrontEndRead(0, false);
                }
            }
            catch (RelayException e) when (e.Error == Side.ProtocolError())
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

    public override async ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        lock (Gate)
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

    public override async ValueTask CloseWriteAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
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

        await FinishCloseAsync(cancellationToken);
    }

    protected override int PendingOutputLocked() => _protocol.GetAvailableOutputBytes();

    protected override int TakeOutputLocked(byte[] buffer) => _protocol.ReadOutput(buffer, 0, SocketIo.BufferSize);

    private bool OfferInput(byte[] cipher, int count)
    {
        try
        {
            lock (Gate)
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
            throw new RelayException(Side.AlertReceived(),
                Side.Name() + " sent fatal alert " + AlertDescription.GetText(e.AlertDescription), e);
        }
        catch (TlsFatalAlert e)
        {
            InputEnded = true;
            throw new RelayException(Side.ProtocolError(),
                Side.Name() + " record refused, we sent fatal alert " + AlertDescription.GetText(e.AlertDescription) +
                ": " + e.Message, e);
        }
        catch (IOException e)
        {
            InputEnded = true;
            throw new RelayException(Side.ProtocolError(), Side.Name() + " record refused: " + e.Message, e);
        }
    }

    /// <summary>Takes decrypted application data; <paramref name="ended"/> once the client's stream is over.</summary>
    private int TakeInput(byte[] buffer, int maxCount, out bool ended)
    {
        lock (Gate)
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
