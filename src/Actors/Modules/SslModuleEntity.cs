using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using SslCluster.Protocol.Runtime;
using static SslCluster.Actors.Modules.ModuleProtocol;

namespace SslCluster.Actors.Modules;

/// <summary>
/// The pure state of a module entity: the last counters each node reported, and their sum. A node that stops
/// reporting (it left, or died) drops out after <see cref="Stale"/> so that its flows are not counted forever.
/// </summary>
public sealed record SslModuleState(ImmutableDictionary<string, (DateTimeOffset At, long Uid, IReadOnlyList<FlowRow> Rows)> Reports)
{
    public static SslModuleState Empty { get; } = new(ImmutableDictionary<string, (DateTimeOffset, long, IReadOnlyList<FlowRow>)>.Empty);

    public static TimeSpan Stale { get; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Keeps the report; drops the last report of every member the reporter names as retired (same address and
    /// incarnation: a node started again at that address reports under a new one and stays), because the reporter now
    /// counts that member's totals.
    /// </summary>
    public SslModuleState Apply(ReportFlows report, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        var reports = Reports.SetItem(report.Node, (now, report.Uid, report.Rows));
        foreach (var retired in report.Retired ?? [])
        {
            if (reports.TryGetValue(retired.Node, out var held) && held.Uid == retired.Uid) reports = reports.Remove(retired.Node);
        }
        return new(reports);
    }

    public CurrentModuleFlows Current(string module, DateTimeOffset now)
    {
        var live = Reports.Where(r => now - r.Value.At <= Stale).ToList();
        var rows = live.SelectMany(r => r.Value.Rows)
            .GroupBy(r => (r.Virtual, r.Port, r.ServerLeg))
            .Select(g => g.Aggregate((a, b) => a.Plus(b)))
            .ToList();
        return new CurrentModuleFlows(module, rows, live.Select(r => r.Key).Order(StringComparer.Ordinal).ToList());
    }
}

/// <summary>
/// The sharded entity of one virtual SSL module: a logical unit of the whole cluster, like a slot of the chassis.
/// Its agents on every node run the module's connections and report here; the entity answers for the module.
/// Its configuration (weight, state, proxy list) lives in the configuration store's journal, so the entity itself
/// holds only live state and can move between nodes freely (rebalance, drain) without touching a connection.
/// </summary>
public sealed class SslModuleEntity : ReceiveActor
{
    public const string TypeName = "ssl-module";

    private SslModuleState _state = SslModuleState.Empty;

    public SslModuleEntity(string module, TimeProvider time)
    {
        Receive<ReportFlows>(r => _state = _state.Apply(r, time.GetUtcNow()));
        Receive<GetModuleFlows>(_ => Sender.Tell(_state.Current(module, time.GetUtcNow())));
    }

    public static Props Props(string module, TimeProvider time) => Akka.Actor.Props.Create(() => new SslModuleEntity(module, time));
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
