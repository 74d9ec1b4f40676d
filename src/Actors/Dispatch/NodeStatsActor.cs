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

    /// <summary>
    /// One node's answer to <see cref="GetNodeConnections"/>, in <paramref name="Parts"/> messages sent in order, each with
    /// rows weighing at most <see cref="RowBytes"/> (<see cref="Answer"/>); <paramref name="Total"/> counts every match.
    /// A member of an older version sends one message without the part numbers (then 1 of 1).
    /// </summary>
    public sealed record NodeConnections(string Node, int Total, IReadOnlyList<ConnectionRow> Rows, int Part = 1, int Parts = 1) : IClusterMessage;

    /// <summary>What the rows of one <see cref="NodeConnections"/> may weigh: far below Akka's frame (128 KB) whatever the names.</summary>
    public const int RowBytes = 60_000;

    /// <summary>The <paramref name="max"/> oldest connections as rows.</summary>
    public static IReadOnlyList<ConnectionRow> Rows(IEnumerable<ConnectionActor.Info> connections, int max = ConnectionsResponse.DefaultRows)
    {
        ArgumentNullException.ThrowIfNull(connections);
        return [.. connections.OrderByDescending(c => c.Age).Take(max)
            .Select(c => new ConnectionRow(c.Owner, c.Revision, c.Client, c.Phase.ToString(), Math.Round(c.Age.TotalSeconds, 1))
            {
                Vip = c.Vip,
                Backend = c.Backend,
                BytesFromClient = c.BytesFromClient,
                BytesToClient = c.BytesToClient,
            })];
    }

    /// <summary>One node's rows as the messages that carry them: parts whose rows' JSON weighs at most <paramref name="maxBytes"/>.</summary>
    public static IReadOnlyList<NodeConnections> Answer(string node, int total, IReadOnlyList<ConnectionRow> rows, int maxBytes = RowBytes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var parts = FrameParts.Split(rows, row => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(row).Length + 1, maxBytes).ToList();
        if (parts.Count == 0) return [new NodeConnections(node, total, [])];
        return [.. parts.Select((part, i) => new NodeConnections(node, total, part, i + 1, parts.Count))];
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

    /// <summary>
    /// From a module's entity: that module's totals from the last report of a member that died (it was downed, so it
    /// handed nothing over), for the receiver to keep and report with its own, so that they outlive the member and the
    /// entity. Sent in parts; with the <paramref name="Last"/> one the receiver names the member retired in that
    /// module's reports only. Answered with <see cref="FlowsInherited"/>, or refused by a node that is leaving itself.
    /// A message of its own, so that a node of a version without it refuses it instead of taking it for a hand-over.
    /// </summary>
    public sealed record AdoptFlows(string From, long FromUid, string Module, IReadOnlyList<FlowRow> Rows, bool Last) : IClusterMessage;

    /// <summary>One module's rows in parts whose JSON weighs at most <paramref name="maxBytes"/> each.</summary>
    public static IEnumerable<IReadOnlyList<FlowRow>> Parts(IEnumerable<FlowRow> rows, int maxBytes = RowBytes) =>
        FrameParts.Split(rows, row => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(row).Length, maxBytes);

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
            var max = Math.Clamp(get.Max, 0, ConnectionsResponse.MostRows);
            // Shorter than the asking node's wait, so that a slow answer here still arrives as an answer there.
            var log = Context.GetLogger();
            runtime.Ask<FlowAgentActor.ConnectionList>(FlowAgentActor.ListConnections.Instance, TimeSpan.FromSeconds(3)).ContinueWith(t =>
            {
                try
                {
                    // Filtered before the oldest are cut: a context's own connections are listed however many others are older.
                    var list = t.GetAwaiter().GetResult();
                    var matching = get.Filter is { } filter ? list.Connections.Where(c => filter.Matches(c.Owner, c.Client)).ToList() : list.Connections;
                    // In order: messages from one sender to one receiver arrive in the order sent.
                    foreach (var part in NodeStatsProtocol.Answer(node, matching.Count, NodeStatsProtocol.Rows(matching, max))) sender.Tell(part);
                }
#pragma warning disable CA1031 // Whatever failed, the asker gets a failure now rather than silence until its deadline.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    log.Warning("show connections: this node's list failed: {0}", e.Message);
                    sender.Tell(new Status.Failure(e));
                }
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        });
        Receive<NodeStatsProtocol.ClearNodeStats>(clear => Sender.Tell(new NodeStatsProtocol.NodeStatsCleared(node, flows.Clear(clear.Module, clear.Category, clear.Context))));
        // A node that is leaving itself may have handed its own totals on already: it takes none, and whoever offered
        // them asks the next member.
        bool RefusedWhileLeaving(string why)
        {
            if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null) return false;
            Sender.Tell(new Status.Failure(new InvalidOperationException($"{node} {why}")));
            return true;
        }

        Receive<NodeStatsProtocol.InheritFlows>(inherit =>
        {
            if (RefusedWhileLeaving("is leaving too")) return;
            flows.InheritFrom(inherit.From, inherit.FromUid, inherit.Rows.Select(row => (row.Module, row.Row)));
            Sender.Tell(new NodeStatsProtocol.FlowsInherited(node, inherit.Rows.Count));
        });
        Receive<NodeStatsProtocol.AdoptFlows>(adopt =>
        {
            if (RefusedWhileLeaving("is leaving")) return;

            // That member handed its totals to this node before it was downed: they are counted here already.
            if (flows.Retired.Contains(new RetiredNode(adopt.From, adopt.FromUid)))
            {
                Sender.Tell(new NodeStatsProtocol.FlowsInherited(node, 0));
                return;
            }

            flows.Adopt(adopt.Module, adopt.Rows, adopt.From, adopt.FromUid, adopt.Last);
            if (adopt.Last)
            {
                Context.GetLogger().Info("flows: this node now counts the totals of {0} that {1} (incarnation {2}) reported last; it was downed without handing them over",
                    FlowRegistry.Describe(adopt.Module), adopt.From, adopt.FromUid);
            }

            Sender.Tell(new NodeStatsProtocol.FlowsInherited(node, adopt.Rows.Count));
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
                system.Log.Info("drain: handed the totals of {0} row(s) of modules and clear-text rules to {1}", sent, heir);
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                system.Log.Warning("drain: {0} of {1} row(s) of modules and clear-text rules handed to {2} before it failed ({3})", sent, rows.Count, heir, e.Message);
                // Rows a member took stay with it; a refusal comes before any (that member is leaving): ask the next.
                if (sent > 0 || DateTimeOffset.UtcNow >= deadline) return;
            }
        }
        system.Log.Warning("drain: this node's module and clear-text rule totals leave with it (no other member took them)");
    }

    /// <summary>
    /// Asks the node-stats actor of every serving member (Up or Leaving), this node's included; the answers that came
    /// within <paramref name="timeout"/>, and the members that gave none.
    /// </summary>
    public static async Task<(IReadOnlyList<T> Answers, IReadOnlyList<string> Silent)> AskEveryNodeAsync<T>(ActorSystem system, object message, TimeSpan timeout,
        Address? only = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        return await NodeConnectionsQuery.EachServingNodeAsync(system, only, async address =>
        {
            try
            {
                return (T?)await system.ActorSelection(new RootActorPath(address) / "user" / Name).Ask<T>(message, timeout);
            }
            catch (Exception)
            {
                // Whatever went wrong with one node (no answer, a failure, no such actor during a rolling upgrade), the
                // others still answer and this one is named as silent.
                return default;
            }
        });
    }
}

