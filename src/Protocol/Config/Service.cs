namespace SslCluster.Protocol.Config;

public enum ServiceType
{
    /// <summary>A plain real server (the CSS default, printed as nothing).</summary>
    Local,

    /// <summary>A virtual SSL module terminating client TLS (<c>type ssl-accel</c>).</summary>
    SslAccel,

    /// <summary>Clear text that an SSL module re-encrypts towards a backend-server (<c>type ssl-accel-backend</c>).</summary>
    SslAccelBackend,

    /// <summary>Clear text that an SSL module sends out over TLS (<c>type ssl-init</c>).</summary>
    SslInit,
}

public enum KeepaliveType
{
    /// <summary>The CSS default for a service.</summary>
    Icmp,
    None,
    Tcp,

    /// <summary>HEAD or GET of the keepalive uri; <see cref="KeepaliveSettings.Encrypt"/> sends it over TLS.</summary>
    Http,

    /// <summary>A TLS handshake (the CSS sends an SSL Hello).</summary>
    Ssl,

    /// <summary>The service takes the state of the global keepalive <see cref="KeepaliveSettings.Named"/>.</summary>
    Named,

    /// <summary>A script: built-in (<c>kal-service-check</c>) or an executable of the scripts folder.</summary>
    Script,
}

/// <summary>
/// The keepalive settings of a service or of a global keepalive. Defaults and ranges are the CSS's: frequency 2-255 s
/// (default 5), retry period 2-255 s (default 5), maxfailure 1-10 (default 3), method HEAD.
/// </summary>
public sealed record KeepaliveSettings
{
    public const int DefaultFrequencySeconds = 5;
    public const int DefaultRetryPeriodSeconds = 5;
    public const int DefaultMaxFailure = 3;

    public static KeepaliveSettings Default { get; } = new();

    public KeepaliveType Type { get; init; } = KeepaliveType.Icmp;

    public int? Port { get; init; }

    public int FrequencySeconds { get; init; } = DefaultFrequencySeconds;

    public int RetryPeriodSeconds { get; init; } = DefaultRetryPeriodSeconds;

    public int MaxFailure { get; init; } = DefaultMaxFailure;

    public string? Uri { get; init; }

    public bool MethodHead { get; init; } = true;

    /// <summary><c>keepalive type http encrypt</c>: the HTTP keepalive goes over TLS (WebNS 7.5).</summary>
    public bool Encrypt { get; init; }

    /// <summary><c>keepalive type named NAME</c>: the global keepalive whose state the service takes.</summary>
    public string? Named { get; init; }

    /// <summary><c>keepalive type script NAME</c>.</summary>
    public string? Script { get; init; }

    /// <summary>The quoted arguments of the script, as one string (the script splits them on spaces).</summary>
    public string? ScriptArgs { get; init; }

    /// <summary><c>use-output</c>: the script's first output line is shown as the keepalive's reason.</summary>
    public bool UseOutput { get; init; }

    /// <summary>
    /// <c>keepalive hash "MD5HEX"</c>: the MD5 of the page a GET must return. Without it the first good GET sets the
    /// reference, as on the CSS.
    /// </summary>
    public string? Hash { get; init; }

    /// <summary>The port probed when none is configured: the service's port, else the CSS's per-type default.</summary>
    public int EffectivePort(int? servicePort) =>
        Port ?? (Type == KeepaliveType.Ssl || (Type == KeepaliveType.Http && Encrypt) ? servicePort ?? 443 : servicePort ?? 80);
}

/// <summary>
/// <c>keepalive NAME</c> at the global level: a keepalive of its own address that services share with
/// <c>keepalive type named NAME</c>; its settings supersede theirs.
/// </summary>
public sealed record GlobalKeepalive(string Name)
{
    public string? IpAddress { get; init; }

    public string? Description { get; init; }

    public AdminState State { get; init; } = AdminState.Suspended;

    /// <summary>Type, port, timing, uri, method and hash; never <see cref="KeepaliveType.Named"/>.</summary>
    public KeepaliveSettings Settings { get; init; } = KeepaliveSettings.Default;
}

/// <summary>
/// <c>service NAME</c>: a real server, or (type ssl-accel) a virtual SSL module that terminates TLS with the
/// ssl-servers of its one proxy list.
/// </summary>
public sealed record Service(string Name)
{
    public const int DefaultWeight = 1;
    public const int MaxWeight = 10;

    public ServiceType Type { get; init; } = ServiceType.Local;

    public string? IpAddress { get; init; }

    public int? Port { get; init; }

    public ContentProtocol Protocol { get; init; } = ContentProtocol.Any;

    /// <summary>The chassis slot of the reference hardware; kept as the module's display number.</summary>
    public int? Slot { get; init; }

    public KeepaliveSettings Keepalive { get; init; } = KeepaliveSettings.Default;

    /// <summary>0 takes no new flows while live ones finish (the reference's graceful drain).</summary>
    public int Weight { get; init; } = DefaultWeight;

    /// <summary>
    /// <c>max-conns N</c>: connections open at once on each node, 0 (the default) for no limit. On a module (ssl-accel)
    /// a new client over the limit is refused; on a real server the balancer sends new flows elsewhere.
    /// </summary>
    public int MaxConnections { get; init; }

    public const int MaxMaxConnections = 1_000_000;

    /// <summary>A module is limited to one ssl-proxy-list (reference, "Configuration Consideration" 1).</summary>
    public string? ProxyList { get; init; }

    public AdminState State { get; init; } = AdminState.Suspended;

    public string? Description { get; init; }
}
