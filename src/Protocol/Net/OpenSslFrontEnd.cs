using System.Net.Sockets;
using SslCluster.OpenSsl;

namespace SslCluster.Protocol.Net;

/// <summary>
/// The client side of a flow on the OpenSSL engine: the client socket and an <see cref="SslConnection"/> over memory
/// BIOs (ciphertext fed in from the socket, taken out and sent). Same contract as <see cref="TlsFrontEnd"/>: every
/// call on the SSL holds <see cref="TlsSocketSide.Gate"/> (short and synchronous, never across an await; the two copy loops share
/// the SSL), every take-then-send holds the send lock of <see cref="TlsSocketSide"/>, so that records leave in the order
/// OpenSSL sealed them.
/// Half-close: under TLS 1.3 the client's close_notify only ends its input (RFC 8446 6.1) and we may still send; under
/// TLS 1.2 it is answered at once with ours and nothing more is sent (RFC 5246 7.2.1).
/// </summary>
internal sealed class OpenSslFrontEnd : TlsSocketSide
{
    // One clear-text chunk per write: one record (16 KiB of plaintext at most) fits a pooled buffer with its overhead.
    private const int ChunkSize = SocketIo.BufferSize - 256;

    private readonly SslConnection _ssl;
    private readonly bool _requireCloseNotify;
    private bool _closedWrite;
    private bool _peerClosed;
    private bool _failed;

    public OpenSslFrontEnd(Socket socket, SslConnection ssl, bool requireCloseNotify, RelaySide side = RelaySide.Client)
        : base(socket, side)
    {
        _ssl = ssl;
        _requireCloseNotify = requireCloseNotify;
    }

    /// <summary>The OpenSSL connection, for what the handshake negotiated and why it failed.</summary>
    public SslConnection Connection => _ssl;

    public override int MaxWriteChunk => ChunkSize;

    public override bool CanWrite
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

            if (!await ReceiveAsync(cancellationToken))
            {
                return null;
            }
        }
    }

    /// <summary>
    /// OpenSSL has no call to send an alert of our choosing after the handshake, so nothing more is sent, and never a
    /// close_notify: the client sees the stream end unclean.
    /// </summary>
    public override ValueTask FailAsync(string message)
    {
        lock (Gate)
        {
            _failed = true;
        }

        return ValueTask.CompletedTask;
    }

    public override async ValueTask WaitReadableAsync(CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            // Clear text or unprocessed records already inside OpenSSL, or the peer's close_notify already seen.
            if (_ssl.BufferedInput > 0 || _peerClosed)
            {
                return;
            }
        }

        await WaitSocketReadableAsync(cancellationToken);
    }

    public override async ValueTask<FrontEndRead> ReadAsync(byte[] buffer, int maxCount, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (InputEnded)
            {
                return FrontEndRead.Ended;
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
            if (!await ReceiveOrEofAsync(cancellationToken))
            {
                return End();
            }
        }
    }

    public override async ValueTask<bool> WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
    {
        lock (Gate)
        {
            if (_closedWrite || _failed)
            {
                return false;
            }

            if (_ssl.Write(buffer.AsSpan(0, count)) != SslStatus.Ok)
            {
                _failed = true;
                throw new RelayException(Side.ProtocolError(), $"{Side.Name()} write refused: {_ssl.Error}");
            }
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
            if (!_failed)
            {
                _ssl.Shutdown();
            }
        }

        await FinishCloseAsync(cancellationToken);
    }

    /// <summary>Frees the SSL: call once both copy loops have stopped.</summary>
    public override void Dispose()
    {
        lock (Gate)
        {
            _ssl.Dispose();
        }

        base.Dispose();
    }

    protected override int PendingOutputLocked() => _ssl.PendingOutput;

    protected override int TakeOutputLocked(byte[] buffer) => _ssl.TakeOutput(buffer.AsSpan(0, SocketIo.BufferSize));

    /// <summary>The alert's name as TLS calls it (for example "handshake_failure").</summary>
    internal static string AlertName(int alert) => Org.BouncyCastle.Tls.AlertDescription.GetText((short)alert);

    /// <summary>Receives ciphertext and feeds it; false at EOF. Waits without a buffer, then reads into a pooled one.</summary>
    private async ValueTask<bool> ReceiveAsync(CancellationToken cancellationToken)
    {
        await SocketIo.WaitReadableAsync(Socket, cancellationToken);
        byte[] buffer = SocketIo.Rent();
        try
        {
            int n = await Socket.ReceiveAsync(buffer.AsMemory(0, SocketIo.BufferSize), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return false;
            }

            CountReceived(n);
            lock (Gate)
            {
                _ssl.Feed(buffer.AsSpan(0, n));
            }

            return true;
        }
        finally
        {
            SocketIo.Return(buffer);
        }
    }

    /// <summary>Like <see cref="ReceiveAsync"/> in the relay: socket errors classified, a missing close_notify checked at EOF.</summary>
    private async ValueTask<bool> ReceiveOrEofAsync(CancellationToken cancellationToken)
    {
        bool more;
        try
        {
            more = await ReceiveAsync(cancellationToken);
        }
        catch (SocketException e)
        {
            throw ReceiveFailed(e);
        }

        if (!more && _requireCloseNotify && !Volatile.Read(ref _closedWrite) && !_peerClosed)
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
}
