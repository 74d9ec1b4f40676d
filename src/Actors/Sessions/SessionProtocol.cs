using Akka.Actor;
using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Tls;

namespace SslCluster.Actors.Sessions;

/// <summary>
/// Messages of the cluster-wide TLS session cache: sessions copied between the nodes' replicators, a joining node's
/// catch-up, and the ticket keys the cluster's ticket-key owner hands out. Every secret in them is sealed
/// (<see cref="SessionReplica"/>, <see cref="SealedTicketKey"/>).
/// </summary>
public static class SessionProtocol
{
    /// <summary>Sessions created on the sender's node (or, in a catch-up, held there), for the receiver to keep.</summary>
    public sealed record SessionsReplicated(IReadOnlyList<SessionReplica> Sessions) : IClusterMessage;

    /// <summary>A node that just joined asks a peer for the sessions it holds.</summary>
    public sealed record SyncSessions(IActorRef ReplyTo) : IClusterMessage;

    /// <summary>The last message of a catch-up: the peer sent this many sessions before it.</summary>
    public sealed record SessionsSynced(int Count) : IClusterMessage;

    /// <summary>A node asks the ticket-key owner for the keys (at start, and whenever it has no current key).</summary>
    public sealed record GetTicketKeys(IActorRef ReplyTo) : IClusterMessage;

    /// <summary>The owner's keys, newest first, each secret sealed with the cluster seal.</summary>
    public sealed record TicketKeysPublished(IReadOnlyList<SealedTicketKey> Keys) : IClusterMessage;
}
