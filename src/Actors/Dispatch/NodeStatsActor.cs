using Akka.Actor;
using Cluster = Akka.Cluster.Cluster;
using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Actors.Dispatch;

/// <summary>Messages of every node's <see cref="NodeStatsActor"/>: asked by the admin endpoint of any node.</summary>
public static class NodeStatsProtocol
{
    /// <summary>This node's open connections, the <paramref name="Max"/> oldest.</summary>
    public sealed record GetNodeConnections(int Max) : IClusterMessage;

    public sealed record NodeConnections(string Node, int Total, IReadOnlyList<ConnectionRow> Rows) : IClusterMessage;

    /// <summary>What the rows of one <see cref="NodeConnections"/> may weigh: far below Akka's frame (128 KB) whatever the names.</summary>
    public const int RowBytes = 60_000;

    /// <summary>
    /// The oldest connections as rows, at most <see cref="ConnectionsResponse.MaxRows"/>, and no more than
    /// <paramref name="maxBytes"/> of owner, client and phase text with their numbers (about what they weigh as JSON).
    /// </summary>
    public static IReadOnlyList<ConnectionRow> Rows(IEnumerable<ConnectionActor.Info> connections, int maxBytes = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(connections);
        var rows = new List<ConnectionRow>();
        var bytes = 0;
        foreach (var c in connections.OrderByDescending(c => c.Age).Take(ConnectionsResponse.MaxRows))
        {
            var row = new ConnectionRow(c.Owner, c.Revision, c.Client, c.Phase.ToString(), Math.Round(c.Age.TotalSeconds, 1));
            bytes += 2 * (row.Owner.Length + (row.Client?.Length ?? 0) + row.Phase.Length) + 80;
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
                success: list => new NodeStatsProtocol.NodeConnections(node, list.Connections.Count,
                    [.. NodeStatsProtocol.Rows(list.Connections, NodeStatsProtocol.RowBytes).Take(max)]),
                failure: e => new Status.Failure(e));
        });
        Receive<NodeStatsProtocol.ClearNodeStats>(clear => Sender.Tell(new NodeStatsProtocol.NodeStatsCleared(node, flows.Clear(clear.Module, clear.Category, clear.Context))));
    }

    public static Props Props(FlowRegistry flows, IActorRef runtime) => Akka.Actor.Props.Create(() => new NodeStatsActor(flows, runtime));

    /// <summary>
    /// Asks the node-stats actor of every serving member (Up or Leaving), this node's included; the answers that came
    /// within <paramref name="timeout"/>, and the members that gave none.
    /// </summary>
    public static async Task<(IReadOnlyList<T> Answers, IReadOnlyList<string> Silent)> AskEveryNodeAsync<T>(ActorSystem system, object message, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(system);
        var members = NodeBroadcast.Serving(system).ToList();
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
