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

    /// <inheritdoc />
    protected override void HandleClose(bool user_canceled)
    {
        if (!_peerClose.Defer(user_canceled, !IsClosed && IsConnected && TlsUtilities.IsTlsV13(Context), ApplicationDataAvailable))
        {
            base.HandleClose(user_canceled);
        }
    }
}
