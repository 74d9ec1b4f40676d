namespace SslCluster.Protocol.Tls;

/// <summary>Which implementation does the hot cryptographic primitives of the TLS engine.</summary>
public enum TlsCryptoProvider
{
    /// <summary>
    /// System.Security.Cryptography (OpenSSL on Linux) for AEAD records and server signatures, BouncyCastle for the
    /// rest. The production setting: 2-20 times faster than BouncyCastle's managed code on the measured primitives.
    /// </summary>
    Native,

    /// <summary>
    /// Plain BouncyCastle <c>BcTlsCrypto</c>, managed signatures included (the credential's key is converted to a
    /// BouncyCastle key once). Kept to compare against and to rule the native path out.
    /// </summary>
    BouncyCastle,
}
