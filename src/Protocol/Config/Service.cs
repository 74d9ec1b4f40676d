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
    Http,
    Ssl,
}

/// <summary>The keepalive settings of a service; defaults are the CSS's (5 s frequency, 5 s retry, 3 failures).</summary>
public sealed record KeepaliveSettings
{
    public static KeepaliveSettings Default { get; } = new();

    public KeepaliveType Type { get; init; } = KeepaliveType.Icmp;

    public int? Port { get; init; }

    public int FrequencySeconds { get; init; } = 5;

    public int RetryPeriodSeconds { get; init; } = 5;

    public int MaxFailure { get; init; } = 3;

    public string? Uri { get; init; }

    public bool MethodHead { get; init; } = true;
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

    /// <summary>A module is limited to one ssl-proxy-list (reference, "Configuration Consideration" 1).</summary>
    public string? ProxyList { get; init; }

    public AdminState State { get; init; } = AdminState.Suspended;

    public string? Description { get; init; }
}
