using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Net;

/// <summary>Everything a connection reports once, when it is closed.</summary>
/// <param name="ConnectionId">Process-unique id, the same one given to the observer's other calls.</param>
/// <param name="Error">Why it ended; <see cref="ProxyError.None"/> for a normal close.</param>
/// <param name="Message">A sentence for people: side, phase and detail (alert name, socket error).</param>
/// <param name="Handshake">What the handshake negotiated; null for plain TCP or a failed handshake.</param>
/// <param name="BackendDialled">Whether a backend connection was attempted at all.</param>
/// <param name="ClientToBackendBytes">Clear-text bytes delivered to the backend.</param>
/// <param name="BackendToClientBytes">Clear-text bytes delivered to the client (before encryption).</param>
/// <param name="BackendBytesDiscarded">Backend bytes that could not be delivered because the client had closed.</param>
/// <param name="ClientBytesReceived">Bytes read from the client socket (TLS records included).</param>
/// <param name="ClientBytesSent">Bytes written to the client socket (TLS records included).</param>
/// <param name="HandshakeDuration">From start to the end of the handshake (or its failure); zero for plain TCP.</param>
/// <param name="Duration">From start to close.</param>
public sealed record ConnectionSummary(
    long ConnectionId,
    ProxyError Error,
    string Message,
    HandshakeInfo? Handshake,
    bool BackendDialled,
    long ClientToBackendBytes,
    long BackendToClientBytes,
    long BackendBytesDiscarded,
    long ClientBytesReceived,
    long ClientBytesSent,
    TimeSpan HandshakeDuration,
    TimeSpan Duration)
{
    /// <summary>
    /// The client-authentication outcome of a connection whose certificate was refused (<see cref="ProxyError.ClientCertificateRejected"/>):
    /// it has no <see cref="Handshake"/> to carry it. Null otherwise.
    /// </summary>
    public ClientAuthOutcome? RefusedClientAuth { get; init; }
}
