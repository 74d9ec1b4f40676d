using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using BcCertificate = Org.BouncyCastle.Tls.Certificate;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// The certificate chain and private key of one ssl-server, prepared once per configuration revision: the chain
/// is parsed into BouncyCastle's TLS 1.2 and TLS 1.3 forms and the key wrapped in a native signer, so a handshake
/// only picks a signature scheme. Construction fails (like Kestrel's HTTPS middleware) rather than each handshake:
/// an empty chain, a key that does not match the leaf certificate, or an unsupported key type throw here.
/// Takes ownership of the private key. Dispose only when no connection can still use it (after a drain).
/// </summary>
public sealed class ServerCredential : IDisposable
{
    // Own certificates are only ever encoded onto the wire, never used to verify; any BcTlsCrypto will do.
    private static readonly BcTlsCrypto ChainCrypto = new();

    // Server preference, strongest-first where the strength is equal for the client. TLS 1.2 RSA prefers PKCS#1
    // v1.5 (every TLS 1.2 client has it; RSA-PSS follows when the client only offers that).
    private static readonly int[] Rsa12Schemes =
    [
        SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pkcs1_sha384, SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pkcs1_sha512, SignatureScheme.rsa_pss_rsae_sha512,
    ];

    private static readonly int[] Rsa13Schemes =
    [
        SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pss_rsae_sha512,
    ];

    private readonly AsymmetricAlgorithm _key;
    private readonly NativeTlsSigner _signer;
    private readonly int[] _schemes12;
    private readonly int[] _schemes13;
    private AsymmetricKeyParameter? _bcKey;
    private int _disposed;

    private ServerCredential(AsymmetricAlgorithm key, ServerKeyType keyType, BcCertificate chain12,
        BcCertificate chain13, X509Certificate2 leaf, int[] schemes12, int[] schemes13, IReadOnlyList<byte[]> chainDer)
    {
        ChainDer = chainDer;
        _key = key;
        _signer = new NativeTlsSigner(key);
        KeyType = keyType;
        Chain12 = chain12;
        Chain13 = chain13;
        Subject = leaf.Subject;
        NotAfter = leaf.NotAfter.ToUniversalTime();
        Thumbprint = leaf.GetCertHashString(HashAlgorithmName.SHA256);
        _schemes12 = schemes12;
        _schemes13 = schemes13;
    }

    /// <summary>RSA or ECDSA: decides which TLS 1.2 suites the ssl-server can offer.</summary>
    public ServerKeyType KeyType { get; }

    /// <summary>Subject of the leaf certificate, for logs.</summary>
    public string Subject { get; }

    /// <summary>End of validity of the leaf certificate (UTC).</summary>
    public DateTime NotAfter { get; }

    /// <summary>SHA-256 thumbprint of the leaf certificate (hex).</summary>
    public string Thumbprint { get; }

    /// <summary>The chain as given (leaf first, DER), for engines that take DER (OpenSSL).</summary>
    public IReadOnlyList<byte[]> ChainDer { get; }

    internal BcCertificate Chain12 { get; }

    internal BcCertificate Chain13 { get; }

