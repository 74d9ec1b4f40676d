using Org.BouncyCastle.Tls;

namespace SslCluster.Protocol.Tls;

/// <summary>How the client's certificate fared (client authentication on the front end).</summary>
public enum ClientAuthResult
{
    /// <summary>The ssl-server does not ask for a certificate.</summary>
    NotRequested,

    /// <summary>The chain leads to a configured CA, is valid now, and the CRL (if any) does not list it.</summary>
    Verified,

    /// <summary>The client sent no certificate.</summary>
    Missing,

    /// <summary>The chain does not lead to a configured CA, or is broken (bad signature, wrong usage, expired CA).</summary>
    Untrusted,

    /// <summary>The client's own certificate is outside its validity period (counted apart from revocation, CSCek30466).</summary>
    Expired,

    /// <summary>The CRL of the ssl-server lists the certificate.</summary>
    Revoked,

    /// <summary>A CRL is configured but no valid copy of it has been fetched yet, so revocation cannot be checked.</summary>
    RevocationUnavailable,
}

/// <summary>
/// The client-authentication outcome of one connection, decided in the handshake and carried by
/// <see cref="HandshakeInfo.ClientAuth"/> to the data path and the counters.
/// </summary>
/// <param name="Result">What was decided.</param>
/// <param name="Subject">Subject of the client certificate (RFC 2253 form), or null when none was sent.</param>
/// <param name="Issuer">Issuer of the client certificate, or null.</param>
/// <param name="SerialNumber">Serial number in hexadecimal, or null.</param>
/// <param name="Reason">A sentence for logs: why the result is what it is.</param>
public sealed record ClientAuthOutcome(ClientAuthResult Result, string? Subject, string? Issuer, string? SerialNumber, string Reason)
{
    /// <summary>The outcome of a connection whose ssl-server does not ask for certificates.</summary>
    public static ClientAuthOutcome NotRequested { get; } =
        new(ClientAuthResult.NotRequested, null, null, null, "client authentication is not enabled");

    /// <summary>True when a certificate was asked for and did not pass.</summary>
    public bool Failed => Result is not (ClientAuthResult.Verified or ClientAuthResult.NotRequested);

    /// <summary>
    /// Set when the ssl-server's failure action is redirect and <see cref="Failed"/>: the client's first HTTP request
    /// is answered with a redirect to this URL and nothing reaches the backend.
    /// </summary>
    public string? RedirectUrl { get; init; }

    /// <summary>The alert that refuses this outcome under the reject action (TLS 1.2 alert set; see <see cref="AlertFor"/>).</summary>
    internal short AlertFor(bool tls13) => Result switch
    {
        // RFC 8446 4.4.2.4 names certificate_required; a TLS 1.2 client may not know that alert (RFC 5246 7.4.6).
        ClientAuthResult.Missing => tls13 ? AlertDescription.certificate_required : AlertDescription.handshake_failure,
        ClientAuthResult.Untrusted when UnknownCa => AlertDescription.unknown_ca,
        ClientAuthResult.Untrusted => AlertDescription.bad_certificate,
        ClientAuthResult.Expired => AlertDescription.certificate_expired,
        ClientAuthResult.Revoked => AlertDescription.certificate_revoked,
        _ => AlertDescription.certificate_unknown,
    };

    /// <summary>For <see cref="ClientAuthResult.Untrusted"/>: the chain reaches no configured CA (rather than being broken).</summary>
    internal bool UnknownCa { get; init; }
}
