using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// Checks a peer's certificate chain against configured CA certificates only (the <c>cacert</c> lines): X509Chain
/// with custom root trust, no revocation lookup, no downloads. Shared by client authentication (we are the server)
/// and back-end server verification (we are the client).
/// </summary>
internal static class PeerChain
{
    public const string ServerAuthenticationEku = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthenticationEku = "1.3.6.1.5.5.7.3.2";

    /// <summary>
    /// Parsed peer certificates shared by every policy, keyed by the SHA-256 of their DER: a peer that comes back
    /// costs a hash and a lookup, not a parse.
    /// </summary>
    private static readonly BoundedLruCache<string, X509Certificate2> Parsed = new(1024);

    public static X509Certificate2 Parse(byte[] der)
    {
        string key = Convert.ToHexString(SHA256.HashData(der));
        return Parsed.TryGet(key, out var cached) ? cached : Parsed.GetOrAdd(key, X509CertificateLoader.LoadCertificate(der));
    }

    /// <summary>
    /// Builds the chain of <paramref name="leaf"/>. Null when it is valid; otherwise the combined status flags and a
    /// readable reason.
    /// </summary>
    public static (X509ChainStatusFlags Statuses, string Why)? Problem(X509Certificate2 leaf, X509Certificate2Collection extra,
        X509Certificate2Collection trusted, DateTime nowUtc, string eku) => Problem(leaf, extra, trusted, nowUtc, eku, out _, out _);

    /// <summary>
    /// As <see cref="Problem(X509Certificate2, X509Certificate2Collection, X509Certificate2Collection, DateTime, string)"/>,
    /// and the leaf's issuer on the path built (one of <paramref name="trusted"/> or <paramref name="extra"/>): null when
    /// the chain is not valid, the leaf itself when it is a trusted CA; and the SHA-256 hashes (hex) of every CA
    /// certificate on the path built, the leaf's issuer first and the root last (empty when the chain is not valid).
    /// With <paramref name="trim"/> (the SSLM's <c>cert-trim</c>), a path is valid when it reaches any trusted
    /// certificate, a subordinate CA included, everything up to it being valid: the path ends there, whatever lies
    /// above it (.NET anchors a custom trust only at a self-signed root).
    /// </summary>
    public static (X509ChainStatusFlags Statuses, string Why)? Problem(X509Certificate2 leaf, X509Certificate2Collection extra,
        X509Certificate2Collection trusted, DateTime nowUtc, string eku, out X509Certificate2? issuer, out IReadOnlyList<string> path,
        bool trim = false)
    {
        issuer = null;
        path = [];
        using var x509 = new X509Chain();
        var policy = x509.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(trusted);
        policy.ExtraStore.AddRange(extra);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = nowUtc;
        policy.ApplicationPolicy.Add(new Oid(eku));
        bool valid = x509.Build(leaf);
        try
        {
            var end = x509.ChainElements.Count;
            if (!valid && trim && TrimmedEnd(x509, trusted, nowUtc) is { } trimmed)
            {
                valid = true;
                end = trimmed;
            }

            if (valid)
            {
                if (end < 2)
                {
                    issuer = leaf;
                }
                else
                {
                    var thumbprint = x509.ChainElements[1].Certificate.Thumbprint;
                    issuer = trusted.FirstOrDefault(c => c.Thumbprint == thumbprint) ?? extra.FirstOrDefault(c => c.Thumbprint == thumbprint);
                }

                path = [.. x509.ChainElements.Take(end).Skip(1).Select(e => e.Certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256))];

                return null;
            }

            var statuses = x509.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b);
            var why = string.Join("; ", x509.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            return (statuses, why.Length > 0 ? why : statuses.ToString());
        }
        finally
        {
            // ChainElements hands out copies; release them now rather than leave them to the finaliser.
            foreach (var element in x509.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    /// <summary>
    /// The length of the shortest valid path to a trusted certificate in a chain that failed only for want of a trusted
    /// root: the first element (above the leaf) that is trusted, when neither it nor any element below it has a fault
    /// but that one, and the chain's faults all lie there or above; null otherwise.
    /// </summary>
    /// <remarks>
    /// OpenSSL does not check the dates of the last certificate of a chain that stops short of a root, nor demand
    /// basicConstraints of it: both are checked here, for every certificate up to the trusted one.
    /// </remarks>
    private static int? TrimmedEnd(X509Chain chain, X509Certificate2Collection trusted, DateTime nowUtc)
    {
        const X509ChainStatusFlags Anchor = X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain;
        var elements = chain.ChainElements;
        var thumbprints = trusted.Select(c => c.Thumbprint).ToHashSet(StringComparer.OrdinalIgnoreCase);
        for (var k = 1; k < elements.Count; k++)
        {
            if (!thumbprints.Contains(elements[k].Certificate.Thumbprint)) continue;
            var below = Enumerable.Range(0, k + 1).Select(i => Flags(elements[i].ChainElementStatus)).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b);
            var above = Enumerable.Range(k + 1, elements.Count - k - 1).Select(i => Flags(elements[i].ChainElementStatus)).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b);
            var whole = Flags(chain.ChainStatus);
            var anchor = elements[k].Certificate;
            var datesHold = Enumerable.Range(0, k + 1).All(i => !IsOutOfDate(elements[i].Certificate, nowUtc));
            var isCa = anchor.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true } constraints &&
                (!constraints.HasPathLengthConstraint || constraints.PathLengthConstraint >= k - 1);
            return (below & ~Anchor) == 0 && (whole & ~(Anchor | above)) == 0 && datesHold && isCa ? k + 1 : null;
        }

        return null;
    }

    private static X509ChainStatusFlags Flags(X509ChainStatus[] statuses) =>
        statuses.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b);

    /// <summary>True when the chain failed because no configured CA issued it (rather than dates or usage).</summary>
    public static bool IsUnknownCa(X509ChainStatusFlags statuses) =>
        (statuses & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0;

    public static bool IsOutOfDate(X509Certificate2 leaf, DateTime nowUtc) =>
        leaf.NotAfter.ToUniversalTime() < nowUtc || leaf.NotBefore.ToUniversalTime() > nowUtc;
}
