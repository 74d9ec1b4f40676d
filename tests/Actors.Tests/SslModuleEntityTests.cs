using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Microsoft.Extensions.Time.Testing;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Modules;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>
/// A module entity gives the totals of a member that was downed (it died: no drain, no hand-over) to a node that
/// reports, so that the cluster's figures keep them whatever happens to the entity later.
/// </summary>
public sealed class SslModuleEntityTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Stands at /user/node-stats, where the entity finds a reporter's node: what reaches it goes to the probe.</summary>
    private sealed class Forward : ReceiveActor
    {
        public Forward(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    private (IActorRef Entity, Akka.TestKit.TestProbe NodeStats) Start(HashSet<(string, long)> downed)
    {
        var entity = Sys.ActorOf(SslModuleEntity.Props("m", _time, (node, uid) => downed.Contains((node, uid))));
        var nodeStats = CreateTestProbe();
        Sys.ActorOf(Props.Create(() => new Forward(nodeStats.Ref)), NodeStatsActor.Name);
        return (entity, nodeStats);
    }

    /// <summary>The module's figures, once every message sent to it before has been handled (its mailbox is in order).</summary>
    private static Task<ModuleProtocol.CurrentModuleFlows> CurrentAsync(IActorRef entity) =>
        entity.Ask<ModuleProtocol.CurrentModuleFlows>(new ModuleProtocol.GetModuleFlows("m"), TimeSpan.FromSeconds(5));

    private static ModuleProtocol.ReportFlows Report(string node, long uid, long accepted, params RetiredNode[] retired) =>
        new("m", node, [new FlowRow("v", 443, 1, 1, 0, Accepted: accepted, BytesToClients: 10 * accepted)], uid, retired.Length > 0 ? retired : null);

    [Fact]
    public async Task ReportFlows_AMemberDownedAfterItsLastReport_ItsTotalsGoToTheNextReportersNodeOnce()
    {
        var downed = new HashSet<(string, long)>();
        var (entity, nodeStats) = Start(downed);
        entity.Tell(Report("b", 7, 40));
        entity.Tell(Report("a", 3, 10));
        await CurrentAsync(entity);

        // b dies: it stops reporting and is downed. a goes on reporting.
        downed.Add(("b", 7));
        _time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));
        entity.Tell(Report("a", 3, 11));

        var adopt = nodeStats.ExpectMsg<NodeStatsProtocol.AdoptFlows>();
        Assert.Equal(("b", 7L, "m", true), (adopt.From, adopt.FromUid, adopt.Module, adopt.Last));
        var row = Assert.Single(adopt.Rows);
        // Totals only: b's open flows ended with it.
        Assert.Equal((40L, 400L, 0L, 0L), (row.Accepted, row.BytesToClients, row.TcpProxyFlows, row.ActiveSslFlows));

        // Meanwhile (and until the heir names b retired) the module still counts b's totals, not its open flows.
        var current = await CurrentAsync(entity);
        Assert.Equal(["a"], current.Nodes);
        Assert.Equal((51L, 1L), (Assert.Single(current.Rows).Accepted, current.Rows[0].TcpProxyFlows));

        // Taken: never offered again, however late the heir's report.
        nodeStats.Reply(new NodeStatsProtocol.FlowsInherited("a", 1));
        // The answer reaches the entity through its ask's continuation, a moment after the reply.
        await Task.Delay(300);
        await CurrentAsync(entity);
        _time.Advance(SslModuleState.Stale * 3);
        entity.Tell(Report("a", 3, 12));
        await CurrentAsync(entity);
        nodeStats.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // The heir's report carries them and names b retired: they count once.
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 1, 1, 0, Accepted: 12), new FlowRow("v", 443, 0, 0, 0, Accepted: 40)], 3,
            [new RetiredNode("b", 7)]));
        Assert.Equal(52, Assert.Single((await CurrentAsync(entity)).Rows).Accepted);
    }

    [Fact]
    public async Task ClearModuleFlows_BetweenACrashAndTheHandOver_TheHeirGetsTheClearedTotals()
    {
        var downed = new HashSet<(string, long)>();
        var (entity, nodeStats) = Start(downed);
        entity.Tell(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 443, 1, 1, 0, Accepted: 40, HandshakesCompleted: 30, BytesToClients: 400)], 7));
        entity.Tell(Report("a", 3, 10));
        await CurrentAsync(entity);
        // b dies and is downed; before a reports again, an operator clears the ssl counters, then all of them.
        downed.Add(("b", 7));
        _time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));

        var ssl = await entity.Ask<ModuleProtocol.ModuleFlowsCleared>(new ModuleProtocol.ClearModuleFlows("m", "ssl"), TimeSpan.FromSeconds(5));
        Assert.Equal(new ModuleProtocol.ModuleFlowsCleared("m", 2), ssl);
        var row = Assert.Single((await CurrentAsync(entity)).Rows);
        Assert.Equal((50L, 0L), (row.Accepted, row.HandshakesCompleted));

        await entity.Ask<ModuleProtocol.ModuleFlowsCleared>(new ModuleProtocol.ClearModuleFlows("m", null), TimeSpan.FromSeconds(5));
        entity.Tell(Report("a", 3, 2));

        var adopt = nodeStats.ExpectMsg<NodeStatsProtocol.AdoptFlows>();
        Assert.Equal(("b", 7L), (adopt.From, adopt.FromUid));
        var inherited = Assert.Single(adopt.Rows);
        Assert.Equal((0L, 0L, 0L), (inherited.Accepted, inherited.BytesToClients, inherited.HandshakesCompleted));
        // What the module shows is what a counted since the clear.
        Assert.Equal(2, Assert.Single((await CurrentAsync(entity)).Rows).Accepted);
    }

    [Fact]
    public async Task ReportFlows_TheNodeAskedRefuses_TheNextReportOffersThemAgain()
    {
        var downed = new HashSet<(string, long)> { ("b", 7) };
        var (entity, nodeStats) = Start(downed);
        entity.Tell(Report("b", 7, 40));
        await CurrentAsync(entity);
        _time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));

        entity.Tell(Report("a", 3, 10));
        nodeStats.ExpectMsg<NodeStatsProtocol.AdoptFlows>();
        // a is leaving itself.
        nodeStats.Reply(new Status.Failure(new InvalidOperationException("a is leaving")));
        await Task.Delay(300);
        await CurrentAsync(entity);

        entity.Tell(Report("c", 5, 1));
        var again = nodeStats.ExpectMsg<NodeStatsProtocol.AdoptFlows>();
        Assert.Equal(("b", 7L), (again.From, again.FromUid));
    }

    [Fact]
    public async Task ReportFlows_AMemberThatLeftOrPausedNotDowned_ItsTotalsStayWithItsReport()
    {
        var (entity, nodeStats) = Start([]);

        entity.Tell(Report("b", 7, 40));
        await CurrentAsync(entity);
        _time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));
        entity.Tell(Report("a", 3, 10));
        var current = await CurrentAsync(entity);

        // A drained member hands its totals over itself; one that only paused comes back: neither is given away.
        nodeStats.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal(50, Assert.Single(current.Rows).Accepted);
        Assert.Equal(["a"], current.Nodes);
    }
}
