using System.Security.Cryptography.X509Certificates;
using SslCluster.Protocol.Pki;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// OCSP answers about client certificates: <see cref="Cached"/> runs inside handshakes and is a lookup in memory;
/// <see cref="AskAsync"/> asks the responder, bounded in time, and is awaited only outside OpenSSL's callbacks.
/// </summary>
public interface IOcspSource
{
    /// <summary>Identifies the responder setting (a configured URL, or the certificates' own) in session scopes.</summary>
    string Id { get; }

    /// <summary>The answer known now about <paramref name="leaf"/> issued by <paramref name="issuer"/>; null when it must be asked.</summary>
    OcspAnswer? Cached(X509Certificate2 leaf, X509Certificate2 issuer);

    /// <summary>Asks (one question at a time per certificate, whoever waits); never throws for the responder's faults.</summary>
    Task<OcspAnswer> AskAsync(X509Certificate2 leaf, X509Certificate2 issuer, CancellationToken cancellationToken);
}
