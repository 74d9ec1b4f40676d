namespace SslCluster.Protocol.Pki;

/// <summary>The object identifiers the PKI code recognises, with the names used in error texts.</summary>
internal static class Oids
{
    public const string Rsa = "1.2.840.113549.1.1.1";
    public const string RsaPss = "1.2.840.113549.1.1.10";
    public const string EcPublicKey = "1.2.840.10045.2.1";
    public const string Dsa = "1.2.840.10040.4.1";
    public const string DhPkcs3 = "1.2.840.113549.1.3.1";
    public const string DhX942 = "1.2.840.10046.2.1";
    public const string Ed25519 = "1.3.101.112";
    public const string Ed448 = "1.3.101.113";
    public const string X25519 = "1.3.101.110";
    public const string X448 = "1.3.101.111";

    public const string P256 = "1.2.840.10045.3.1.7";
    public const string P384 = "1.3.132.0.34";
    public const string P521 = "1.3.132.0.35";

    public const string Pbes2 = "1.2.840.113549.1.5.13";
    public const string Pkcs7Data = "1.2.840.113549.1.7.1";

    /// <summary>The curve names this product accepts for ECDSA keys, keyed by OID: the three TLS 1.3 ECDSA curves.</summary>
    public static string? SupportedCurveName(string? oid) => oid switch
    {
        P256 => "P-256",
        P384 => "P-384",
        P521 => "P-521",
        _ => null,
    };

    /// <summary>A readable name for curves seen in the wild that we reject, for the error text.</summary>
    public static string CurveDisplayName(string? oid) => oid switch
    {
        "1.3.132.0.10" => "secp256k1",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.33" => "P-224",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        "1.2.156.10197.1.301" => "SM2",
        null => "an unnamed curve",
        _ => $"OID {oid}",
    };

    /// <summary>
    /// The error text for a key algorithm we refuse, or null for RSA and EC, which we take. Each names the reason,
    /// because "unsupported" alone sends the operator searching.
    /// </summary>
    public static string? UnsupportedKeyReason(string oid) => oid switch
    {
        Rsa or EcPublicKey => null,
        Dsa => "DSA keys are not supported: DSA cannot be used in TLS 1.3 and is weak in TLS 1.2; use an RSA (2048 bits or more) or ECDSA P-256 key",
        DhPkcs3 or DhX942 => "Diffie-Hellman keys are not supported: static DH is obsolete and ECDHE is always used for key exchange; use an RSA or ECDSA key",
        Ed25519 or Ed448 => "EdDSA (Ed25519/Ed448) keys are not supported by this product's TLS engine; use an RSA (2048 bits or more) or ECDSA P-256 key",
        X25519 or X448 => "X25519/X448 keys only do key agreement and cannot sign a TLS handshake; use an RSA or ECDSA key",
        RsaPss => "RSA-PSS-restricted keys (OID 1.2.840.113549.1.1.10) are not supported; use a plain RSA key (rsaEncryption)",
        _ => $"keys of algorithm OID {oid} are not supported; use an RSA (2048 bits or more) or ECDSA P-256 key",
    };
}
