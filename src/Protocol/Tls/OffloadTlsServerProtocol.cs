using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// BouncyCastle's non-blocking server protocol with the offload proxy's two policy changes:
/// <list type="bullet">
/// <item>Client-initiated renegotiation (a ClientHello on an established TLS 1.2 connection) is refused with a fatal
/// handshake_failure alert instead of BouncyCastle's no_renegotiation warning, so a client cannot make us keep
/// answering handshakes on one connection (CVE-2011-1473 style CPU exhaustion).</item>
/// <item>Half-close under TLS 1.3 (see <see cref="PeerCloseState"/>).</item>
/// </list>
/// Not thread-safe, like its base: serialise every call per connection.
/// </summary>
public sealed class OffloadTlsServerProtocol : TlsServerProtocol, IOffloadTlsProtocol
{
    private readonly PeerCloseState _peerClose = new();

    /// <summary>Creates a protocol in non-blocking mode (OfferInput / ReadOutput).</summary>
    public OffloadTlsServerProtocol()
    {
    }

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

    /// <inheritdoc />
    protected override void RefuseRenegotiation() =>
        throw new TlsFatalAlert(AlertDescription.handshake_failure, "client-initiated renegotiation is refused");
}
