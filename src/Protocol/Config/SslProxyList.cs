namespace SslCluster.Protocol.Config;

/// <summary>
/// <c>ssl-proxy-list NAME</c>: the ssl-servers (front end: terminate TLS for a VIP) and backend-servers (back end:
/// re-encrypt or initiate TLS towards a real server) that an SSL module applies.
/// </summary>
public sealed record SslProxyList(string Name)
{
    public AdminState State { get; init; } = AdminState.Suspended;

    public string? Description { get; init; }

    public ValueMap<int, SslServer> SslServers { get; init; } = ValueMap<int, SslServer>.Empty;

    public ValueMap<int, BackendServer> BackendServers { get; init; } = ValueMap<int, BackendServer>.Empty;

    /// <summary><c>crl-record NAME "URL" SIGNCERT [HOURS]</c>: revocation lists that ssl-servers of this list may use.</summary>
    public ValueMap<string, CrlRecord> CrlRecords { get; init; } = ValueMap<string, CrlRecord>.Empty;
}

/// <summary>
/// <c>crl-record NAME "URL" SIGNCERT [HOURS]</c>: where a certificate revocation list is published (HTTP only; the
/// node fetches exactly that URL), the association of the CA certificate that must have signed it, and how often
/// to fetch it again. <see cref="RefreshHours"/> 0 (the default) fetches again at the list's own nextUpdate time.
/// </summary>
public sealed record CrlRecord(string Name, string Url, string SignCert, int RefreshHours = 0)
{
    /// <summary>The reference allows 10 CRL records per proxy list.</summary>
    public const int MaxPerProxyList = 10;

    public const int MaxRefreshHours = 168;
}

/// <summary>What happens to a client whose certificate is missing or does not verify (<c>ssl-server N failure</c>).</summary>
public enum ClientAuthFailureAction
{
    /// <summary>The handshake fails with a fatal alert (the default).</summary>
    Reject,

    /// <summary>The handshake completes and the flow is forwarded; the outcome is only recorded.</summary>
    Ignore,

    /// <summary>The handshake completes and the client's first HTTP request is answered with a redirect to the failure-url.</summary>
    Redirect,

    /// <summary>
    /// <c>failure ignore-revoked</c> (the SSLM's <c>allow-revoked-certs</c>): a certificate that is otherwise valid but
    /// revoked goes on, its status in the inserted headers; every other failure is refused as under reject.
    /// </summary>
    IgnoreRevoked,
}

/// <summary>
/// Client authentication of one ssl-server (we are the TLS server and ask the client for a certificate):
/// <c>authentication enable</c>, up to four <c>cacert</c> lines per proxy list, an optional <c>crl</c>, and the
/// <c>failure</c> action with its <c>failure-url</c>. Disabled by default, as on the CSS.
/// </summary>
public sealed record ClientAuthSettings
{
    public static ClientAuthSettings Default { get; } = new();

    /// <summary>The reference allows 4 distinct CA certificates per proxy list.</summary>
    public const int MaxCaCertsPerProxyList = 4;

    public bool Enabled { get; init; }

    /// <summary>Associations (kind cert) of the CAs whose certificates are trusted, in the order configured.</summary>
    public ValueList<string> CaCerts { get; init; } = ValueList<string>.Empty;

    /// <summary>Name of a <see cref="CrlRecord"/> of the same proxy list, or null for no revocation check.</summary>
    public string? Crl { get; init; }

    public ClientAuthFailureAction Failure { get; init; } = ClientAuthFailureAction.Reject;

    /// <summary>Where <see cref="ClientAuthFailureAction.Redirect"/> sends the client (absolute http or https URL).</summary>
    public string? FailureUrl { get; init; }

    /// <summary>
    /// <c>ssl-server N log-auth-failures</c> (the SSLM's service command): a client whose certificate failed and that the
    /// failure action lets through is logged, at most 5 a second.
    /// </summary>
    public bool LogFailures { get; init; }

    /// <summary>
    /// <c>ssl-server N revocation-check ocsp|crl|none ...</c> (the SSLM's trustpoint command): how a client certificate's
    /// revocation is checked, in order, the first method that answers deciding; <c>none</c> lets a certificate through
    /// when no method before it answered. Empty: the CRL when one is configured, else none.
    /// </summary>
    public ValueList<RevocationMethod> Revocation { get; init; } = ValueList<RevocationMethod>.Empty;

