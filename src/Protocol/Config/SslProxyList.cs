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

    /// <summary>Lowest TLS version accepted; <c>ssl-server N version tls1.2|tls1.3</c>.</summary>
    public TlsVersionFloor MinimumVersion { get; init; } = TlsVersionFloor.Tls12;

    /// <summary><c>ssl-server N urlrewrite NUMBER HOST ...</c>: Location rewrite rules, keyed by rule number.</summary>
    public ValueMap<int, UrlRewriteRule> UrlRewrites { get; init; } = ValueMap<int, UrlRewriteRule>.Empty;
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

    public ValueList<string> Ciphers { get; init; } = ValueList<string>.Empty;

    public string? RsaKey { get; init; }

    public string? RsaCert { get; init; }

    public string? CaCert { get; init; }

    public int SessionCacheSeconds { get; init; } = SslServer.DefaultSessionCacheSeconds;
}
