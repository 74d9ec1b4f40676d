namespace SslCluster.Protocol.Tls;

/// <summary>
/// Where resumable TLS 1.2 sessions live between connections. The engine puts a session after each full handshake
/// that issued a session ID and asks for it when a ClientHello carries that ID. The bytes are OpenSSL's session
/// DER (<c>i2d_SSL_SESSION</c>) and contain the master secret: an implementation keeps them in memory or behind
/// TLS-protected remoting, never on disk in clear. Implementations are called concurrently from many connections.
/// </summary>
public interface ITlsSessionStore
{
    /// <summary>
    /// Finds a live session for <paramref name="id"/> created under exactly <paramref name="bindingKey"/>.
    /// The returned array belongs to the caller (the engine clears it after use).
    /// </summary>
    bool TryGet(ReadOnlySpan<byte> id, string bindingKey, out byte[] exportedParams);

    /// <summary>Stores a session for <paramref name="ttl"/>. The store owns <paramref name="exportedParams"/> from then on.</summary>
    void Put(byte[] id, string bindingKey, byte[] exportedParams, TimeSpan ttl);
}