    /// <summary>
    /// <c>ssl-server N client-ocsp-url "URL"</c>: the OCSP responder asked about client certificates; without it, the one
    /// each certificate names (Authority Information Access).
    /// </summary>
    public string? OcspUrl { get; init; }

    /// <summary>
    /// The certificate maps a client must match, by the CA certificate (association name) its chain reaches: an SSLM
    /// pool's <c>ca trustpoint T match map M</c>, lowered (the CSS face has none). A CA without a map authorizes every
    /// certificate it verifies.
    /// </summary>
    public ValueMap<string, PkiCertificateMap> Authorizations { get; init; } = ValueMap<string, PkiCertificateMap>.Empty;

    /// <summary>
    /// The SSLM service's <c>cert-trim</c>, lowered: a client's path may end at a trusted subordinate CA (a pool
    /// trustpoint holding an intermediate), its root neither configured nor sent.
    /// </summary>
    public bool CertTrim { get; init; }

    /// <summary>The revocation order that applies: <see cref="Revocation"/>, or its default.</summary>
    public IReadOnlyList<RevocationMethod> EffectiveRevocation =>
        Revocation.Count > 0 ? Revocation : Crl is null ? [RevocationMethod.None] : [RevocationMethod.Crl];
}

/// <summary>A way of checking a client certificate's revocation.</summary>
public enum RevocationMethod
{
    /// <summary>Ask the OCSP responder (the configured one, or the certificate's).</summary>
    Ocsp,

    /// <summary>Look the certificate up in the ssl-server's CRL.</summary>
    Crl,

    /// <summary>Accept without a revocation check.</summary>
    None,
}

/// <summary>One cipher line of an ssl-server: the suite to accept and where the clear text of such a flow goes.</summary>
public sealed record CipherEntry(string Name, string DestinationAddress, int DestinationPort, int Weight = 1);

/// <summary><c>ssl-server N ...</c>: one front-end TLS service of a proxy list, matched by VIP and port (and SNI).</summary>
public sealed record SslServer(int Number)
{
    public const int DefaultPort = 443;
    public const int DefaultSessionCacheSeconds = 300;
    public const int DefaultHandshakeTimeoutSeconds = 10;

    public string? RsaKey { get; init; }

    public string? RsaCert { get; init; }

    /// <summary>Our extension: an ECDSA P-256 key (<c>ssl genecdsa</c>) and its certificate.</summary>
    public string? EcdsaKey { get; init; }

    public string? EcdsaCert { get; init; }

    public string? VipAddress { get; init; }

    public int Port { get; init; } = DefaultPort;

    public ValueList<CipherEntry> Ciphers { get; init; } = ValueList<CipherEntry>.Empty;

    public int SessionCacheSeconds { get; init; } = DefaultSessionCacheSeconds;

    public int HandshakeTimeoutSeconds { get; init; } = DefaultHandshakeTimeoutSeconds;

    /// <summary>
    /// <c>ssl-server N idle timeout SECONDS</c>: an established flow with no byte in either direction for this long is
    /// closed. 0 (the default, as on the reference) never closes an idle flow.
    /// </summary>
    public int IdleTimeoutSeconds { get; init; }

    /// <summary>Lowest TLS version accepted; <c>ssl-server N version tls1.2|tls1.3</c>.</summary>
    public TlsVersionFloor MinimumVersion { get; init; } = TlsVersionFloor.Tls12;

    /// <summary>Client authentication: <c>authentication</c>, <c>cacert</c>, <c>crl</c>, <c>failure</c>, <c>failure-url</c>.</summary>
    public ClientAuthSettings ClientAuth { get; init; } = ClientAuthSettings.Default;

    /// <summary><c>ssl-server N urlrewrite NUMBER HOST ...</c>: Location rewrite rules, keyed by rule number.</summary>
    public ValueMap<int, UrlRewriteRule> UrlRewrites { get; init; } = ValueMap<int, UrlRewriteRule>.Empty;

    /// <summary>
    /// <c>ssl-server N ocsp-url "URL"</c> (beyond the reference): the OCSP responder whose answer is stapled to the
    /// handshakes; without it, the responder named in the certificate (Authority Information Access), if any.
    /// </summary>
    public string? OcspUrl { get; init; }

    /// <summary>
    /// <c>ssl-server N http-reuse [SECONDS]</c> (beyond the reference, close to HAProxy's <c>http-reuse always</c>): the ssl-server reads
    /// its clients' HTTP/1.x requests and keeps back-end connections open between clients, each idle at most this long
    /// (keep it below the servers' own keep-alive timeout). 0, the default: one back-end connection per client
    /// connection, bytes relayed as they come.
    /// </summary>
    public int HttpReuseSeconds { get; init; }