/// <summary><c>show connections</c> across the cluster: every node's answer, which may come in parts.</summary>
public static class NodeConnectionsQuery
{
    /// <summary>
    /// <see cref="NodeStatsProtocol.GetNodeConnections"/> to every serving node (or <paramref name="only"/> one): each node's
    /// answer put together from its parts by a collector of its own. A node that fails, or whose parts do not all come
    /// within <paramref name="timeout"/>, is named silent rather than listed in part.
    /// </summary>
    public static async Task<(IReadOnlyList<NodeStatsProtocol.NodeConnections> Answers, IReadOnlyList<string> Silent)> AskConnectionsAsync(
        ActorSystem system, NodeStatsProtocol.GetNodeConnections request, TimeSpan timeout, Address? only = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        return await EachServingNodeAsync(system, only, async address =>
        {
            try
            {
                var done = new TaskCompletionSource<NodeStatsProtocol.NodeConnections?>(TaskCreationOptions.RunContinuationsAsynchronously);
                var collector = system.ActorOf(ConnectionPartsCollector.Props(done, timeout));
                system.ActorSelection(new RootActorPath(address) / "user" / NodeStatsActor.Name).Tell(request, collector);
                return await done.Task;
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // The actor system is shutting down: this node is named silent like one that did not answer.
                return null;
            }
        });
    }

