using System.Runtime.CompilerServices;
using Org.BouncyCastle.X509;

namespace SslCluster.Protocol.Pki;

/// <summary>
/// The certificates of a store snapshot by subject, to complete an ssl-server's chain: a client that knows only the
/// root needs the intermediates, and an operator who imported a chain (its <c>NAME-ca1</c>, <c>NAME-ca2</c> files) or
/// associated the intermediate certificates should not have to list them again. One index per snapshot of the store's
/// files, built on first use. Thread-safe once built.
/// </summary>
public sealed class IssuerIndex
{
    /// <summary>Longest chain followed above the leaf; real ones have one or two intermediates.</summary>
    public const int MaxIntermediates = 8;

    private static readonly ConditionalWeakTable<IReadOnlyDictionary<string, byte[]>, IssuerIndex> Indexes = [];

    // Signature checks by (certificate, issuer) fingerprint: every revision asks again whether kept chains are current.
    private static readonly Tls.BoundedLruCache<(string, string), bool> Signatures = new(16384);

    private readonly Dictionary<string, List<CertStoreFile>> _bySubject = new(StringComparer.Ordinal);

    private IssuerIndex(IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var bytes in files.Values)
        {
            CertStoreFile file;
            try
            {
                file = CertStoreFile.DecodeShared(bytes);
            }
            catch (PkiException)
            {
                continue; // A damaged file is reported where it is used, not here.
            }

            if (!file.IsPrivateKey && file.Subject is { } subject)
            {
                if (!_bySubject.TryGetValue(subject, out var list))
                {
                    _bySubject[subject] = list = [];
                }

                list.Add(file);
            }
        }
    }

    /// <summary>The index of one snapshot of the store's files (the same dictionary instance gives the same index).</summary>
    public static IssuerIndex Of(IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        return Indexes.GetValue(files, f => new IssuerIndex(f));
    }

    /// <summary>
    /// The intermediates above <paramref name="leaf"/>, nearest first: each step the certificate named as issuer whose
    /// key really signed the one below (two CA certificates with one subject, a renewed CA, are told apart by their
    /// keys; CSCec82360), preferring one valid at <paramref name="now"/> and then the latest. Stops below a self-signed
    /// root (clients have their roots), at an issuer the store does not hold, or after <see cref="MaxIntermediates"/>.
    /// </summary>
    public IReadOnlyList<CertStoreFile> IntermediatesOf(CertStoreFile leaf, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        var chain = new List<CertStoreFile>();
        var current = leaf;
        while (chain.Count < MaxIntermediates && IssuerOf(current, now, chain) is { } issuer && issuer.Subject != issuer.Issuer)
        {
            chain.Add(issuer);
            current = issuer;
        }

        return chain;
    }

    /// <summary>
    /// The certificate in the store that issued <paramref name="certificate"/> (by name and by the key that signed it,
    /// the one valid at <paramref name="now"/> and then the latest first), a self-signed root included; null when the
    /// store holds none or the certificate is self-signed. <paramref name="exclude"/>: certificates already in a chain.
    /// </summary>
    public CertStoreFile? IssuerOf(CertStoreFile certificate, DateTimeOffset now, IReadOnlyCollection<CertStoreFile>? exclude = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (certificate.Issuer is not { } issuerName || certificate.Subject == issuerName || !_bySubject.TryGetValue(issuerName, out var candidates))
        {
            return null;
        }

        X509Certificate? parsed = null;
        foreach (var candidate in candidates.OrderByDescending(c => c.IsValidAt(now)).ThenByDescending(c => c.NotAfter))
        {
            if (candidate.Sha256Fingerprint == certificate.Sha256Fingerprint ||
                exclude?.Any(c => c.Sha256Fingerprint == candidate.Sha256Fingerprint) == true)
            {
                continue;
            }

            if (!Signatures.TryGet((certificate.Sha256Fingerprint, candidate.Sha256Fingerprint), out bool signed))
            {
                signed = SignedBy(parsed ??= Parse(certificate), Parse(candidate));
                Signatures.Set((certificate.Sha256Fingerprint, candidate.Sha256Fingerprint), signed);
            }

            if (signed)
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The chain of <paramref name="leaf"/> as the store can build it: how many certificates (the leaf, its
    /// intermediates, and the root when the store holds it), and whether it ends at a self-signed root (the SSLM's
    /// <c>min-chain-length</c> check).
    /// </summary>
    public (int Certificates, bool ReachesRoot) ChainOf(CertStoreFile leaf, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        if (leaf.Subject == leaf.Issuer) return (1, true);
        var intermediates = IntermediatesOf(leaf, now);
        var top = intermediates.Count > 0 ? intermediates[^1] : leaf;
        return IssuerOf(top, now, intermediates) is { } root && root.Subject == root.Issuer
            ? (intermediates.Count + 2, true)
            : (intermediates.Count + 1, false);
    }

    private static X509Certificate Parse(CertStoreFile file) => new X509CertificateParser().ReadCertificate(file.CertificateDer.ToArray());

    private static bool SignedBy(X509Certificate certificate, X509Certificate issuer)
    {
        try
        {
            certificate.Verify(issuer.GetPublicKey());
            return true;
        }
        catch (Exception e) when (e is Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.Certificates.CertificateException
            or Org.BouncyCastle.Security.SignatureException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }
}