    /// <summary>
    /// Builds a credential from a chain (leaf first, DER) and the leaf's private key (an <see cref="RSA"/> or
    /// <see cref="ECDsa"/>). The credential owns <paramref name="privateKey"/> from then on.
    /// </summary>
    public static ServerCredential Create(IReadOnlyList<byte[]> chainDer, AsymmetricAlgorithm privateKey)
    {
        ArgumentNullException.ThrowIfNull(chainDer);
        ArgumentNullException.ThrowIfNull(privateKey);
        if (chainDer.Count == 0)
        {
            throw new ArgumentException("The certificate chain is empty: give at least the ssl-server's certificate.",
                nameof(chainDer));
        }

        using var leaf = X509CertificateLoader.LoadCertificate(chainDer[0]);
        ServerKeyType keyType;
        int[] schemes12;
        int[] schemes13;
        switch (privateKey)
        {
            case RSA rsa:
                using (var certKey = leaf.GetRSAPublicKey() ?? throw KeyMismatch(leaf, "is not an RSA certificate"))
                {
                    var a = certKey.ExportParameters(false);
                    var b = rsa.ExportParameters(false);
                    if (!a.Modulus.AsSpan().SequenceEqual(b.Modulus) || !a.Exponent.AsSpan().SequenceEqual(b.Exponent))
                    {
                        throw KeyMismatch(leaf, "has a different RSA public key than the private key given");
                    }
                }

                keyType = ServerKeyType.Rsa;
                schemes12 = Rsa12Schemes;
                schemes13 = Rsa13Schemes;
                break;

            case ECDsa ecdsa:
                using (var certKey = leaf.GetECDsaPublicKey() ?? throw KeyMismatch(leaf, "is not an ECDSA certificate"))
                {
                    var a = certKey.ExportParameters(false);
                    var b = ecdsa.ExportParameters(false);
                    if (!a.Q.X.AsSpan().SequenceEqual(b.Q.X) || !a.Q.Y.AsSpan().SequenceEqual(b.Q.Y))
                    {
                        throw KeyMismatch(leaf, "has a different ECDSA public key than the private key given");
                    }
                }

                // TLS 1.3 binds the curve to the hash (RFC 8446 4.2.3); TLS 1.2 allows any hash with any curve.
                int scheme13 = ecdsa.KeySize switch
                {
                    256 => SignatureScheme.ecdsa_secp256r1_sha256,
                    384 => SignatureScheme.ecdsa_secp384r1_sha384,
                    521 => SignatureScheme.ecdsa_secp521r1_sha512,
                    _ => throw new ArgumentException(
                        $"ECDSA key of {ecdsa.KeySize} bits: only P-256, P-384 and P-521 are supported.",
                        nameof(privateKey)),
                };
                keyType = ServerKeyType.Ecdsa;
                schemes13 = [scheme13];
                schemes12 = [scheme13, .. new[]
                {
                    SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.ecdsa_secp384r1_sha384,
                    SignatureScheme.ecdsa_secp521r1_sha512,
                }.Where(s => s != scheme13)];
                break;

            default:
                throw new ArgumentException(
                    $"Private key type {privateKey.GetType().Name} is not supported: use RSA or ECDSA.",
                    nameof(privateKey));
        }

        var entries12 = new TlsCertificate[chainDer.Count];
        var entries13 = new CertificateEntry[chainDer.Count];
        for (int i = 0; i < chainDer.Count; i++)
        {
            var parsed = new ParsedCertificate(BcTlsCertificate.ParseCertificate(chainDer[i]));
            var certificate = new CachedKeyTlsCertificate(ChainCrypto, parsed);
            entries12[i] = certificate;
            entries13[i] = new CertificateEntry(certificate, null);
        }

        return new ServerCredential(privateKey, keyType, new BcCertificate(entries12),
            new BcCertificate(TlsUtilities.EmptyBytes, entries13), leaf, schemes12, schemes13, [.. chainDer]);
    }

    /// <summary>
    /// The signer for one handshake: the first of our schemes (in our order) that the client offered in
    /// signature_algorithms, or null when there is none.
    /// </summary>
    internal TlsCredentialedSigner? CreateSigner(TlsContext context, bool tls13,
        IList<SignatureAndHashAlgorithm>? clientSigAlgs)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (clientSigAlgs is null)
        {
            return null;
        }

        foreach (int scheme in tls13 ? _schemes13 : _schemes12)
        {
            foreach (var offered in clientSigAlgs)
            {
                if (SignatureScheme.From(offered) == scheme)
                {
                    var parameters = new TlsCryptoParameters(context);
                    var chain = tls13 ? Chain13 : Chain12;
                    if (context.Crypto is BcTlsCrypto bc and not NativeTlsCrypto)
                    {
                        // The BouncyCastle provider exists to compare against: it signs in managed code too.
                        return new BcDefaultTlsCredentialedSigner(parameters, bc, BouncyCastleKey(), chain, offered);
                    }

                    return new DefaultTlsCredentialedSigner(parameters, _signer, chain, offered);
                }
            }
        }

        return null;
    }

    /// <summary>The private key as PKCS#8 DER, for an engine that loads it itself; the caller zeroes it after use.</summary>
    internal byte[] ExportPrivateKeyPkcs8()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _key switch
        {
            RSA rsa => rsa.ExportPkcs8PrivateKey(),
            ECDsa ecdsa => ecdsa.ExportPkcs8PrivateKey(),
            _ => throw new InvalidOperationException("unsupported key type " + _key.GetType().Name),
        };
    }

    private AsymmetricKeyParameter BouncyCastleKey()
    {
        // Converted once per credential (building a BouncyCastle RSA key validates its modulus: ~16 ms).
        var key = Volatile.Read(ref _bcKey);
        if (key is null)
        {
            byte[] pkcs8 = _key switch
            {
                RSA rsa => rsa.ExportPkcs8PrivateKey(),
                ECDsa ecdsa => ecdsa.ExportPkcs8PrivateKey(),
                _ => throw new TlsFatalAlert(AlertDescription.internal_error, "unsupported key"),
            };
            try
            {
                key = PrivateKeyFactory.CreateKey(pkcs8);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pkcs8);
            }

            Volatile.Write(ref _bcKey, key);
        }

        return key;
    }

    /// <summary>Releases the private key.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _key.Dispose();
        }
    }

    private static ArgumentException KeyMismatch(X509Certificate2 leaf, string what) =>
        new($"The certificate '{leaf.Subject}' {what}: give the private key that belongs to the first certificate " +
            "of the chain.");
}