    /// <summary>
    /// Asks every serving member (Up or Leaving), or <paramref name="only"/> that one, at once: the answers that came, and
    /// the members whose <paramref name="ask"/> gave none.
    /// </summary>
    internal static async Task<(IReadOnlyList<T> Answers, IReadOnlyList<string> Silent)> EachServingNodeAsync<T>(ActorSystem system,
        Address? only, Func<Address, Task<T?>> ask)
    {
        var members = NodeBroadcast.Serving(system).Where(a => only is null || a == only).ToList();
        var results = await Task.WhenAll(members.Select(async address => (Address: address, Answer: await ask(address))));
        return ([.. results.Where(r => r.Answer is not null).Select(r => r.Answer!)], [.. results.Where(r => r.Answer is null).Select(r => r.Address.ToString())]);
    }
}

/// <summary>
/// Collects one node's <see cref="NodeStatsProtocol.NodeConnections"/> parts (they arrive in order) into one answer, then
/// stops; a failure, a part out of sequence, or the deadline with parts missing completes it with none.
/// </summary>
internal sealed class ConnectionPartsCollector : ReceiveActor, IWithTimers
{
    private sealed record Deadline
    {
        public static Deadline Instance { get; } = new();
    }

    private readonly TaskCompletionSource<NodeStatsProtocol.NodeConnections?> _done;
    private readonly TimeSpan _timeout;

    public ConnectionPartsCollector(TaskCompletionSource<NodeStatsProtocol.NodeConnections?> done, TimeSpan timeout)
    {
        _done = done;
        _timeout = timeout;
        var rows = new List<ConnectionRow>();
        var received = 0;
        Receive<NodeStatsProtocol.NodeConnections>(part =>
        {
            // A part missing (a message remoting dropped) makes the node silent, never a list cut short under its total.
            // An older member's single message counts as 1 of 1.
            if (part.Part > 0 && part.Part != ++received)
            {
                Context.Stop(Self);
                return;
            }

            rows.AddRange(part.Rows);
            if (part.Part < part.Parts) return;
            _done.TrySetResult(part with { Rows = rows, Part = 1, Parts = 1 });
            Context.Stop(Self);
        });
        Receive<Status.Failure>(_ => Context.Stop(Self));
        Receive<Deadline>(_ => Context.Stop(Self));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Timers.StartSingleTimer(Deadline.Instance, Deadline.Instance, _timeout);

    protected override void PostStop() => _done.TrySetResult(null);

    public static Props Props(TaskCompletionSource<NodeStatsProtocol.NodeConnections?> done, TimeSpan timeout) =>
        Akka.Actor.Props.Create(() => new ConnectionPartsCollector(done, timeout));
}
