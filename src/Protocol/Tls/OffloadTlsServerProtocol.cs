using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// BouncyCastle's non-blocking server protocol with the offload proxy's two policy changes:
/// <list type="bullet">
/// <item>Client-initiated renegotiation (a ClientHello on an established TLS 1.2 connection) is refused with a fatal
/// handshake_failure alert instead of BouncyCastle's no_renegotiation warning, so a client cannot make us keep
/// answering handshakes on one connection (CVE-2011-1473 style CPU exhaustion).</item>
/// <item>Half-close under TLS 1.3. BouncyCastle answers a received close_notify with its own and stops writing at
/// once. RFC 8446 6.1 lets the other side keep sending after close_notify, so under TLS 1.3 the received
/// close_notify is only recorded (<see cref="PeerCloseNotifyReceived"/>) and the connection can still write
/// application data; our close_notify goes out when the proxy calls <see cref="TlsProtocol.Close"/>. TLS 1.2
/// keeps BouncyCastle's behaviour, which is what RFC 5246 7.2.1 demands: answer at once and discard pending
/// writes.</item>
/// </list>
/// Not thread-safe, like its base: serialise every call per connection.
/// </summary>
public sealed class OffloadTlsServerProtocol : TlsServerProtocol
{
    /// <summary>Creates a protocol in non-blocking mode (OfferInput / ReadOutput).</summary>
    public OffloadTlsServerProtocol()
    {
    }

    /// <summary>The client sent close_notify and the protocol is still open for writing (TLS 1.3 half-close).</summary>
    public bool PeerCloseNotifyReceived { get; private set; }

    /// <summary>
    /// Application bytes that were decrypted before the client's close_notify; anything queued after that came
    /// after the close and is not the client's data.
    /// </summary>
    public int ApplicationDataBeforePeerClose { get; private set; }

    /// <summary>
    /// Fails the connection with a fatal alert of our own (queued for ReadOutput), for reasons BouncyCastle cannot
    /// see: the backend could not be reached after the handshake, for example.
    /// </summary>
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
        if (!user_canceled && !PeerCloseNotifyReceived && !IsClosed && IsConnected &&
            TlsUtilities.IsTlsV13(Context))
        {
            PeerCloseNotifyReceived = true;
            ApplicationDataBeforePeerClose = ApplicationDataAvailable;
            return;
        }

        base.HandleClose(user_canceled);
    }

    /// <inheritdoc />
    protected override void RefuseRenegotiation() =>
        throw new TlsFatalAlert(AlertDescription.handshake_failure, "client-initiated renegotiation is refused");
}
