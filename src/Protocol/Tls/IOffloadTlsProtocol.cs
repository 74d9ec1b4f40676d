using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// What the relay needs beyond BouncyCastle's <see cref="TlsProtocol"/>, for both of our protocols: the server one
/// (client side of a flow) and the client one (back-end side of a re-encrypted or initiated flow).
/// </summary>
public interface IOffloadTlsProtocol
{
    /// <summary>The peer sent close_notify and the protocol is still open for writing (TLS 1.3 half-close).</summary>
    bool PeerCloseNotifyReceived { get; }

    /// <summary>
    /// Application bytes decrypted before the peer's close_notify; anything queued after that came after the close
    /// and is not the peer's data.
    /// </summary>
    int ApplicationDataBeforePeerClose { get; }

    /// <summary>
    /// Fails the connection with a fatal alert of our own (queued for ReadOutput), for reasons BouncyCastle cannot
    /// see: the other side of the flow could not be reached, for example.
    /// </summary>
    void Fail(short alertDescription, string message);
}

/// <summary>
/// Half-close under TLS 1.3, shared by both protocols. BouncyCastle answers a received close_notify with its own
/// and stops writing at once. RFC 8446 6.1 lets the other side keep sending after close_notify, so under TLS 1.3
/// the received close_notify is only recorded and the connection can still write application data; our
/// close_notify goes out when the relay calls <see cref="TlsProtocol.Close"/>. TLS 1.2 keeps BouncyCastle's
/// behaviour, which is what RFC 5246 7.2.1 demands: answer at once and discard pending writes.
/// </summary>
internal sealed class PeerCloseState
{
    public bool Received { get; private set; }

    public int DataBefore { get; private set; }

    /// <summary>True when the close is recorded instead of handled (TLS 1.3, open, first close_notify).</summary>
    public bool Defer(bool userCanceled, bool openTls13, int applicationDataAvailable)
    {
        if (userCanceled || Received || !openTls13)
        {
            return false;
        }

        Received = true;
        DataBefore = applicationDataAvailable;
        return true;
    }
}