    /// <summary>
    /// <c>ssl-server N send-proxy-v2</c> (beyond the reference; HAProxy's <c>send-proxy-v2-ssl-cn</c>): every
    /// connection to the clear-text server starts with a PROXY protocol v2 header naming the client and the VIP, with
    /// the TLS facts as TLVs (SNI, ALPN, version, cipher, the client certificate's common name and whether it
    /// verified), for back ends that do not read HTTP.
    /// </summary>
    public bool SendProxyV2 { get; init; }

    /// <summary>How long an idle back-end connection is kept when <c>http-reuse</c> names no time.</summary>
    public const int DefaultHttpReuseSeconds = 4;

    /// <summary>The ALPN protocols of an ssl-server when it names none: HTTP/1.1, what the clear-text side speaks.</summary>
    public static readonly ValueList<string> DefaultAlpn = ValueList<string>.Empty.Add("http/1.1");

    /// <summary>
    /// <c>ssl-server N alpn PROTOCOL...</c> (beyond the reference): the application protocols agreed with a client by
    /// ALPN, in the ssl-server's order of preference; <c>h2</c> passes HTTP/2 through to a destination that speaks it.
    /// </summary>
    public ValueList<string> Alpn { get; init; } = DefaultAlpn;

    /// <summary><c>ssl-server N http-header ...</c>: the header lines inserted into every request of the ssl-server's clients.</summary>
    public HttpHeaderSettings HttpHeaders { get; init; } = HttpHeaderSettings.None;
}

/// <summary>
/// HTTP header insertion of one ssl-server (the CSS's <c>ssl-server N http-header</c>): the SSL session fields, the
/// client's and the server's certificate fields, static lines, and a prefix put before the name of every inserted
/// field (not of static lines, nor of the standard XFCC and RFC 9440 names). Every request of a client gets them; the
/// client's own headers of those names are taken out first.
/// </summary>
public sealed record HttpHeaderSettings
{
    /// <summary>At most this many static lines per ssl-server.</summary>
    public const int MaxStatic = 16;

    /// <summary>The longest prefix, and the longest static line.</summary>
    public const int MaxPrefixLength = 32;

    public const int MaxStaticLength = 512;

    /// <summary>
    /// Names a static line may not have (lower case): they frame the message or belong to the connection, so a line of
    /// one would make the server read the request otherwise than the proxy framed it.
    /// </summary>
    public static IReadOnlyList<string> FramingNames { get; } =
        ["content-length", "transfer-encoding", "connection", "upgrade", "host", "te", "trailer", "expect", "keep-alive", "proxy-connection"];

    public static HttpHeaderSettings None { get; } = new();

    /// <summary><c>http-header session</c>: Session-Id, Session-Cipher-Name, -Key-Size, -Use-Size, Session-Step-Up and Session-Initial-Cipher-*.</summary>
    public bool Session { get; init; }

    /// <summary><c>http-header client-cert [basic | pem]</c>: the client certificate's fields, or none.</summary>
    public ClientCertFields ClientCert { get; init; }

    /// <summary><c>http-header client-ip-port</c> (the SSLM's): ClientIP and ClientPort, the client's address and port.</summary>
    public bool ClientIpPort { get; init; }

    /// <summary>
    /// <c>http-header alias STANDARD-NAME ALIAS</c> (the SSLM 3.1's <c>alias</c>): a field sent under another name, keyed
    /// by its standard name (<see cref="Http.HttpHeaderFields.StandardNames"/>); the prefix is not put before an alias.
    /// </summary>
    public ValueMap<string, string> Aliases { get; init; } = ValueMap<string, string>.Empty;

    /// <summary><c>http-header server-cert</c>: the fields of the certificate the ssl-server sent.</summary>
    public bool ServerCert { get; init; }

    /// <summary>
    /// <c>http-header xfcc</c> (beyond the reference): a verified client certificate as Envoy's
    /// <c>X-Forwarded-Client-Cert</c> (hash, certificate, chain, subject, URI and DNS names).
    /// </summary>
    public bool Xfcc { get; init; }

    /// <summary>
    /// <c>http-header rfc9440</c> (beyond the reference): a verified client certificate as RFC 9440's <c>Client-Cert</c>
    /// and <c>Client-Cert-Chain</c>.
    /// </summary>
    public bool Rfc9440 { get; init; }

