namespace SslCluster.Protocol.Config;

/// <summary>
/// <c>ssl-proxy context NAME</c> (the SSL Services Module 3.1 face): a virtual SSL module, its connection limit, and
/// the proxy services, header policies, CA pools and NAT pools that belong to it. Names are scoped by context.
/// </summary>
public sealed record SslmContext(string Name)
{
    /// <summary>The context the SSLM 2.1 objects and unnamed ones belong to.</summary>
    public const string DefaultName = "Default";

    /// <summary>The SSLM's own limit of connections per context.</summary>
    public const int MaxConnsLimit = 262144;

    /// <summary><c>maxconns N</c>: the most connections the context has open at once (its default, 65,536, when null).</summary>
    public int? MaxConns { get; init; }

    public ValueMap<string, SslmService> Services { get; init; } = ValueMap<string, SslmService>.Empty;

    public ValueMap<string, SslmHeaderPolicy> HeaderPolicies { get; init; } = ValueMap<string, SslmHeaderPolicy>.Empty;

    public ValueMap<string, SslmCaPool> Pools { get; init; } = ValueMap<string, SslmCaPool>.Empty;

    public ValueMap<string, SslmNatPool> NatPools { get; init; } = ValueMap<string, SslmNatPool>.Empty;
}

/// <summary><c>authenticate verify all | signature-only</c> of a client proxy service: how it checks the real server.</summary>
public enum SslmVerify
{
    /// <summary>The chain, its dates and revocation.</summary>
    All,

    /// <summary>Only that the server's certificate is signed by a trusted CA.</summary>
    SignatureOnly,
}

/// <summary>An address and port of a proxy service (<c>virtual ipaddr IP protocol tcp port N [secondary]</c>, <c>server ipaddr ...</c>).</summary>
public sealed record SslmEndpoint(string Address, int Port, bool Secondary = false);

/// <summary>
/// <c>service NAME [client]</c> in a context: a server proxy service terminates TLS on its virtual address and sends
/// clear text to its server; a client proxy service takes clear text and sends TLS to its server.
/// </summary>
public sealed record SslmService(string Name)
{
    /// <summary><c>service NAME client</c>: SSL initiation towards the server.</summary>
    public bool Client { get; init; }

    public SslmEndpoint? Virtual { get; init; }

    public SslmEndpoint? Server { get; init; }

    /// <summary><c>certificate rsa general-purpose trustpoint T</c>: the service's key and certificate.</summary>
    public string? CertificateTrustpoint { get; init; }

    /// <summary><c>trusted-ca POOL</c>: the CA pool that client certificates (or a client service's server) must chain to.</summary>
    public string? TrustedCa { get; init; }

    /// <summary><c>authenticate verify all | signature-only</c> (client services).</summary>
    public SslmVerify? Verify { get; init; }

    /// <summary><c>policy http-header NAME</c>.</summary>
    public string? HeaderPolicy { get; init; }

    /// <summary><c>nat client POOL</c>: the pool the service's connections to its server come from.</summary>
    public string? NatClient { get; init; }

    /// <summary><c>nat server</c>.</summary>
    public bool NatServer { get; init; }

    /// <summary><c>log-auth-failures</c>: client authentication failures are logged (rate-limited).</summary>
    public bool LogAuthFailures { get; init; }

    /// <summary><c>cert-trim</c>: the client's chain is trimmed to the shortest one reaching a pool trustpoint.</summary>
    public bool CertTrim { get; init; }

    /// <summary><c>inservice</c>: the service takes connections.</summary>
    public bool InService { get; init; }
}

/// <summary>
/// <c>policy http-header NAME</c> in a context: what a server proxy service inserts into its clients' requests, and
/// which client authentication failures it lets through.
/// </summary>
public sealed record SslmHeaderPolicy(string Name)
{
    public ClientCertFields ClientCert { get; init; }

    public bool Session { get; init; }

    /// <summary><c>client-ip-port</c>: ClientIP and ClientPort.</summary>
    public bool ClientIpPort { get; init; }

    /// <summary><c>custom "NAME:VALUE"</c> lines, in order, one per name.</summary>
    public ValueList<string> Custom { get; init; } = ValueList<string>.Empty;

    /// <summary><c>alias STANDARD-NAME ALIAS</c>: a field sent under another name.</summary>
    public ValueMap<string, string> Aliases { get; init; } = ValueMap<string, string>.Empty;

    public string? Prefix { get; init; }

    /// <summary><c>subject-name</c> (3.1(4)): the subject in every request (ours always go into every request).</summary>
    public bool SubjectName { get; init; }

    /// <summary><c>allow-auth-failures</c>: a client whose certificate failed goes on, its failure in the headers.</summary>
    public bool AllowAuthFailures { get; init; }

    /// <summary><c>allow-revoked-certs</c>: a client whose certificate is revoked (only that failure) goes on.</summary>
    public bool AllowRevokedCerts { get; init; }

