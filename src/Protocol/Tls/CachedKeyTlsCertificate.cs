using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// A parsed X.509 certificate and its public key, shared by every connection that sees the same certificate.
/// BouncyCastle 2.7 validates an RSA modulus every time it builds an <c>RsaKeyParameters</c> (small factors plus
/// Miller-Rabin, ~16 ms for 2048 bits) and <see cref="BcTlsCertificate"/> rebuilds the key on each use; holding
/// the key here pays that cost once per certificate instead of once per handshake.
/// </summary>
internal sealed class ParsedCertificate(X509CertificateStructure structure)
{
    private AsymmetricKeyParameter? _publicKey;

    public X509CertificateStructure Structure { get; } = structure;

    /// <summary>The cached key, or null before the first successful parse.</summary>
    public AsymmetricKeyParameter? PublicKey
    {
        get => Volatile.Read(ref _publicKey);
        set => Volatile.Write(ref _publicKey, value);
    }
}

/// <summary>A <see cref="BcTlsCertificate"/> whose public key comes from a shared <see cref="ParsedCertificate"/>.</summary>
internal sealed class CachedKeyTlsCertificate : BcTlsCertificate
{
    private readonly ParsedCertificate _parsed;

    public CachedKeyTlsCertificate(BcTlsCrypto crypto, ParsedCertificate parsed)
        : base(crypto, parsed.Structure)
    {
        _parsed = parsed;
    }

    protected override AsymmetricKeyParameter GetPublicKey()
    {
        // Two threads may both parse a new certificate once; both results are equal and immutable, so the race
        // costs one extra parse and nothing else. A key that fails to parse is never cached: the base class turns
        // the failure into the same alert each time.
        var key = _parsed.PublicKey;
        if (key is null)
        {
            key = base.GetPublicKey();
            _parsed.PublicKey = key;
        }

        return key;
    }
}
