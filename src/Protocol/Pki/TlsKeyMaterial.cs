using System.Security.Cryptography;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// What the TLS engine needs for one ssl-server, checked once per configuration revision, not per handshake: the
/// certificate chain as DER (leaf first) and the key, left sealed until the engine loads it; and the key/certificate
/// match that <c>ssl associate</c>, ssl-server activation and export check without opening the secret.
/// </summary>
public static class TlsKeyMaterial
{
    /// <summary>
    /// Pairs <paramref name="keyFile"/> with <paramref name="certificateFile"/> and optional intermediates, checking that
    /// the key matches the certificate and that each certificate was issued by the next one by name (signatures are the
    /// client's business; the order is ours, and a wrong order breaks clients that do not reorder), with the key left
    /// sealed, for a TLS engine that loads the key itself: the chain as DER, and a way to open the key as PKCS#8 (the
    /// caller zeroes what it returns) when the engine needs it. The key is unsealed once here, to fail now on a wrong
    /// master key or altered bytes, and the clear bytes are wiped at once: no platform key object is made, which costs
    /// more than the engine's own load (an RSA-2048 import into .NET is about 1.7 ms, most of a listener's build per
    /// ssl-server), and no clear key stays in memory until it is used.
    /// </summary>
    public static (IReadOnlyList<byte[]> ChainDer, Func<byte[]> OpenPkcs8) LoadSealed(KeyProtector protector, CertStoreFile keyFile,
        CertStoreFile certificateFile, IReadOnlyList<CertStoreFile>? intermediates = null)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var chain = CheckedChain(keyFile, certificateFile, intermediates);
        byte[] Open() => protector.Open(keyFile.Name, keyFile.Kind, keyFile.SealedPrivateKey.Span);
        CryptographicOperations.ZeroMemory(Open());
        return (chain, Open);
    }

    /// <summary>
    /// The chain as DER, leaf first, after checking that the key matches the certificate and that each certificate
    /// was issued by the next one by name.
    /// </summary>
    private static IReadOnlyList<byte[]> CheckedChain(CertStoreFile keyFile, CertStoreFile certificateFile, IReadOnlyList<CertStoreFile>? intermediates)
    {
        EnsureKeyMatchesCertificate(keyFile, certificateFile);
        var chain = new List<CertStoreFile> { certificateFile };
        chain.AddRange(intermediates ?? []);
        for (var i = 1; i < chain.Count; i++)
        {
            if (chain[i].IsPrivateKey)
            {
                throw new PkiException(PkiErrorCode.WrongFileKind, $"chain file '{chain[i].Name}' is a key file, not a certificate file");
            }

            if (chain[i - 1].Issuer != chain[i].Subject)
            {
                throw new PkiException(PkiErrorCode.InvalidArgument,
                    $"certificate '{chain[i - 1].Name}' was issued by '{chain[i - 1].Issuer}', but the next certificate of the chain, '{chain[i].Name}', is '{chain[i].Subject}': list the chain leaf first, each certificate followed by its issuer");
            }
        }

        return chain.Select(file => file.CertificateDer.ToArray()).ToList().AsReadOnly();
    }

    /// <summary>True when the key file's public key is the certificate's public key; no secret is opened.</summary>
    public static bool KeyMatchesCertificate(CertStoreFile keyFile, CertStoreFile certificateFile) =>
        MismatchReason(keyFile, certificateFile) is null;

    /// <summary>
    /// Throws a <see cref="PkiErrorCode.KeyCertificateMismatch"/> error naming both files and both keys when they
    /// do not match (<c>ssl associate</c> and ssl-server activation use this).
    /// </summary>
    public static void EnsureKeyMatchesCertificate(CertStoreFile keyFile, CertStoreFile certificateFile)
    {
        var reason = MismatchReason(keyFile, certificateFile);
        if (reason is not null)
        {
            throw new PkiException(
                keyFile.IsPrivateKey && !certificateFile.IsPrivateKey ? PkiErrorCode.KeyCertificateMismatch : PkiErrorCode.WrongFileKind,
                reason);
        }
    }

    public static string? MismatchReason(CertStoreFile keyFile, CertStoreFile certificateFile)
    {
        ArgumentNullException.ThrowIfNull(keyFile);
        ArgumentNullException.ThrowIfNull(certificateFile);
        if (!keyFile.IsPrivateKey)
        {
            return $"'{keyFile.Name}' is a certificate file, not a key file";
        }

        if (certificateFile.IsPrivateKey)
        {
            return $"'{certificateFile.Name}' is a key file, not a certificate file";
        }

        if (keyFile.PublicKeyInfo.Span.SequenceEqual(certificateFile.PublicKeyInfo.Span))
        {
            return null;
        }

        return $"key file '{keyFile.Name}' does not match certificate '{certificateFile.Name}' ({certificateFile.Subject}): "
            + $"the certificate is for {(keyFile.KeyDisplay == certificateFile.KeyDisplay ? "another" : "an")} {certificateFile.KeyDisplay} key "
            + $"(public key SHA-256 {FingerprintOf(certificateFile.PublicKeyInfo.Span)}), the key file holds {keyFile.KeyDisplay} "
            + $"(public key SHA-256 {keyFile.Sha256Fingerprint})";
    }

    private static string FingerprintOf(ReadOnlySpan<byte> spki) => CertStoreFile.FormatFingerprint(SHA256.HashData(spki));
}
