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

    /// <summary>
    /// No revocation method answered (a CRL not fetched yet, an OCSP responder that failed) and the order does not end
    /// with <c>none</c>.
    /// </summary>
    RevocationUnavailable,

    /// <summary>
    /// The chain verified, but the certificate does not match the certificate map that its CA's pool entry names (the
    /// SSLM's <c>ca trustpoint T match map M</c>): "Cert Not Authorized".
    /// </summary>
    NotAuthorized,

    /// <summary>
    /// The chain verified and the OCSP answer is being asked for: the handshake completes, and the connection waits for
    /// <see cref="ClientAuthPolicy.ResolveAsync"/> before any byte of it is forwarded.
    /// </summary>
    Pending,
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

    /// <summary>True when a certificate was asked for and did not pass (a pending one has not failed yet).</summary>
    public bool Failed => Result is not (ClientAuthResult.Verified or ClientAuthResult.NotRequested or ClientAuthResult.Pending);

    /// <summary>The revocation method that decided (null when none did, or the chain failed first).</summary>
    public Config.RevocationMethod? Revocation { get; init; }

    /// <summary>For <see cref="ClientAuthResult.RevocationUnavailable"/>: the SSLM's error string of the last method that failed.</summary>
    internal string? RevocationError { get; init; }

    /// <summary>For <see cref="ClientAuthResult.Pending"/>: the issuer the question is about.</summary>
    internal System.Security.Cryptography.X509Certificates.X509Certificate2? PendingIssuer { get; init; }

    /// <summary>For <see cref="ClientAuthResult.Pending"/>: the revocation method waited for (OCSP, or a distribution point's CRL).</summary>
    internal Config.RevocationMethod? PendingMethod { get; init; }

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
        ClientAuthResult.NotAuthorized => AlertDescription.access_denied,
        _ => AlertDescription.certificate_unknown,
    };

    /// <summary>For <see cref="ClientAuthResult.Untrusted"/>: the chain reaches no configured CA (rather than being broken).</summary>
    internal bool UnknownCa { get; init; }

    /// <summary>For <see cref="ClientAuthResult.Expired"/>: the certificate's validity has not begun yet (rather than ended).</summary>
    internal bool NotYetValid { get; init; }

    /// <summary>
    /// The chain the decision was made on, leaf first (DER): the whole chain the client sent in a full handshake, the
    /// leaf alone when a session resumed (that is all a session keeps). Empty when no certificate was sent or parsed.
    /// What header insertion tells the servers about the client's certificate comes from here.
    /// </summary>
    public IReadOnlyList<byte[]> Chain { get; init; } = [];

    /// <summary>The client's certificate (DER), or null when none was sent.</summary>
    public byte[]? Leaf => Chain.Count > 0 ? Chain[0] : null;

    /// <summary>
    /// The SSL Services Module's <c>Error:</c> string for this outcome (release notes 3.1(4), the list given with
    /// <c>allow-revoked-certs</c>): "none" when the certificate verified, else the failure in the module's words.
    /// </summary>
    public string ErrorText => Result switch
    {
        ClientAuthResult.Verified => "none",
        ClientAuthResult.NotRequested or ClientAuthResult.Missing => "No Cert Data",
        ClientAuthResult.Untrusted when UnknownCa => "Cert Not In CA Pool",
        ClientAuthResult.Untrusted => "Invalid Cert",
        ClientAuthResult.Expired when NotYetValid => "Cert Date Not Valid Yet",
        ClientAuthResult.Expired => "Cert Date Expired",
        ClientAuthResult.Revoked => "Cert Revoked",
        ClientAuthResult.NotAuthorized => "Cert Not Authorized",
        ClientAuthResult.RevocationUnavailable => RevocationError ?? "CRL Get Failure",
        _ => "Unknown",
    };
}