    /// <summary><c>http-header prefix "TEXT"</c>, put as it is before each inserted field's name; null for none.</summary>
    public string? Prefix { get; init; }

    /// <summary><c>http-header static "NAME:VALUE"</c> lines, in the order configured, one per name.</summary>
    public ValueList<string> Static { get; init; } = ValueList<string>.Empty;

    /// <summary>Whether anything is inserted.</summary>
    public bool Any => Session || Static.Count > 0 || ClientCert != ClientCertFields.None || ServerCert || Xfcc || Rfc9440 || ClientIpPort;

    /// <summary>Whether fields the prefix applies to are inserted (session, client-cert, server-cert).</summary>
    public bool AnyPrefixed => Session || ClientCert != ClientCertFields.None || ServerCert || ClientIpPort;

    /// <summary>The name of a static line (before its first colon, trimmed).</summary>
    public static string StaticName(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        return (colon < 0 ? line : line[..colon]).Trim();
    }
}

/// <summary>Which client certificate fields <c>http-header client-cert</c> inserts.</summary>
public enum ClientCertFields
{
    /// <summary>None.</summary>
    None,

    /// <summary><c>client-cert</c>: the 25 fields of the SSL Services Module 3.1 (the 21 of 2.1 and four X509v3 extensions).</summary>
    All,

    /// <summary><c>client-cert basic</c>: the 21 fields of the SSL Services Module 2.1.</summary>
    Basic,

    /// <summary><c>client-cert pem</c>: the validity, the error and the whole certificate in PEM.</summary>
    Pem,
}

/// <summary>The lowest protocol version an ssl-server accepts. SSLv3, TLS 1.0 and 1.1 are not offered at all.</summary>
public enum TlsVersionFloor
{
    Tls12,
    Tls13,
}

public enum BackendServerType
{
    /// <summary>Re-encrypt the clear text of a terminated flow towards the real server (the default).</summary>
    BackendSsl,

    /// <summary>SSL initiation: clear text from a client, TLS towards the real server.</summary>
    Initiation,
}

/// <summary><c>backend-server N ...</c>: a TLS client towards a real server.</summary>
public sealed record BackendServer(int Number)
{
    public BackendServerType Type { get; init; } = BackendServerType.BackendSsl;

    /// <summary>The clear-text address and port (matching a service) on which the module picks up flows to encrypt.</summary>
    public string? IpAddress { get; init; }

    public int? Port { get; init; }

    public string? ServerIp { get; init; }

    public int? ServerPort { get; init; }

    /// <summary>
    /// The real server's DNS name (<c>backend-server N server-name HOST</c>, beyond the reference): sent as SNI, and the
    /// name its certificate must carry when <c>cacert</c> verifies it; without it the certificate must carry the
    /// server's IP address.
    /// </summary>
    public string? ServerName { get; init; }

    public ValueList<string> Ciphers { get; init; } = ValueList<string>.Empty;

    public string? RsaKey { get; init; }

    public string? RsaCert { get; init; }

    public string? CaCert { get; init; }

    /// <summary>
    /// More CAs the server's chain may end at besides <see cref="CaCert"/>: the CA certificates of an SSLM client proxy
    /// service's <c>trusted-ca</c> pool, lowered (the CSS face names one cacert).
    /// </summary>
    public ValueList<string> PoolCaCerts { get; init; } = ValueList<string>.Empty;

    /// <summary>
    /// <c>authenticate verify signature-only</c> of an SSLM client proxy service, lowered: the server's chain must be
    /// signed by a trusted CA, and neither its dates nor the server's name are checked.
    /// </summary>
    public bool SignatureOnly { get; init; }

    /// <summary>How long our session with the real server is reused (the reference's "session key re-use"); 0 = never.</summary>
    public int SessionCacheSeconds { get; init; } = SslServer.DefaultSessionCacheSeconds;

    /// <summary>TLS version towards the real server: tls1.2 (default) or tls1.3; sessions are re-used under both (TLS 1.3 by the server's ticket).</summary>
    public TlsVersionFloor MinimumVersion { get; init; } = TlsVersionFloor.Tls12;

    /// <summary>Time the real server has to complete the TLS handshake; <c>backend-server N handshake timeout S</c>.</summary>
    public int HandshakeTimeoutSeconds { get; init; } = SslServer.DefaultHandshakeTimeoutSeconds;
}
