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
/// A module entity gives the totals of a member that died (no drain, no hand-over) to a node that reports, so that the
/// cluster's figures keep them whatever happens to the entity later.
/// </summary>
public sealed class SslModuleEntityTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    /// <summary>Stands at /user/node-stats, where the entity finds a reporter's node: what reaches it goes to the probe.</summary>
    private sealed class Forward : ReceiveActor
    {
        public Forward(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    /// <summary>The module's figures, once every message sent to it before has been handled (its mailbox is in order).</summary>
    private static Task<ModuleProtocol.CurrentModuleFlows> CurrentAsync(IActorRef entity) =>
        entity.Ask<ModuleProtocol.CurrentModuleFlows>(new ModuleProtocol.GetModuleFlows("m"), TimeSpan.FromSeconds(5));

    [Fact]
    public async Task ReportFlows_AMemberDiedAfterItsLastReport_ItsTotalsGoToTheNextReportersNode()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
        var members = new HashSet<(string, long)> { ("a", 3), ("b", 7) };
        var entity = Sys.ActorOf(SslModuleEntity.Props("m", time, (node, uid) => members.Contains((node, uid))));
        var nodeStats = CreateTestProbe();
        Sys.ActorOf(Props.Create(() => new Forward(nodeStats.Ref)), NodeStatsActor.Name);
        var reporter = CreateTestProbe();

        entity.Tell(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 443, 2, 2, 0, Accepted: 40, BytesToClients: 900)], 7), reporter.Ref);
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 1, 1, 0, Accepted: 10)], 3), reporter.Ref);

        await CurrentAsync(entity);

        // b dies: it stops reporting and is removed from the cluster. a goes on reporting.
        members.Remove(("b", 7));
        time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 1, 1, 0, Accepted: 11)], 3), reporter.Ref);

        var inherit = nodeStats.ExpectMsg<NodeStatsProtocol.InheritFlows>();
        Assert.Equal(("b", 7L, "m"), (inherit.From, inherit.FromUid, inherit.Module));
        var row = Assert.Single(inherit.Rows);
        Assert.Equal("m", row.Module);
        // Totals only: b's open flows ended with it.
        Assert.Equal((40L, 900L, 0L, 0L), (row.Row.Accepted, row.Row.BytesToClients, row.Row.TcpProxyFlows, row.Row.ActiveSslFlows));

        // Meanwhile (and until the heir names b retired) the module still counts b's totals, not its open flows.
        var current = await CurrentAsync(entity);
        Assert.Equal(["a"], current.Nodes);
        Assert.Equal((51L, 1L), (Assert.Single(current.Rows).Accepted, current.Rows[0].TcpProxyFlows));

        // Offered once: the next reports within Stale offer nothing more.
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 1, 1, 0, Accepted: 12)], 3), reporter.Ref);
        nodeStats.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        // The heir took them: its report carries them and names b retired for m; they count once.
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 1, 1, 0, Accepted: 12), new FlowRow("v", 443, 0, 0, 0, Accepted: 40)], 3,
            [new RetiredNode("b", 7)]), reporter.Ref);
        await CurrentAsync(entity);
        time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 1, 1, 0, Accepted: 12), new FlowRow("v", 443, 0, 0, 0, Accepted: 40)], 3,
            [new RetiredNode("b", 7)]), reporter.Ref);
        nodeStats.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        current = await CurrentAsync(entity);
        Assert.Equal(52, Assert.Single(current.Rows).Accepted);
    }

    [Fact]
    public async Task ReportFlows_AMemberPausedButStillAMember_ItsTotalsStayWithIt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
        var entity = Sys.ActorOf(SslModuleEntity.Props("m", time, (_, _) => true));
        var nodeStats = CreateTestProbe();
        Sys.ActorOf(Props.Create(() => new Forward(nodeStats.Ref)), NodeStatsActor.Name);

        entity.Tell(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 443, 0, 0, 0, Accepted: 40)], 7));
        await CurrentAsync(entity);
        time.Advance(SslModuleState.Stale + TimeSpan.FromSeconds(1));
        entity.Tell(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 443, 0, 0, 0, Accepted: 10)], 3));

        nodeStats.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(50, Assert.Single((await CurrentAsync(entity)).Rows).Accepted);
    }
}
