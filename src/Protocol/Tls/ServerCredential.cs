using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// The certificate chain and private key of one ssl-server, checked once per key and certificate; the ssl-server's
/// OpenSSL context is built from them (<see cref="TlsFrontEndBinding"/>). Construction fails (like Kestrel's HTTPS
/// middleware) rather than each handshake: an empty chain, a key that does not match the leaf certificate, or an unsupported key type throw here.
/// Takes ownership of the private key. Dispose only when no connection can still use it (after a drain).
/// </summary>
public sealed class ServerCredential : IDisposable
{
    // One of the two: a platform key object, or the way to open the key as PKCS#8 (kept sealed until the engine loads it).
    private readonly AsymmetricAlgorithm? _key;
    private readonly Func<byte[]>? _openPkcs8;
    private int _disposed;

    private ServerCredential(AsymmetricAlgorithm? key, Func<byte[]>? openPkcs8, ServerKeyType keyType, string subject, DateTime notAfterUtc, IReadOnlyList<byte[]> chainDer)
    {
        ChainDer = chainDer;
        _key = key;
        _openPkcs8 = openPkcs8;
        KeyType = keyType;
        Subject = subject;
        NotAfter = notAfterUtc;
        Thumbprint = Convert.ToHexString(SHA256.HashData(chainDer[0]));
    }

    /// <summary>RSA or ECDSA: decides which TLS 1.2 suites the ssl-server can offer.</summary>
    public ServerKeyType KeyType { get; }

    /// <summary>Subject of the leaf certificate, for logs.</summary>
    public string Subject { get; }

    /// <summary>End of validity of the leaf certificate (UTC).</summary>
    public DateTime NotAfter { get; }

    /// <summary>SHA-256 thumbprint of the leaf certificate (hex).</summary>
    public string Thumbprint { get; }

    /// <summary>The chain as given (leaf first, DER).</summary>
    public IReadOnlyList<byte[]> ChainDer { get; }

    /// <summary>
    /// Builds a credential from a chain (leaf first, DER) and the leaf's private key (an <see cref="RSA"/> or
    /// <see cref="ECDsa"/>). The credential owns <paramref name="privateKey"/> from then on.
    /// </summary>
    public static ServerCredential Create(IReadOnlyList<byte[]> chainDer, AsymmetricAlgorithm privateKey)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        using var leaf = LeafOf(chainDer);
        ServerKeyType keyType;
        switch (privateKey)
        {
            case RSA rsa:
                using (var certKey = leaf.GetRSAPublicKey() ?? throw KeyMismatch(leaf.Subject, "is not an RSA certificate"))
                {
                    var a = certKey.ExportParameters(false);
                    var b = rsa.ExportParameters(false);
                    if (!a.Modulus.AsSpan().SequenceEqual(b.Modulus) || !a.Exponent.AsSpan().SequenceEqual(b.Exponent))
                    {
                        throw KeyMismatch(leaf.Subject, "has a different RSA public key than the private key given");
                    }
                }

                keyType = ServerKeyType.Rsa;
                break;

            case ECDsa ecdsa:
                using (var certKey = leaf.GetECDsaPublicKey() ?? throw KeyMismatch(leaf.Subject, "is not an ECDSA certificate"))
                {
                    var a = certKey.ExportParameters(false);
                    var b = ecdsa.ExportParameters(false);
                    if (!a.Q.X.AsSpan().SequenceEqual(b.Q.X) || !a.Q.Y.AsSpan().SequenceEqual(b.Q.Y))
                    {
                        throw KeyMismatch(leaf.Subject, "has a different ECDSA public key than the private key given");
                    }
                }

                CheckCurve(ecdsa, nameof(privateKey));

                keyType = ServerKeyType.Ecdsa;
                break;

            default:
                throw new ArgumentException(
                    $"Private key type {privateKey.GetType().Name} is not supported: use RSA or ECDSA.",
                    nameof(privateKey));
        }

