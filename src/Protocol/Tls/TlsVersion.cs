namespace SslCluster.Protocol.Tls;

/// <summary>The protocol versions the engine can negotiate. Older ones (SSL 3, TLS 1.0, 1.1) are never offered.</summary>
public enum TlsVersion
{
    /// <summary>TLS 1.2 (RFC 5246).</summary>
    Tls12 = 0x0303,

    /// <summary>TLS 1.3 (RFC 8446).</summary>
    Tls13 = 0x0304,
}
