using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1.X509;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;

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
    /// <param name="revocation">The revocation methods in order (the first that answers decides); null: the CRL when
    /// there is one, else none.</param>
    /// <param name="ocsp">The OCSP answers, for <see cref="RevocationMethod.Ocsp"/>; without it that method never answers.</param>
    /// <param name="authorizations">Certificate maps by the SHA-256 hash (hex) of a CA certificate: a verified
    /// certificate whose path goes through such a CA (its issuer, an intermediate or the root) must match one of that
    /// CA's maps (SSLM <c>match map</c>), else it is <see cref="ClientAuthResult.NotAuthorized"/>.</param>
    public ClientAuthPolicy(IEnumerable<X509Certificate2> trustedCas, ClientAuthFailureAction failure,
        string? failureUrl = null, ICrlSource? crl = null, TimeProvider? time = null,
        IReadOnlyList<RevocationMethod>? revocation = null, IOcspSource? ocsp = null,
        IReadOnlyDictionary<string, IReadOnlyList<PkiCertificateMap>>? authorizations = null, CdpCrlCache? cdp = null, bool certTrim = false)
    {
        _certTrim = certTrim;
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
        Ocsp = ocsp;
        Cdp = crl is null ? cdp : null;
        bool configured = revocation is { Count: > 0 };
        Revocation = configured ? [.. revocation!] : crl is null ? [RevocationMethod.None] : [RevocationMethod.Crl];
        _time = time ?? TimeProvider.System;
        TrustedCas = [.. _trusted];

        // The names sent in the CertificateRequest, so that clients pick a matching certificate.
        AuthorityNames = [.. TrustedCas.Select(c => X509Name.GetInstance(c.SubjectName.RawData))];

        // The scope of session resumption: sessions made under this exact policy (same CA set, same failure action,
        // same CRL) resume only under it, never under a stricter one (CSCsk36744).
        var caSet = string.Join(",", TrustedCas.Select(c => c.GetCertHashString(HashAlgorithmName.SHA256)).Order(StringComparer.Ordinal));
        var fingerprint = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(caSet)))[..32];
        // The default order adds nothing, so that sessions made before revocation orders existed still resume.
        _authorizations = authorizations is { Count: > 0 } ? new Dictionary<string, IReadOnlyList<PkiCertificateMap>>(authorizations, StringComparer.OrdinalIgnoreCase) : null;
        ScopeKey = $"client-auth:{fingerprint}:{failure}:{crl?.Id ?? "no-crl"}" +
            (configured || ocsp is not null ? $":{string.Join(',', Revocation)}:{ocsp?.Id ?? "no-ocsp"}" : "") +
            (Cdp is not null ? ":" + CdpCrlCache.Id : "") +
            (certTrim ? ":trim" : "") +
            (_authorizations is null ? "" : ":maps=" + string.Join(',', _authorizations.OrderBy(a => a.Key, StringComparer.OrdinalIgnoreCase).Select(a => $"{a.Key[..16]}:{string.Join('|', a.Value.Select(m => m.Name + ":" + m.Digest).Order(StringComparer.Ordinal))}")));
    }

    private readonly Dictionary<string, IReadOnlyList<PkiCertificateMap>>? _authorizations;

    /// <summary>The SSLM's <c>cert-trim</c>: a path may end at a trusted subordinate CA (see <see cref="PeerChain"/>).</summary>
    private readonly bool _certTrim;

    /// <summary>
    /// Whether the failure action refuses <paramref name="outcome"/>: reject refuses every failure, ignore-revoked every
    /// failure but a revocation, ignore and redirect none (they let the connection go on).
    /// </summary>
    public bool Refuses(ClientAuthOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return outcome.Failed && Failure switch
        {
            ClientAuthFailureAction.Reject => true,
            ClientAuthFailureAction.IgnoreRevoked => outcome.Result != ClientAuthResult.Revoked,
            _ => false,
        };
    }

    /// <summary>The revocation methods, in the order they are tried.</summary>
    public IReadOnlyList<RevocationMethod> Revocation { get; }

    /// <summary>The OCSP answers consulted for <see cref="RevocationMethod.Ocsp"/>, or null.</summary>
    public IOcspSource? Ocsp { get; }

    /// <summary>
    /// The CRLs of the certificates' own distribution points, consulted for <see cref="RevocationMethod.Crl"/> when no
    /// crl-record is configured (a trustpoint's <c>revocation-check crl</c>), or null.
    /// </summary>
    public CdpCrlCache? Cdp { get; }

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
    /// Intermediate CA certificates from client chains that verified, by subject, shared by every policy (they are
    /// public, and each policy still anchors a path only at its own CAs). Bounded: only a CA-issued intermediate of a
    /// verified chain gets in.
    /// </summary>
    private static readonly BoundedLruCache<string, X509Certificate2> KnownIntermediates = new(256);

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

        // A session keeps only the leaf: when it comes back, the intermediates of verified chains seen before complete
        // its path (they are only candidates; the path must still end at a configured CA).
        if (chain.Count == 1)
        {
            var wanted = leaf.Issuer;
            for (int depth = 0; depth < 4 && KnownIntermediates.TryGet(wanted, out var known); depth++)
            {
                extra.Add(known);
                if (known.Issuer == known.Subject) break;
                wanted = known.Issuer;
            }
        }

        string subject = leaf.Subject;
        string issuer = leaf.Issuer;
        string serial = CertificateMetadata.SerialHex(leaf.SerialNumberBytes.Span);
        ClientAuthOutcome Outcome(ClientAuthResult result, string reason, bool unknownCa = false) =>
            new(result, subject, issuer, serial, reason) { UnknownCa = unknownCa, Chain = chain };

        var now = _time.GetUtcNow().UtcDateTime;
        if (PeerChain.Problem(leaf, extra, _trusted, now, PeerChain.ClientAuthenticationEku, out var issuerCertificate, out var path, _certTrim) is { } problem)
        {
            // Under cert-trim a path to a subordinate CA is missing its root by design: the leaf's dates speak first.
            if (PeerChain.IsUnknownCa(problem.Statuses) && !(_certTrim && PeerChain.IsOutOfDate(leaf, now)))
            {
                return Outcome(ClientAuthResult.Untrusted, $"'{subject}' issued by '{issuer}' does not chain to a configured cacert", unknownCa: true);
            }

            if (PeerChain.IsOutOfDate(leaf, now))
            {
                return Outcome(ClientAuthResult.Expired, $"'{subject}' is valid from {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u}, not now") with
                {
                    NotYetValid = leaf.NotBefore.ToUniversalTime() > now,
                };
            }

            // An expired CA certificate ends here too: it makes the chain untrusted, it never stops the module
            // (CSCin70309 reset the SSLM when a configuration held an expired CA).
            return Outcome(ClientAuthResult.Untrusted, $"the chain of '{subject}' is not valid: {problem.Why}");
        }

        // The path verified: the leaf's issuer, when the client sent it (not a configured CA), is kept for the sessions
        // that come back with the leaf alone. Only the path's own certificate: whatever else a client appended is not.
        if (issuerCertificate is { } sent && !ReferenceEquals(sent, leaf) && extra.Contains(sent) && sent.Subject != sent.Issuer)
        {
            KnownIntermediates.Set(sent.Subject, sent);
        }

        // A pool entry of a CA on the path may name certificate maps: a certificate none of them matches is refused as
        // not authorized, whatever its revocation state. Every CA of the path is looked at, the leaf's issuer as much
        // as the root (a map on a subordinate CA's trustpoint is not bypassed by the root's entry).
        if (_authorizations is not null)
        {
            foreach (var ca in path)
            {
                if (_authorizations.TryGetValue(ca, out var maps) && !maps.Any(m => m.Matches(subject, issuer)))
                    return Outcome(ClientAuthResult.NotAuthorized, $"'{subject}' issued by '{issuer}' does not match certificate map {string.Join(" or ", maps.Select(m => m.Name))}");
            }
        }

        return Revoke(Outcome(ClientAuthResult.Verified, $"'{subject}' chains to a configured cacert"), leaf, issuerCertificate, pendingAllowed: true);
    }

    /// <summary>
    /// The revocation methods in order on a chain that verified: the first that answers decides. An OCSP answer not
    /// known yet makes the outcome <see cref="ClientAuthResult.Pending"/> (the handshake goes on; see
    /// <see cref="ResolveAsync"/>) when <paramref name="pendingAllowed"/>, else that method did not answer.
    /// </summary>
    /// <param name="issuer">The leaf's issuer on the path checked; null when it could not be told (then OCSP cannot ask).</param>
    /// <param name="asked">An OCSP answer just asked for, used when the cache no longer holds it.</param>
    private ClientAuthOutcome Revoke(ClientAuthOutcome verified, X509Certificate2 leaf, X509Certificate2? issuer, bool pendingAllowed,
        OcspAnswer? asked = null)
    {
        var subject = verified.Subject;
        string? missing = null;
        var error = "Unknown";
        for (int i = 0; i < Revocation.Count; i++)
        {
            var method = Revocation[i];
            switch (method)
            {
                case RevocationMethod.None:
                    return verified with { Revocation = RevocationMethod.None };
                case RevocationMethod.Crl when Crl is not null:
                    switch (Crl.Check(leaf))
                    {
                        case CrlStatus.Revoked:
                            return verified with { Result = ClientAuthResult.Revoked, Reason = $"'{subject}' serial {verified.SerialNumber} is listed in CRL {Crl.Id}", Revocation = method };
                        case CrlStatus.Unavailable:
                            missing = $"CRL {Crl.Id} has not been fetched successfully yet";
                            error = "CRL Get Failure";
                            continue;
                        case CrlStatus.NotCovered when i < Revocation.Count - 1:
                            // The CRL speaks only for its own issuer: the next method decides.
                            missing = $"CRL {Crl.Id} does not cover the issuer";
                            continue;
                        default:
                            return verified with { Reason = verified.Reason + $", not listed in CRL {Crl.Id}", Revocation = method };
                    }

                case RevocationMethod.Crl when Cdp is not null:
                    if (issuer is null || ReferenceEquals(leaf, issuer))
                    {
                        missing = "no issuer certificate to check a CRL against";
                        error = "CRL Get Failure";
                        continue;
                    }

                    switch (Cdp.Cached(leaf, issuer))
                    {
                        case null when pendingAllowed:
                            return verified with { Result = ClientAuthResult.Pending, Reason = $"waiting for the CRL of '{subject}''s distribution point", PendingIssuer = issuer, PendingMethod = method };
                        case CrlStatus.Revoked:
                            return verified with { Result = ClientAuthResult.Revoked, Reason = $"'{subject}' serial {verified.SerialNumber} is listed in the CRL of its distribution point", Revocation = method };
                        case CrlStatus.Good:
                            return verified with { Reason = verified.Reason + ", not listed in the CRL of its distribution point", Revocation = method };
                        default:
                            missing = "the certificate names no CRL distribution point, or its CRL could not be fetched";
                            error = "CRL Get Failure";
                            continue;
                    }

                case RevocationMethod.Ocsp when Ocsp is not null:
                    if (issuer is null || ReferenceEquals(leaf, issuer))
                    {
                        // No issuer to name in the question (a client presenting a configured CA itself, or a path that could not be told).
                        missing = "no issuer certificate to ask OCSP about";
                        error = "CA Request Failure";
                        continue;
                    }

                    if ((Ocsp.Cached(leaf, issuer) ?? asked) is not { } answer)
                    {
                        if (pendingAllowed)
                        {
                            return verified with { Result = ClientAuthResult.Pending, Reason = $"waiting for the OCSP answer about '{subject}'", PendingIssuer = issuer, PendingMethod = method };
                        }

                        missing = "no OCSP answer";
                        error = "CA Request Failure";
                        continue;
                    }

                    switch (answer.Status)
                    {
                        case OcspCertStatus.Good:
                            return verified with { Reason = verified.Reason + ", good by OCSP", Revocation = method };
                        case OcspCertStatus.Revoked:
                            return verified with { Result = ClientAuthResult.Revoked, Reason = $"'{subject}' is {answer.Reason} by OCSP", Revocation = method };
                        case OcspCertStatus.OutOfRange:
                            missing = "OCSP: " + answer.Reason;
                            error = "OCSP Response Date Out-of-Range";
                            continue;
                        default:
                            missing = "OCSP: " + answer.Reason;
                            error = "CA Request Failure";
                            continue;
                    }

                default:
                    // A method with nothing to ask (no CRL, no OCSP source, a trusted CA presented as itself): no answer.
                    missing ??= $"no {method.ToString().ToUpperInvariant()} to ask";
                    continue;
            }
        }

        return verified with
        {
            Result = ClientAuthResult.RevocationUnavailable,
            Reason = $"the revocation of '{subject}' cannot be checked ({missing}) and the revocation order ends without 'none'",
            RevocationError = error,
        };
    }

    /// <summary>
    /// Decides a <see cref="ClientAuthResult.Pending"/> outcome: waits for the answer of the method waited for (an OCSP
    /// answer, or a distribution point's CRL, each bounded by its source's own timeout and
    /// <paramref name="cancellationToken"/>), then tries the revocation methods again in order, an answer still missing
    /// counting as none. Any other outcome is returned as it is.
    /// </summary>
    public async Task<ClientAuthOutcome> ResolveAsync(ClientAuthOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (outcome.Result != ClientAuthResult.Pending || outcome.PendingIssuer is not { } issuer || outcome.Leaf is not { } der)
        {
            return outcome;
        }

        var leaf = Parse(der);
        var verified = outcome with { Result = ClientAuthResult.Verified, Reason = $"'{outcome.Subject}' chains to a configured cacert", PendingIssuer = null, PendingMethod = null };
        // In the revocation order: the method waited for is asked (each bounded by its own source), then the order is
        // tried again, and a later method may be waited for in turn; the first that answers decides.
        OcspAnswer? asked = null;
        var decided = outcome;
        for (var round = 0; round < Revocation.Count && decided.Result == ClientAuthResult.Pending; round++)
        {
            if (decided.PendingMethod == RevocationMethod.Crl && Cdp is not null) await Cdp.FetchAsync(leaf, issuer, cancellationToken);
            else if (decided.PendingMethod == RevocationMethod.Ocsp && Ocsp is not null) asked = await Ocsp.AskAsync(leaf, issuer, cancellationToken);
            decided = Revoke(verified, leaf, issuer, pendingAllowed: round < Revocation.Count - 1, asked);
        }

        if (decided.Result == ClientAuthResult.Pending) decided = Revoke(verified, leaf, issuer, pendingAllowed: false, asked);
        return decided.Failed && Failure == ClientAuthFailureAction.Redirect ? decided with { RedirectUrl = FailureUrl } : decided;
    }

    private static X509Certificate2 Parse(byte[] der) => PeerChain.Parse(der);
}
