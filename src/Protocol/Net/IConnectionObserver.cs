using System.Net;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>
/// Receives the lifecycle of proxied connections so the caller can keep live counters (the SSL modules' "TCP proxy
/// flows", "active SSL flows", "flows in handshake") and report once per connection. Each method is called at
/// most once per connection, in this order; <see cref="Closed"/> exactly once. Calls come from the connection's
/// own task: keep them short and non-blocking. An exception thrown by the observer is caught and ignored (it must
/// not break the data path).
/// </summary>
public interface IConnectionObserver
{
    /// <summary>A TLS connection was accepted and its handshake begins (never called by <see cref="TcpRelay"/>).</summary>
    void HandshakeStarted(long connectionId, EndPoint? client);

    /// <summary>The TLS handshake completed; the backend is dialled next.</summary>
    void HandshakeCompleted(long connectionId, HandshakeInfo handshake);

    /// <summary>The backend accepted; data is relayed from now on.</summary>
    void BackendConnected(long connectionId, EndPoint? backend);

    /// <summary>
    /// The client side is open: its byte counts (TLS records included) can be read live from here on, from any thread,
    /// for as long as anyone holds them. Called once, before anything is read from the client; the default ignores it.
    /// </summary>
    void ClientSideOpened(long connectionId, IByteCounts client)
    {
    }

    /// <summary>The connection is closed and every resource released.</summary>
    void Closed(long connectionId, ConnectionSummary summary);
}
