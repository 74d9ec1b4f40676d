namespace SslCluster.Protocol.Tls;

/// <summary>Which implementation does the hot cryptographic primitives of the TLS engine.</summary>
public enum TlsCryptoProvider
{
    /// <summary>
    /// BouncyCastle's TLS protocol with System.Security.Cryptography (OpenSSL on Linux) for AEAD records and server
    /// signatures: 2-20 times faster than BouncyCastle's managed code on the measured primitives. The engine before
    /// <see cref="OpenSsl"/>, kept while the move ends.
    /// </summary>
    Native,

    /// <summary>
    /// Plain BouncyCastle <c>BcTlsCrypto</c>, managed signatures included (the credential's key is converted to a
    /// BouncyCastle key once). Kept to compare against and to rule the native path out.
    /// </summary>
    BouncyCastle,

    /// <summary>
    /// OpenSSL's libssl runs the whole client-facing protocol (handshake, records, alerts, sessions and tickets, TLS
    /// 1.3 resumption included, client authentication decided by our policy) and the back-end side of re-encrypted
    /// and initiated flows through our binding (src/OpenSsl); the keepalive probes still handshake on BouncyCastle.
    /// </summary>
    OpenSsl,
}
