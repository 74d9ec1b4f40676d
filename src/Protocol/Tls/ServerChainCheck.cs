using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>The TLS client side of a back-end flow, whichever engine runs it: what its handshake negotiated.</summary>
public interface IBackendTlsClient
{
    /// <summary>Set once the handshake completed.</summary>
    BackendHandshakeInfo? Handshake { get; }

    /// <summary>Why the server's certificate was refused, when it was.</summary>
    string? CertificateProblem { get; }
}

/// <summary>
/// The check of a real server's chain (leaf first, DER) against a backend-server's <c>cacert</c>, shared by both
/// engines: the subject for the counters, and when a cacert is configured and the chain does not satisfy it, why and
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

        if (profile.TrustedCas is not { Count: > 0 } trusted ||
            PeerChain.Problem(leaf, extra, trusted, now, PeerChain.ServerAuthenticationEku) is not { } problem)
        {
            return new(leaf.Subject, null, 0);
        }

        bool unknownCa = PeerChain.IsUnknownCa(problem.Statuses);
        bool expired = PeerChain.IsOutOfDate(leaf, now);
        var why = unknownCa
            ? $"the server's certificate '{leaf.Subject}' issued by '{leaf.Issuer}' does not chain to the backend-server's cacert"
            : expired
                ? $"the server's certificate '{leaf.Subject}' is valid from {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u}, not now"
                : $"the server's certificate '{leaf.Subject}' is not valid: {problem.Why}";
        return new(leaf.Subject, why, unknownCa ? AlertDescription.unknown_ca : expired ? AlertDescription.certificate_expired : AlertDescription.bad_certificate);
    }
}
