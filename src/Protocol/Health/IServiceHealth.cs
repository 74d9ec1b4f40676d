namespace SslCluster.Protocol.Health;

/// <summary>The keepalive state of a service, as <c>show service</c> prints it.</summary>
public enum ServiceHealthState
{
    /// <summary>Keepalives succeed (or the service has keepalive type none): takes new flows.</summary>
    Alive,

    /// <summary>Keepalives started failing but fewer than maxfailure in a row: still takes new flows.</summary>
    Dying,

    /// <summary>maxfailure keepalives failed in a row: takes no new flows until one succeeds.</summary>
    Down,
}

/// <summary>
/// What the data path asks before it sends a new flow to a service. Read on every balancing decision, from many
/// threads: implementations answer from an immutable snapshot or lock-free state.
/// </summary>
public interface IServiceHealth
{
    /// <summary>The state of <paramref name="service"/>; a service nobody probes is <see cref="ServiceHealthState.Alive"/>.</summary>
    ServiceHealthState StateOf(string service);
}

/// <summary>Every service alive: for tests and for nodes that run no keepalives.</summary>
public sealed class AlwaysAlive : IServiceHealth
{
    public static AlwaysAlive Instance { get; } = new();

    public ServiceHealthState StateOf(string service) => ServiceHealthState.Alive;
}

/// <summary>
/// Where a keepalive runner publishes each state it reaches: the node's <see cref="ServiceHealthTable"/>, or, in a
/// cluster, the owner that copies it to every node's table. Called from the runner's thread.
/// </summary>
public interface IKeepaliveSink
{
    void Publish(KeepaliveKey key, KeepaliveState state);
}
