using System.Security.Cryptography.X509Certificates;

namespace SslCluster.Protocol.Tls;

/// <summary>What a CRL says about one certificate.</summary>
public enum CrlStatus
{
    /// <summary>The CRL covers the certificate's issuer and does not list it.</summary>
    Good,

    /// <summary>The CRL lists the certificate.</summary>
    Revoked,

    /// <summary>The CRL is issued by another CA, so it says nothing about this certificate.</summary>
    NotCovered,

    /// <summary>No valid CRL has been obtained yet.</summary>
    Unavailable,
}

/// <summary>
/// A certificate revocation list kept current in the background. <see cref="Check"/> runs inside handshakes: it must
/// be a lookup in memory, never I/O.
/// </summary>
public interface ICrlSource
{
    /// <summary>Identifies the list (its URL and signer) in the session-resumption scope of the bindings that use it.</summary>
    string Id { get; }

    /// <summary>Looks <paramref name="certificate"/> up in the last good copy of the list.</summary>
    CrlStatus Check(X509Certificate2 certificate);
}
