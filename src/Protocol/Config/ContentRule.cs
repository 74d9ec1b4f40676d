namespace SslCluster.Protocol.Config;

public enum ContentProtocol
{
    Any,
    Tcp,
    Udp,
}

public enum BalanceMethod
{
    RoundRobin,
    WeightedRoundRobin,
    LeastConnections,
}

/// <summary>The two stickiness modes of the reference: by SSL session ID and by client source address.</summary>
public enum Stickiness
{
    None,
    SslSessionId,
    SourceIp,
}

/// <summary><c>owner NAME</c>: groups content rules, as on the CSS.</summary>
public sealed record Owner(string Name)
{
    public ValueMap<string, ContentRule> Contents { get; init; } = ValueMap<string, ContentRule>.Empty;
}

/// <summary><c>content NAME</c>: a VIP and port whose connections are balanced over the rule's services.</summary>
public sealed record ContentRule(string Name)
{
    public string? VipAddress { get; init; }

    /// <summary>
    /// The SSLM context of a rule <see cref="SslmLowering"/> made for a proxy service (never written in the CSS face):
    /// its connections count against the context's <c>maxconns</c>.
    /// </summary>
    public string? Context { get; init; }

    /// <summary>
    /// The header policy of an SSLM client proxy service, lowered (never written in the CSS face): its lines go into
    /// every request of the clear text relayed to the server.
    /// </summary>
    public HttpHeaderSettings? RelayHeaders { get; init; }

    public ContentProtocol Protocol { get; init; } = ContentProtocol.Any;

    public int? Port { get; init; }

    public ValueList<string> Services { get; init; } = ValueList<string>.Empty;

    public AdminState State { get; init; } = AdminState.Suspended;

    public BalanceMethod Balance { get; init; } = BalanceMethod.RoundRobin;

    public Stickiness Sticky { get; init; } = Stickiness.None;
}
