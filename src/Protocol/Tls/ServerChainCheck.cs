using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>What a completed back-end handshake negotiated.</summary>
/// <param name="Version">TLS 1.2 or 1.3.</param>
/// <param name="CipherSuite">IANA code of the negotiated suite.</param>
/// <param name="Resumed">True when a stored session was reused (no full handshake).</param>
/// <param name="ServerVerified">True when the server's chain was checked against the backend-server's cacert.</param>
/// <param name="ServerSubject">Subject of the server's certificate (null when resumed: no certificate is sent).</param>
public sealed record BackendHandshakeInfo(TlsVersion Version, int CipherSuite, bool Resumed, bool ServerVerified, string? ServerSubject)
{
    public string CipherSuiteName => TlsCipherSuites.GetName(CipherSuite);
}

/// <summary>
/// The check of a real server's chain (leaf first, DER) against a backend-server's <c>cacert</c>: the subject for the
/// counters, and when a cacert is configured and the chain does not satisfy it, why and
/// the alert that says so (unknown_ca, certificate_expired, bad_certificate).
/// </summary>
public readonly record struct ServerChainCheck(string? Subject, string? Problem, int Alert)
{
    public static ServerChainCheck Check(BackendTlsProfile profile, IReadOnlyList<byte[]> chain, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0)
        {
            return new(null, "the server sent no certificate", AlertDescription.bad_certificate);
        }

        X509Certificate2 leaf;
        var extra = new X509Certificate2Collection();
        try
        {
            leaf = PeerChain.Parse(chain[0]);
            foreach (var c in chain.Skip(1))
            {
                extra.Add(PeerChain.Parse(c));
            }
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            return new(null, "the server's certificate does not parse: " + e.Message, AlertDescription.bad_certificate);
        }

        if (profile.TrustedCas is not { Count: > 0 } trusted)
        {
            return new(leaf.Subject, null, 0);
        }

        var problem = PeerChain.Problem(leaf, extra, trusted, now, PeerChain.ServerAuthenticationEku);
        if (profile.SignatureOnly)
        {
            // Signatures only: a chain whose one fault is its dates passes, and the name is not the question.
            const X509ChainStatusFlags Dates = X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.NotTimeNested;
            if (problem is null || (problem.Value.Statuses & ~Dates) == X509ChainStatusFlags.NoError) return new(leaf.Subject, null, 0);
        }
        else if (problem is null)
        {
            // RFC 6125: the subjectAltName entries decide, never the common name; a wildcard covers one label.
            return profile.ExpectedName is not { } name || leaf.MatchesHostname(name, allowWildcards: true, allowCommonName: false)
                ? new(leaf.Subject, null, 0)
                : new(leaf.Subject, $"the server's certificate '{leaf.Subject}' is not for '{name}' (its subjectAltName names {SubjectAltNames(leaf)})", AlertDescription.bad_certificate);
        }

        var (statuses, reason) = problem!.Value;
        bool unknownCa = PeerChain.IsUnknownCa(statuses);
        bool expired = PeerChain.IsOutOfDate(leaf, now);
        var why = unknownCa
            ? $"the server's certificate '{leaf.Subject}' issued by '{leaf.Issuer}' does not chain to the backend-server's cacert"
            : expired
                ? $"the server's certificate '{leaf.Subject}' is valid from {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u}, not now"
                : $"the server's certificate '{leaf.Subject}' is not valid: {reason}";
        return new(leaf.Subject, why, unknownCa ? AlertDescription.unknown_ca : expired ? AlertDescription.certificate_expired : AlertDescription.bad_certificate);
    }

    private static string SubjectAltNames(X509Certificate2 leaf)
    {
        var san = leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        var names = san is null ? [] : Pki.CertificateMetadata.NamesOf(san).ToList();
        return names.Count == 0 ? "nothing" : string.Join(", ", names);
    }
}
