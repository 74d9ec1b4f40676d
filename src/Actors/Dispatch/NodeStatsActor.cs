using Akka.Actor;
using Akka.Event;
using Cluster = Akka.Cluster.Cluster;
using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Dispatch;

/// <summary>Messages of every node's <see cref="NodeStatsActor"/>: asked by the admin endpoint of any node.</summary>
public static class NodeStatsProtocol
{
    /// <summary>This node's open connections that match <paramref name="Filter"/> (all without one), the <paramref name="Max"/> oldest.</summary>
    public sealed record GetNodeConnections(int Max, ConnectionsRequest? Filter = null) : IClusterMessage;

    public sealed record NodeConnections(string Node, int Total, IReadOnlyList<ConnectionRow> Rows) : IClusterMessage;

    /// <summary>What the rows of one <see cref="NodeConnections"/> may weigh: far below Akka's frame (128 KB) whatever the names.</summary>
    public const int RowBytes = 60_000;

    /// <summary>
    /// The oldest connections as rows, at most <see cref="ConnectionsResponse.MaxRows"/>, and no more than
    /// <paramref name="maxBytes"/> as the wire's JSON weighs them (a few hundred rows of usual names in one message).
    /// </summary>
    public static IReadOnlyList<ConnectionRow> Rows(IEnumerable<ConnectionActor.Info> connections, int maxBytes = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(connections);
        var rows = new List<ConnectionRow>();
        var bytes = 0;
        foreach (var c in connections.OrderByDescending(c => c.Age).Take(ConnectionsResponse.MaxRows))
        {
            var row = new ConnectionRow(c.Owner, c.Revision, c.Client, c.Phase.ToString(), Math.Round(c.Age.TotalSeconds, 1))
            {
                Vip = c.Vip,
                Backend = c.Backend,
                BytesFromClient = c.BytesFromClient,
                BytesToClient = c.BytesToClient,
            };
            bytes += System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(row).Length + 1;
            if (bytes > maxBytes) break;
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// <c>clear ssl-proxy stats</c> on this node: the totals of every module (or one, or those of one SSLM context) of
    /// one category (or all).
    /// </summary>
    public sealed record ClearNodeStats(string? Module, string? Category, string? Context = null) : IClusterMessage;

    public sealed record NodeStatsCleared(string Node, int Rows) : IClusterMessage;

    /// <summary>One module row's totals a leaving node hands over.</summary>
    public sealed record InheritedFlow(string Module, FlowRow Row) : IClusterMessage;

    /// <summary>
    /// From a node that drained and is about to leave: its module totals, for the receiver to keep and report with its
    /// own, so that the cluster's figures survive drains and rolling restarts. Sent in parts of at most
    /// <see cref="RowBytes"/> (<see cref="Parts"/>).
    /// </summary>
    public sealed record InheritFlows(string From, long FromUid, IReadOnlyList<InheritedFlow> Rows) : IClusterMessage;

    public sealed record FlowsInherited(string Node, int Rows) : IClusterMessage;

    /// <summary>The rows in parts whose JSON weighs at most <paramref name="maxBytes"/> each.</summary>
    public static IEnumerable<IReadOnlyList<InheritedFlow>> Parts(IEnumerable<InheritedFlow> rows, int maxBytes = RowBytes) =>
        FrameParts.Split(rows, row => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(row).Length, maxBytes);
}

/// <summary>
/// The statistics face of one node, reachable from every node at <c>/user/node-stats</c>: it lists this node's open
/// connections (from the node runtime's connection actors) and clears this node's counters, so that
/// <c>show ssl-proxy conn</c> and <c>clear ssl-proxy stats</c> on any node cover the whole cluster. It owns the
/// node's <see cref="FlowRegistry"/> for clearing; the data path keeps counting into it.
/// </summary>
public sealed class NodeStatsActor : ReceiveActor
{
    public const string Name = "node-stats";

    public NodeStatsActor(FlowRegistry flows, IActorRef runtime)
    {
        var node = Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<NodeStatsProtocol.GetNodeConnections>(get =>
        {
            var sender = Sender;
            var max = Math.Clamp(get.Max, 0, ConnectionsResponse.MaxRows);
            // Shorter than the asking node's wait, so that a slow answer here still arrives as an answer there.
            runtime.Ask<FlowAgentActor.ConnectionList>(FlowAgentActor.ListConnections.Instance, TimeSpan.FromSeconds(3)).PipeTo(sender,
                success: list =>
                {
                    // Filtered before the oldest are cut: a context's own connections are listed however many others are older.
                    var matching = get.Filter is { } filter ? list.Connections.Where(c => filter.Matches(c.Owner, c.Client)).ToList() : list.Connections;
                    return new NodeStatsProtocol.NodeConnections(node, matching.Count, [.. NodeStatsProtocol.Rows(matching, NodeStatsProtocol.RowBytes).Take(max)]);
                },
                failure: e => new Status.Failure(e));
        });
        Receive<NodeStatsProtocol.ClearNodeStats>(clear => Sender.Tell(new NodeStatsProtocol.NodeStatsCleared(node, flows.Clear(clear.Module, clear.Category, clear.Context))));
        Receive<NodeStatsProtocol.InheritFlows>(inherit =>
        {
            // A node that is leaving itself may have handed its own totals on already: it takes none, and the leaver
            // asks the next member.
            if (CoordinatedShutdown.Get(Context.System).ShutdownReason is not null)
            {
                Sender.Tell(new Status.Failure(new InvalidOperationException($"{node} is leaving too")));
                return;
            }
            foreach (var row in inherit.Rows) flows.Inherit(row.Module, row.Row);
            flows.RecordRetired(inherit.From, inherit.FromUid);
            Sender.Tell(new NodeStatsProtocol.FlowsInherited(node, inherit.Rows.Count));
        });
    }

    public static Props Props(FlowRegistry flows, IActorRef runtime) => Akka.Actor.Props.Create(() => new NodeStatsActor(flows, runtime));

    /// <summary>
    /// The drain's last step before the node leaves: its module totals go to the oldest other member up that takes
    /// them (one that is leaving too refuses, and the next is asked), within <paramref name="within"/>. Alone, or when
    /// no member takes them in time, they leave with the node, and the log says how many went where.
    /// </summary>
    public static async Task HandOverAsync(ActorSystem system, FlowRegistry flows, TimeSpan within)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(flows);
        var deadline = DateTimeOffset.UtcNow + within;
        var cluster = Cluster.Get(system);
        var self = cluster.SelfUniqueAddress;
        var heirs = cluster.State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up && m.Address != self.Address)
            .OrderBy(m => m, Akka.Cluster.Member.AgeOrdering).Select(m => m.Address).ToList();
        // Rows that counted nothing are not worth a message.
        var rows = flows.HandOver().Where(r => r.Row.Accepted > 0 || r.Row.HandshakesFailed > 0 || r.Row.Totals is { Count: > 0 })
            .Select(r => new NodeStatsProtocol.InheritedFlow(r.Module, r.Row)).ToList();
        if (rows.Count == 0) return;
        var parts = NodeStatsProtocol.Parts(rows).ToList();
        foreach (var heir in heirs)
        {
            var target = system.ActorSelection(new RootActorPath(heir) / "user" / Name);
            var sent = 0;
            try
            {
                foreach (var part in parts)
                {
                    var left = deadline - DateTimeOffset.UtcNow;
                    if (left <= TimeSpan.Zero) throw new TimeoutException("the hand-over's time ran out");
                    await target.Ask<NodeStatsProtocol.FlowsInherited>(new NodeStatsProtocol.InheritFlows(self.Address.ToString(), self.Uid, part), left);
                    sent += part.Count;
                }
                system.Log.Info("drain: handed the totals of {0} module row(s) to {1}", sent, heir);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                system.Log.Warning("drain: {0} of {1} module row(s) handed to {2} before it failed ({3})", sent, rows.Count, heir, e.Message);
                // Rows a member took stay with it; a refusal comes before any (that member is leaving): ask the next.
                if (sent > 0 || DateTimeOffset.UtcNow >= deadline) return;
            }
        }
        system.Log.Warning("drain: this node's module totals leave with it (no other member took them)");
    }

    /// <summary>
    /// Asks the node-stats actor of every serving member (Up or Leaving), this node's included; the answers that came
    /// within <paramref name="timeout"/>, and the members that gave none.
    /// </summary>
    public static async Task<(IReadOnlyList<T> Answers, IReadOnlyList<string> Silent)> AskEveryNodeAsync<T>(ActorSystem system, object message, TimeSpan timeout,
        Address? only = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        var members = NodeBroadcast.Serving(system).Where(a => only is null || a == only).ToList();
        var asks = members.Select(async address =>
        {
            try
            {
                return (address, Answer: (T?)await system.ActorSelection(new RootActorPath(address) / "user" / Name).Ask<T>(message, timeout));
            }
            catch (Exception)
            {
                // Whatever went wrong with one node (no answer, a failure, no such actor during a rolling upgrade), the
                // others still answer and this one is named as silent.
                return (address, Answer: default(T));
            }
        }).ToList();
        var results = await Task.WhenAll(asks);
        return ([.. results.Where(r => r.Answer is not null).Select(r => r.Answer!)], [.. results.Where(r => r.Answer is null).Select(r => r.address.ToString())]);
    }
}
