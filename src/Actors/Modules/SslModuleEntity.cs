using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using SslCluster.Protocol.Runtime;
using static SslCluster.Actors.Modules.ModuleProtocol;

namespace SslCluster.Actors.Modules;

/// <summary>
/// One node incarnation's last report to a module: when it came, its rows, and when its totals were last offered to a
/// live node (<see cref="DateTimeOffset.MaxValue"/> once one took them).
/// </summary>
public sealed record NodeReport(DateTimeOffset At, IReadOnlyList<FlowRow> Rows, DateTimeOffset? OfferedAt = null);

/// <summary>
/// The pure state of a module entity: the last counters each node incarnation reported, and their sum. A node that
/// stops reporting (it paused, left or died) is no longer counted as serving after <see cref="Stale"/>, and its open
/// flows drop out of the sum; its totals stay, since they counted real traffic. A drained node hands its totals to
/// another member itself; one that was downed (it died) cannot, so its totals are given to a node that reports
/// (<see cref="Orphans"/>), which counts them from then on and names it retired, so that they outlive it.
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

    private static bool Live(NodeReport report, DateTimeOffset now) => now - report.At <= Stale;

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
    /// The last reports of incarnations that stopped reporting and were downed (<paramref name="downed"/>: they died,
    /// so they handed nothing over), neither taken by a live node nor offered to one within <see cref="Stale"/>:
    /// their totals are to be given to one.
    /// </summary>
    public IReadOnlyList<((string Node, long Uid) Key, NodeReport Report)> Orphans(DateTimeOffset now, Func<string, long, bool> downed)
    {
        ArgumentNullException.ThrowIfNull(downed);
        return [.. Reports.Where(r => !Live(r.Value, now) && (r.Value.OfferedAt is not { } offered || (offered != DateTimeOffset.MaxValue && now - offered > Stale))
                && downed(r.Key.Node, r.Key.Uid))
            .Select(r => (r.Key, r.Value))];
    }

    /// <summary>
    /// The totals of <paramref name="category"/> (one of <see cref="SslProxyStats.ClearCategories"/>, or null for all) back
    /// to zero in every report no live node has taken: a live node's next report says the same (it cleared its own
    /// counters), and a crashed member's report is what its heir will count. An offer already on its way is not caught.
    /// </summary>
    public (SslModuleState State, int Reports) Cleared(string? category)
    {
        var held = Reports.Where(r => r.Value.OfferedAt != DateTimeOffset.MaxValue).ToList();
        var reports = Reports.SetItems(held.Select(r => KeyValuePair.Create(r.Key, r.Value with { Rows = [.. r.Value.Rows.Select(row => row.Cleared(category))] })));
        return (new(reports), held.Count);
    }

    /// <summary>Notes that <paramref name="key"/>'s totals were offered to a live node at <paramref name="now"/>.</summary>
    public SslModuleState Offered((string Node, long Uid) key, DateTimeOffset now) => With(key, now);

    /// <summary>A live node took <paramref name="key"/>'s totals: they are not offered again (its next report names the member retired).</summary>
    public SslModuleState Taken((string Node, long Uid) key) => With(key, DateTimeOffset.MaxValue);

    /// <summary>The node offered <paramref name="key"/>'s totals refused them (or did not answer): they go to the next node that reports.</summary>
    public SslModuleState Refused((string Node, long Uid) key) => With(key, null);

    private SslModuleState With((string Node, long Uid) key, DateTimeOffset? offeredAt) =>
        Reports.TryGetValue(key, out var report) && report.OfferedAt != DateTimeOffset.MaxValue ? new(Reports.SetItem(key, report with { OfferedAt = offeredAt })) : this;
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

    /// <summary>An offer of one incarnation's totals ended: taken by the node asked, or not.</summary>
    private sealed record OfferEnded((string Node, long Uid) Key, bool Taken);

    private static readonly TimeSpan OfferTimeout = TimeSpan.FromSeconds(10);

    private SslModuleState _state = SslModuleState.Empty;

    /// <summary>Incarnations this entity saw downed (from the cluster's member events).</summary>
    private readonly HashSet<(string Node, long Uid)> _downed = [];

    private readonly bool _inCluster;

    /// <param name="downed">Whether a node incarnation was downed; the cluster's member events when null.</param>
    public SslModuleEntity(string module, TimeProvider time, Func<string, long, bool>? downed = null)
    {
        _inCluster = downed is null && ((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.IClusterActorRefProvider;
        var isDowned = downed ?? ((node, uid) => _downed.Contains((node, uid)));
        Receive<ReportFlows>(r =>
        {
            var now = time.GetUtcNow();
            _state = _state.Apply(r, now);
            foreach (var (key, report) in _state.Orphans(now, isDowned))
            {
                Offer(module, key, report.Rows, Sender);
                _state = _state.Offered(key, now);
            }
        });
        Receive<OfferEnded>(e => _state = e.Taken ? _state.Taken(e.Key) : _state.Refused(e.Key));
        Receive<GetModuleFlows>(_ => Sender.Tell(_state.Current(module, time.GetUtcNow())));
        Receive<ClearModuleFlows>(c =>
        {
            (_state, var reports) = _state.Cleared(c.Category);
            Sender.Tell(new ModuleFlowsCleared(module, reports));
        });
        Receive<Akka.Cluster.ClusterEvent.MemberDowned>(e => _downed.Add((e.Member.Address.ToString(), e.Member.UniqueAddress.Uid)));
        Receive<Akka.Cluster.ClusterEvent.MemberRemoved>(e =>
        {
            if (e.PreviousStatus == Akka.Cluster.MemberStatus.Down) _downed.Add((e.Member.Address.ToString(), e.Member.UniqueAddress.Uid));
        });
        Receive<Akka.Cluster.ClusterEvent.IMemberEvent>(_ => { });
    }

    /// <summary>
    /// Gives one incarnation's totals to the node of <paramref name="reporter"/> (its node-stats actor), part by part;
    /// the outcome comes back as <see cref="OfferEnded"/>. A node leaving itself refuses, and so does one of a version
    /// that does not know the message (it cannot read it): then the next reporter is asked.
    /// </summary>
    private void Offer(string module, (string Node, long Uid) key, IReadOnlyList<FlowRow> rows, IActorRef reporter)
    {
        var heir = Context.ActorSelection(reporter.Path.Root / "user" / Dispatch.NodeStatsActor.Name);
        var parts = Dispatch.NodeStatsProtocol.Parts(rows.Select(row => row.Retired())).ToList();
        if (parts.Count == 0) parts.Add([]);
        async Task<bool> SendAsync()
        {
            for (var i = 0; i < parts.Count; i++)
            {
                await heir.Ask<Dispatch.NodeStatsProtocol.FlowsInherited>(
                    new Dispatch.NodeStatsProtocol.AdoptFlows(key.Node, key.Uid, module, parts[i], i == parts.Count - 1), OfferTimeout);
            }

            return true;
        }

        SendAsync().ContinueWith(t => new OfferEnded(key, t.IsCompletedSuccessfully), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).PipeTo(Self);
    }

    protected override void PreStart()
    {
        if (_inCluster)
        {
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, Akka.Cluster.ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(Akka.Cluster.ClusterEvent.MemberDowned), typeof(Akka.Cluster.ClusterEvent.MemberRemoved));
        }
    }

    protected override void PostStop()
    {
        if (_inCluster) Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }

    public static Props Props(string module, TimeProvider time, Func<string, long, bool>? downed = null) =>
        Akka.Actor.Props.Create(() => new SslModuleEntity(module, time, downed));
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
