using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using SslCluster.Protocol.Runtime;
using static SslCluster.Actors.Modules.ModuleProtocol;

namespace SslCluster.Actors.Modules;

/// <summary>One node incarnation's last report to a module: when it came, its rows, and when its rows were last offered to a live node.</summary>
public sealed record NodeReport(DateTimeOffset At, IReadOnlyList<FlowRow> Rows, DateTimeOffset? OfferedAt = null);

/// <summary>
/// The pure state of a module entity: the last counters each node incarnation reported, and their sum. A node that
/// stops reporting (it paused, left or died) is no longer counted as serving after <see cref="Stale"/>, and its open
/// flows drop out of the sum; its totals stay, since they counted real traffic. Once that incarnation is no longer a
/// member (<see cref="Orphans"/>), its totals are given to a node that reports, which counts them from then on and
/// names it retired (as a drain's hand-over does), so that they outlive it.
/// </summary>
public sealed record SslModuleState(ImmutableDictionary<(string Node, long Uid), NodeReport> Reports)
{
    public static SslModuleState Empty { get; } = new(ImmutableDictionary<(string Node, long Uid), NodeReport>.Empty);

    public static TimeSpan Stale { get; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Keeps the report; drops the last report of every member the reporter names as retired (same address and
    /// incarnation: a node started again at that address reports under a new one and stays), because the reporter now
    /// counts that member's totals.
    /// </summary>
    public SslModuleState Apply(ReportFlows report, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        var reports = Reports.SetItem((report.Node, report.Uid), new NodeReport(now, report.Rows));
        foreach (var retired in report.Retired ?? []) reports = reports.Remove((retired.Node, retired.Uid));
        return new(reports);
    }

    private bool Live(NodeReport report, DateTimeOffset now) => now - report.At <= Stale;

    public CurrentModuleFlows Current(string module, DateTimeOffset now)
    {
        var rows = Reports.Values.SelectMany(r => Live(r, now) ? r.Rows : r.Rows.Select(row => row.Retired()))
            .GroupBy(r => (r.Virtual, r.Port, r.ServerLeg))
            .Select(g => g.Aggregate((a, b) => a.Plus(b)))
            .ToList();
        var nodes = Reports.Where(r => Live(r.Value, now)).Select(r => r.Key.Node).Distinct().Order(StringComparer.Ordinal).ToList();
        return new CurrentModuleFlows(module, rows, nodes);
    }

    /// <summary>
    /// The last reports of incarnations that stopped reporting and are no longer members (<paramref name="isMember"/>
    /// false: died and removed, or started again under a new incarnation), not offered to a live node within
    /// <see cref="Stale"/>: their totals are to be given to one.
    /// </summary>
    public IReadOnlyList<((string Node, long Uid) Key, NodeReport Report)> Orphans(DateTimeOffset now, Func<string, long, bool> isMember)
    {
        ArgumentNullException.ThrowIfNull(isMember);
        return [.. Reports.Where(r => !Live(r.Value, now) && (r.Value.OfferedAt is not { } offered || now - offered > Stale) && !isMember(r.Key.Node, r.Key.Uid))
            .Select(r => (r.Key, r.Value))];
    }

    /// <summary>Notes that <paramref name="key"/>'s totals were offered to a live node at <paramref name="now"/>.</summary>
    public SslModuleState Offered((string Node, long Uid) key, DateTimeOffset now) =>
        Reports.TryGetValue(key, out var report) ? new(Reports.SetItem(key, report with { OfferedAt = now })) : this;
}

/// <summary>
/// The sharded entity of one virtual SSL module: a logical unit of the whole cluster, like a slot of the chassis.
/// Its agents on every node run the module's connections and report here; the entity answers for the module.
/// Its configuration (weight, state, proxy list) lives in the configuration store's journal, so the entity itself
/// holds only live state and can move between nodes freely (rebalance, drain) without touching a connection. The
/// totals of a member that died are given to a node that reports (<see cref="SslModuleState.Orphans"/>), so that they
/// do not depend on this entity staying where it is.
/// </summary>
public sealed class SslModuleEntity : ReceiveActor
{
    public const string TypeName = "ssl-module";

    private SslModuleState _state = SslModuleState.Empty;

    /// <param name="isMember">Whether a node incarnation is still a member; the cluster's state when null.</param>
    public SslModuleEntity(string module, TimeProvider time, Func<string, long, bool>? isMember = null)
    {
        var member = isMember ?? ClusterMembership(Context.System);
        Receive<ReportFlows>(r =>
        {
            var now = time.GetUtcNow();
            _state = _state.Apply(r, now);
            foreach (var (key, report) in _state.Orphans(now, member))
            {
                // The reporter's node takes them (its node-stats actor refuses while it is leaving itself: then they are
                // offered again, to whichever node reports after Stale).
                var heir = Context.ActorSelection(Sender.Path.Root / "user" / Dispatch.NodeStatsActor.Name);
                var rows = report.Rows.Select(row => new Dispatch.NodeStatsProtocol.InheritedFlow(module, row.Retired())).ToList();
                foreach (var part in Dispatch.NodeStatsProtocol.Parts(rows)) heir.Tell(new Dispatch.NodeStatsProtocol.InheritFlows(key.Node, key.Uid, part, module));
                _state = _state.Offered(key, now);
            }
        });
        Receive<GetModuleFlows>(_ => Sender.Tell(_state.Current(module, time.GetUtcNow())));
        // The heir's answers: taken (its next report names the member retired), or refused (offered again later).
        Receive<Dispatch.NodeStatsProtocol.FlowsInherited>(_ => { });
        Receive<Status.Failure>(_ => { });
    }

    /// <summary>Members by address and incarnation, from the cluster's state; outside a cluster every reporter counts as one.</summary>
    private static Func<string, long, bool> ClusterMembership(ActorSystem system)
    {
        if (((ExtendedActorSystem)system).Provider is not Akka.Cluster.IClusterActorRefProvider) return (_, _) => true;
        var cluster = Akka.Cluster.Cluster.Get(system);
        return (node, uid) => cluster.State.Members.Any(m => m.UniqueAddress.Uid == uid && m.Status is not (Akka.Cluster.MemberStatus.Down or Akka.Cluster.MemberStatus.Removed)
            && m.Address.ToString() == node);
    }

    public static Props Props(string module, TimeProvider time, Func<string, long, bool>? isMember = null) =>
        Akka.Actor.Props.Create(() => new SslModuleEntity(module, time, isMember));
}

/// <summary>Entity ids are the module names and keepalive targets; shards by a stable hash of them.</summary>
public sealed class ModuleMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string? EntityId(object message) => message switch
    {
        IModuleMessage m => m.Module,
        Health.BackendServerProtocol.IBackendServerMessage b => b.Key,
        _ => null,
    };
}