    /// <summary>
    /// <c>send-proxy-v2</c> (beyond the SSLM): each connection to the server starts with a PROXY protocol v2 header and
    /// its TLS TLVs (the CSS face's <c>ssl-server N send-proxy-v2</c>).
    /// </summary>
    public bool SendProxyV2 { get; init; }
}

/// <summary>One <c>ca trustpoint T [match map M]</c> of a CA pool.</summary>
public sealed record SslmPoolEntry(string Trustpoint, string? MatchMap = null);

/// <summary><c>pool ca NAME</c>: the CA trustpoints a service's client certificates may chain to.</summary>
public sealed record SslmCaPool(string Name)
{
    public ValueList<SslmPoolEntry> Entries { get; init; } = ValueList<SslmPoolEntry>.Empty;
}

/// <summary><c>natpool NAME START END netmask MASK</c>.</summary>
public sealed record SslmNatPool(string Name, string Start, string End, string Netmask);

/// <summary>One <c>certificate [ca] SERIAL FILE</c> line of <c>crypto pki certificate chain</c>.</summary>
public sealed record PkiChainCertificate(string Serial, bool Ca, string File);

/// <summary>
/// <c>crypto pki trustpoint NAME</c> (with its <c>crypto pki certificate chain NAME</c>): a key pair and certificate
/// chain, or a CA, and how certificates checked against it are revoked.
/// </summary>
public sealed record PkiTrustpoint(string Name)
{
    /// <summary><c>enrollment terminal [pem]</c> or <c>enrollment url URL</c>, as written.</summary>
    public string? Enrollment { get; init; }

    /// <summary><c>rsakeypair NAME</c>: the store's key file.</summary>
    public string? RsaKeyPair { get; init; }

    public ValueList<RevocationMethod> Revocation { get; init; } = ValueList<RevocationMethod>.Empty;

    /// <summary><c>ocsp url URL</c>.</summary>
    public string? OcspUrl { get; init; }

    /// <summary><c>min-chain-length N</c> (0: the chain must reach a self-signed root).</summary>
    public int MinChainLength { get; init; }

    /// <summary>The <c>crypto pki certificate chain</c> lines.</summary>
    public ValueList<PkiChainCertificate> Chain { get; init; } = ValueList<PkiChainCertificate>.Empty;
}

/// <summary>A field a certificate map rule reads.</summary>
public enum CertificateMapField
{
    SubjectName,
    IssuerName,
}

/// <summary>How a certificate map rule compares (IOS: eq, ne, co, nc; case-insensitive).</summary>
public enum CertificateMapOperator
{
    Equal,
    NotEqual,
    Contains,
    NotContains,
}

/// <summary>One rule of a certificate map: all rules of a map must hold.</summary>
public sealed record CertificateMapRule(CertificateMapField Field, CertificateMapOperator Operator, string Value);

/// <summary>
/// <c>crypto pki certificate map NAME SEQUENCE</c> blocks of one name: a certificate matches the map when it holds every
/// rule of at least one sequence.
/// </summary>
public sealed record PkiCertificateMap(string Name)
{
    public ValueMap<int, ValueList<CertificateMapRule>> Sequences { get; init; } = ValueMap<int, ValueList<CertificateMapRule>>.Empty;

    /// <summary>
    /// Whether a certificate with this subject and issuer (distinguished names in any usual spelling) holds every rule
    /// of at least one sequence. Names are compared as IOS does, ignoring case, and here also ignoring the spaces around
    /// <c>=</c> and <c>,</c> (so <c>cn = alice, o = x</c> and <c>CN=alice,O=x</c> are one name). A map without sequences
    /// matches nothing.
    /// </summary>
    public bool Matches(string subject, string issuer)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(issuer);
        var (s, i) = (Normalize(subject), Normalize(issuer));
        return Sequences.Values.Any(rules => rules.All(r =>
        {
            var name = r.Field == CertificateMapField.SubjectName ? s : i;
            var value = Normalize(r.Value);
            return r.Operator switch
            {
                CertificateMapOperator.Equal => name == value,
                CertificateMapOperator.NotEqual => name != value,
                CertificateMapOperator.Contains => name.Contains(value, StringComparison.Ordinal),
                _ => !name.Contains(value, StringComparison.Ordinal),
            };
        }));
    }

    /// <summary>
    /// The rules as a short hex digest, the same in every process (a session is bound to it on every node, so it cannot
    /// resume under other rules).
    /// </summary>
    public string Digest => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
        string.Join(';', Sequences.OrderBy(s => s.Key).Select(s => s.Key + ":" + string.Join(',', s.Value.Select(r => $"{r.Field} {r.Operator} {Normalize(r.Value)}")))))))[..16];

    private static string Normalize(string name) =>
        System.Text.RegularExpressions.Regex.Replace(name.Trim(), @"\s*([=,])\s*", "$1").ToLowerInvariant();
}
