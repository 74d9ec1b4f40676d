using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// BouncyCastle's non-blocking client protocol for the back-end side of a flow (re-encryption, SSL initiation),
/// with the same TLS 1.3 half-close handling as the server side (<see cref="PeerCloseState"/>). A server's
/// HelloRequest is declined by BouncyCastle with a no_renegotiation warning: we never renegotiate. Not
/// thread-safe: serialise every call per connection.
/// </summary>
public sealed class OffloadTlsClientProtocol : TlsClientProtocol, IOffloadTlsProtocol
{
    private readonly PeerCloseState _peerClose = new();

    /// <inheritdoc />
    public bool PeerCloseNotifyReceived => _peerClose.Received;

    /// <inheritdoc />
    public int ApplicationDataBeforePeerClose => _peerClose.DataBefore;

    /// <inheritdoc />
    public void Fail(short alertDescription, string message)
    {
        if (!IsClosed)
        {
            HandleException(alertDescription, message, new IOException(message));
        }
    }

    /// <summary>True once our close_notify went out while the server may still answer (TLS 1.3 half-close).</summary>
    public bool CloseNotifySent { get; private set; }

    /// <summary>
    /// Our own close (<see cref="TlsProtocol.Close"/>, the client half-closed) under TLS 1.3 sends close_notify and
    /// keeps the connection open for reading: RFC 8446 6.1 lets the server finish its answer, and a client that
    /// sends a request then FIN must still get the reply. BouncyCastle would close both directions. Under TLS 1.2
    /// BouncyCastle's behaviour stays: RFC 5246 7.2.1 has the server answer close_notify at once and discard its
    /// pending writes, so there is no answer to wait for.
    /// </summary>
    protected override void HandleClose(bool user_canceled)
    {
        bool openTls13 = !IsClosed && IsConnected && TlsUtilities.IsTlsV13(Context);
        if (user_canceled && openTls13)
        {
            if (!CloseNotifySent)
            {
                CloseNotifySent = true;
                RaiseAlertWarning(AlertDescription.close_notify, "Connection closed for writing");
            }

            return;
        }

        // The server's close_notify after ours ends the exchange; recorded like any TLS 1.3 peer close (no second
        // close_notify from us).
        if (!_peerClose.Defer(user_canceled, openTls13, ApplicationDataAvailable))
        {
            base.HandleClose(user_canceled);
        }
    }
}
