namespace SslCluster.Protocol.Tls;

/// <summary>The kind of private key an ssl-server signs its handshakes with; it decides the usable TLS 1.2 suites.</summary>
public enum ServerKeyType
{
    /// <summary>RSA: TLS 1.2 ECDHE_RSA suites, RSA-PSS CertificateVerify in TLS 1.3.</summary>
    Rsa,

    /// <summary>ECDSA (P-256, P-384, P-521): TLS 1.2 ECDHE_ECDSA suites, ecdsa_secpXXXr1 in TLS 1.3.</summary>
    Ecdsa,
}
