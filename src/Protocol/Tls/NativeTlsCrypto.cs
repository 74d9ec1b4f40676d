using System.Security.Cryptography;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// BouncyCastle's TLS crypto with the hot primitives moved to System.Security.Cryptography (OpenSSL on Linux):
/// AES-GCM and ChaCha20-Poly1305 records, and peer certificates whose public keys are parsed once and cached.
/// Key exchange (X25519 in BouncyCastle beats .NET's P-256 ECDH here), hashing, HKDF and the PRF stay in
/// BouncyCastle. Server signatures are native too, but they belong to <see cref="ServerCredential"/>, which
/// works with either crypto. Thread-safe: one instance serves every connection of an engine.
/// </summary>
public sealed class NativeTlsCrypto : BcTlsCrypto
{
    private readonly BoundedLruCache<string, ParsedCertificate> _certificates;

    /// <summary>Creates the crypto with a bounded certificate cache of <paramref name="certificateCacheCapacity"/>.</summary>
    public NativeTlsCrypto(int certificateCacheCapacity = 1024)
    {
        // The base constructor takes CryptoServicesRegistrar's SecureRandom, which draws from the OS generator;
        // `new SecureRandom()` would be BouncyCastle's SHA-256 DRBG, measurably slower per handshake.
        _certificates = new BoundedLruCache<string, ParsedCertificate>(certificateCacheCapacity);
    }

    /// <summary>Number of distinct certificates currently cached (for tests and diagnostics).</summary>
    public int CachedCertificateCount => _certificates.Count;

    /// <inheritdoc />
    public override TlsCertificate CreateCertificate(short type, byte[] encoding)
    {
        if (type != CertificateType.X509)
        {
            return base.CreateCertificate(type, encoding);
        }

        ArgumentNullException.ThrowIfNull(encoding);
        string key = Convert.ToHexString(SHA256.HashData(encoding));
        if (!_certificates.TryGet(key, out var parsed))
        {
            // Parsing outside the cache lock: a bad certificate throws the usual bad_certificate alert.
            parsed = _certificates.GetOrAdd(key, new ParsedCertificate(BcTlsCertificate.ParseCertificate(encoding)));
        }

        return new CachedKeyTlsCertificate(this, parsed);
    }

    /// <inheritdoc />
    protected override TlsAeadCipher CreateCipher_Aes_Gcm(TlsCryptoParameters cryptoParams, int cipherKeySize,
        int macSize)
    {
        if (macSize != NativeAeadCipher.TagSize || !AesGcm.IsSupported)
        {
            return base.CreateCipher_Aes_Gcm(cryptoParams, cipherKeySize, macSize);
        }

        return new TlsAeadCipher(cryptoParams, new NativeAesGcmCipher(true), new NativeAesGcmCipher(false),
            cipherKeySize, macSize, TlsAeadCipher.AEAD_GCM);
    }

    /// <inheritdoc />
    protected override TlsCipher CreateChaCha20Poly1305(TlsCryptoParameters cryptoParams)
    {
        if (!ChaCha20Poly1305.IsSupported)
        {
            return base.CreateChaCha20Poly1305(cryptoParams);
        }

        return new TlsAeadCipher(cryptoParams, new NativeChaCha20Poly1305Cipher(true),
            new NativeChaCha20Poly1305Cipher(false), 32, NativeAeadCipher.TagSize,
            TlsAeadCipher.AEAD_CHACHA20_POLY1305);
    }
}
