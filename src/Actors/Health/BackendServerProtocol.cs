using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Health;

namespace SslCluster.Actors.Health;

/// <summary>
/// Messages of the sharded BackendServer entities: one per probed target (a service's keepalive or a global
/// keepalive), which owns that target's keepalive for the whole cluster.
/// </summary>
public static class BackendServerProtocol
{
    /// <summary>Routes a message to the entity of one keepalive target (<see cref="KeyOf"/>).</summary>
    public interface IBackendServerMessage : IClusterMessage
    {
        string Key { get; }
    }

    /// <summary>
    /// Every node sends this for every target of its revision, at each revision and every few seconds after: it starts
    /// the entity where sharding puts it (again, after a node loss) and tells it a newer revision may change its target.
    /// </summary>
    public sealed record EnsureKeepalive(string Key, long Revision) : IBackendServerMessage;

    /// <summary>The owner's latest state of a keepalive, for every node's health table.</summary>
    public sealed record KeepaliveReported(string Key, KeepaliveState State) : IClusterMessage;

    /// <summary>The entity id of a keepalive: <c>service:NAME</c> or <c>keepalive:NAME</c>.</summary>
    public static string KeyOf(KeepaliveKey key) =>
        (key.Owner == KeepaliveOwner.Service ? "service:" : "keepalive:") + key.Name;

    /// <summary>The keepalive an entity id names, or null for an id that is not one.</summary>
    public static KeepaliveKey? Parse(string key) =>
        key.StartsWith("service:", StringComparison.Ordinal) ? new KeepaliveKey(KeepaliveOwner.Service, key["service:".Length..])
        : key.StartsWith("keepalive:", StringComparison.Ordinal) ? new KeepaliveKey(KeepaliveOwner.Global, key["keepalive:".Length..])
        : null;
}