        return new ServerCredential(privateKey, null, keyType, leaf.Subject, leaf.NotAfter.ToUniversalTime(), [.. chainDer]);
    }

    /// <summary>
    /// Builds a credential whose private key stays sealed until the engine loads it: <paramref name="openPkcs8"/> gives
    /// the key as PKCS#8 (the caller zeroes it), <paramref name="keyPublicKeyInfo"/> is the key's SubjectPublicKeyInfo,
    /// which must be the leaf certificate's. The key type and the ECDSA curve come from the certificate; OpenSSL checks
    /// the private key against the certificate again when it loads it.
    /// </summary>
    public static ServerCredential CreateSealed(IReadOnlyList<byte[]> chainDer, ReadOnlySpan<byte> keyPublicKeyInfo, Func<byte[]> openPkcs8)
    {
        ArgumentNullException.ThrowIfNull(openPkcs8);
        CheckNotEmpty(chainDer);
        // Read in managed code: a restarted node makes a credential per key and certificate of its configuration, and
        // loading the certificate into the platform costs OpenSSL 3's decoders for the certificate and its key.
        Pki.CertificateMetadata leaf;
        Pki.KeyDescription key;
        try
        {
            leaf = Pki.CertificateMetadata.Parse(chainDer[0], "the ssl-server's certificate");
            key = Pki.KeyDescription.FromSubjectPublicKeyInfo(leaf.SubjectPublicKeyInfo, $"the certificate '{leaf.Subject}'");
        }
        catch (Pki.PkiException ex)
        {
            throw new ArgumentException(ex.Message, nameof(chainDer), ex);
        }

        if (!leaf.SubjectPublicKeyInfo.AsSpan().SequenceEqual(keyPublicKeyInfo))
        {
            throw KeyMismatch(leaf.Subject, "has a different public key than the private key given");
        }

        // KeyDescription admits only RSA and the curves P-256, P-384 and P-521.
        var keyType = key.Algorithm == Pki.KeyAlgorithm.Rsa ? ServerKeyType.Rsa : ServerKeyType.Ecdsa;
        return new ServerCredential(null, openPkcs8, keyType, leaf.Subject, leaf.NotAfter.UtcDateTime, [.. chainDer]);
    }

    /// <summary>The chain's first certificate; an empty chain is refused.</summary>
    private static X509Certificate2 LeafOf(IReadOnlyList<byte[]> chainDer)
    {
        CheckNotEmpty(chainDer);
        return X509CertificateLoader.LoadCertificate(chainDer[0]);
    }

    private static void CheckNotEmpty(IReadOnlyList<byte[]> chainDer)
    {
        ArgumentNullException.ThrowIfNull(chainDer);
        if (chainDer.Count == 0)
        {
            throw new ArgumentException("The certificate chain is empty: give at least the ssl-server's certificate.",
                nameof(chainDer));
        }
    }

    private static void CheckCurve(ECDsa ecdsa, string parameter)
    {
        if (ecdsa.KeySize is not (256 or 384 or 521))
        {
            throw new ArgumentException($"ECDSA key of {ecdsa.KeySize} bits: only P-256, P-384 and P-521 are supported.", parameter);
        }
    }

    /// <summary>The private key as PKCS#8 DER, for an engine that loads it itself; the caller zeroes it after use.</summary>
    internal byte[] ExportPrivateKeyPkcs8()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_openPkcs8 is not null) return _openPkcs8();
        return _key switch
        {
            RSA rsa => rsa.ExportPkcs8PrivateKey(),
            ECDsa ecdsa => ecdsa.ExportPkcs8PrivateKey(),
            _ => throw new InvalidOperationException("unsupported key type " + _key?.GetType().Name),
        };
    }

    /// <summary>Releases the private key.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _key?.Dispose();
        }
    }

    private static ArgumentException KeyMismatch(string subject, string what) =>
        new($"The certificate '{subject}' {what}: give the private key that belongs to the first certificate " +
            "of the chain.");
}
