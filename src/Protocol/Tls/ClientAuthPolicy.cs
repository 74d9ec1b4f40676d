using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1.X509;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// Client authentication of one ssl-server: the CAs it trusts (named in the CertificateRequest, and the only roots
/// of a client chain), the optional CRL, and what to do when a client fails. Immutable and thread-safe; build one per
/// ssl-server per configuration revision (<see cref="TlsFrontEndBinding.ClientAuth"/>).
/// Chains are checked with <see cref="X509Chain"/> (OpenSSL underneath) with the configured CAs as the only trust
/// anchors, no network access and no revocation lookups of its own: revocation is the configured CRL's job, which is
/// a lookup in memory, so a handshake never waits for the network.
/// </summary>
public sealed class ClientAuthPolicy
{
    private readonly X509Certificate2Collection _trusted;
    private readonly TimeProvider _time;

    /// <summary>Builds a policy.</summary>
    /// <param name="trustedCas">The CA certificates (<c>cacert</c> lines); at least one.</param>
    /// <param name="failure">What a failed client gets.</param>
    /// <param name="failureUrl">Where <see cref="ClientAuthFailureAction.Redirect"/> sends it (absolute http/https URL).</param>
    /// <param name="crl">The revocation list to consult, or null.</param>
    /// <param name="time">Clock for validity periods; <see cref="TimeProvider.System"/> when null.</param>
    public ClientAuthPolicy(IEnumerable<X509Certificate2> trustedCas, ClientAuthFailureAction failure,
        string? failureUrl = null, ICrlSource? crl = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(trustedCas);
        _trusted = [.. trustedCas];
        if (_trusted.Count == 0)
        {
            throw new ArgumentException("client authentication needs at least one trusted CA", nameof(trustedCas));
        }

        if (failure == ClientAuthFailureAction.Redirect &&
            (failureUrl is null || !Uri.TryCreate(failureUrl, UriKind.Absolute, out _) ||
             failureUrl.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))))
        {
            throw new ArgumentException("failure redirect needs an absolute URL without spaces or control characters", nameof(failureUrl));
        }

        Failure = failure;
        FailureUrl = failure == ClientAuthFailureAction.Redirect ? failureUrl : null;
        Crl = crl;
        _time = time ?? TimeProvider.System;
        TrustedCas = [.. _trusted];

        // The names sent in the CertificateRequest, so that clients pick a matching certificate.
        AuthorityNames = [.. TrustedCas.Select(c => X509Name.GetInstance(c.SubjectName.RawData))];

        // The scope of session resumption: sessions made under this exact policy (same CA set, same failure action,
        // same CRL) resume only under it, never under a stricter one (CSCsk36744).
        var caSet = string.Join(",", TrustedCas.Select(c => c.GetCertHashString(HashAlgorithmName.SHA256)).Order(StringComparer.Ordinal));
        var fingerprint = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(caSet)))[..32];
        ScopeKey = $"client-auth:{fingerprint}:{failure}:{crl?.Id ?? "no-crl"}";
    }

    /// <summary>The trusted CAs, in the configured order.</summary>
    public IReadOnlyList<X509Certificate2> TrustedCas { get; }

    /// <summary>What a failed client gets.</summary>
    public ClientAuthFailureAction Failure { get; }

    /// <summary>The redirect target, only for <see cref="ClientAuthFailureAction.Redirect"/>.</summary>
    public string? FailureUrl { get; }

    /// <summary>The CRL consulted after the chain verified, or null.</summary>
    public ICrlSource? Crl { get; }

    /// <summary>Appended to the binding key: see the constructor.</summary>
    public string ScopeKey { get; }

    internal IList<X509Name> AuthorityNames { get; }

    /// <summary>
    /// Decides on a client chain (leaf first, DER). Never throws for anything the client sent: a chain that does not
    /// parse is <see cref="ClientAuthResult.Untrusted"/>. The failure action is applied by the caller; the outcome
    /// carries the redirect URL when that action is redirect.
    /// </summary>
    public ClientAuthOutcome Verify(IReadOnlyList<byte[]> chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        var outcome = Decide(chain);
        return outcome.Failed && Failure == ClientAuthFailureAction.Redirect ? outcome with { RedirectUrl = FailureUrl } : outcome;
    }

    private ClientAuthOutcome Decide(IReadOnlyList<byte[]> chain)
    {
        if (chain.Count == 0)
        {
            return new ClientAuthOutcome(ClientAuthResult.Missing, null, null, null, "the client sent no certificate");
        }

        X509Certificate2 leaf;
        var extra = new X509Certificate2Collection();
        try
        {
            leaf = Parse(chain[0]);
            for (int i = 1; i < chain.Count; i++)
            {
                extra.Add(Parse(chain[i]));
            }
        }
        catch (CryptographicException e)
        {
            return new ClientAuthOutcome(ClientAuthResult.Untrusted, null, null, null, "the client certificate does not parse: " + e.Message);
        }

        string subject = leaf.Subject;
        string issuer = leaf.Issuer;
        string serial = leaf.SerialNumber;
        ClientAuthOutcome Outcome(ClientAuthResult result, string reason, bool unknownCa = false) =>
            new(result, subject, issuer, serial, reason) { UnknownCa = unknownCa };

        var now = _time.GetUtcNow().UtcDateTime;
        if (PeerChain.Problem(leaf, extra, _trusted, now, PeerChain.ClientAuthenticationEku) is { } problem)
        {
            if (PeerChain.IsUnknownCa(problem.Statuses))
            {
                return Outcome(ClientAuthResult.Untrusted, $"'{subject}' issued by '{issuer}' does not chain to a configured cacert", unknownCa: true);
            }

            if (PeerChain.IsOutOfDate(leaf, now))
            {
                return Outcome(ClientAuthResult.Expired, $"'{subject}' is valid from {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u}, not now");
            }

            // An expired CA certificate ends here too: it makes the chain untrusted, it never stops the module
            // (CSCin70309 reset the SSLM when a configuration held an expired CA).
            return Outcome(ClientAuthResult.Untrusted, $"the chain of '{subject}' is not valid: {problem.Why}");
        }

        return Crl?.Check(leaf) switch
        {
            CrlStatus.Revoked => Outcome(ClientAuthResult.Revoked, $"'{subject}' serial {serial} is listed in CRL {Crl.Id}"),
            CrlStatus.Unavailable => Outcome(ClientAuthResult.RevocationUnavailable, $"CRL {Crl.Id} has not been fetched successfully yet, so the revocation of '{subject}' cannot be checked"),
            _ => Outcome(ClientAuthResult.Verified, $"'{subject}' chains to a configured cacert"),
        };
    }

    private static X509Certificate2 Parse(byte[] der) => PeerChain.Parse(der);
}
