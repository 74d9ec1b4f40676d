using SslCluster.Actors.Modules;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Actors.Tests;

public sealed class SslModuleStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Current_TwoNodesReport_SumsRowsPerVipAndPort()
    {
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("ssl2", "a", [new FlowRow("10.0.0.1", 443, 5, 4, 1), new FlowRow("10.0.0.2", 443, 1, 1, 0)]), T0)
            .Apply(new ModuleProtocol.ReportFlows("ssl2", "b", [new FlowRow("10.0.0.1", 443, 3, 2, 1)]), T0);

        var current = state.Current("ssl2", T0.AddSeconds(1));

        Assert.Equal(["a", "b"], current.Nodes);
        var row = Assert.Single(current.Rows, r => r.Virtual == "10.0.0.1");
        Assert.Equal((8L, 6L, 2L), (row.TcpProxyFlows, row.ActiveSslFlows, row.InHandshake));
    }

    [Fact]
    public void Cleared_TcpCategory_HeldReportsLoseThoseTotalsATakenOneKeepsThem()
    {
        var row = new FlowRow("v", 1, 2, 2, 0, Accepted: 9, HandshakesCompleted: 7, BytesFromClients: 100);
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [row], 1), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [row], 2), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "c", [row], 3), T0)
            .Taken(("c", 3));

        var (cleared, reports) = state.Cleared("tcp");

        Assert.Equal(2, reports);
        foreach (var key in new[] { ("a", 1L), ("b", 2L) })
        {
            var r = Assert.Single(cleared.Reports[key].Rows);
            // The tcp totals go; the ssl ones and the open flows (running gauges) stay.
            Assert.Equal((0L, 0L, 7L, 2L), (r.Accepted, r.BytesFromClients, r.HandshakesCompleted, r.TcpProxyFlows));
        }
        Assert.Equal(row, Assert.Single(cleared.Reports[("c", 3)].Rows));
    }

    [Fact]
    public void Current_NodeStoppedReporting_IsDroppedAfterStaleTime()
    {
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 5, 5, 0)]), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 1, 1, 1, 0)]), T0 + SslModuleState.Stale);

        var current = state.Current("m", T0 + SslModuleState.Stale + TimeSpan.FromSeconds(1));

        Assert.Equal(["b"], current.Nodes);
        Assert.Equal(1, Assert.Single(current.Rows).TcpProxyFlows);
    }

    [Fact]
    public void Report_LaterReportFromSameNode_ReplacesTheEarlierOne()
    {
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 5, 5, 0)]), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 2, 1, 1)]), T0.AddSeconds(1));

        Assert.Equal(2, Assert.Single(state.Current("m", T0.AddSeconds(2)).Rows).TcpProxyFlows);
    }

    [Fact]
    public void Apply_ReporterInheritedARetiredNode_DropsThatIncarnationsLastReportOnly()
    {
        // Node b (incarnation 7) handed its totals to a; a's report now carries them and names b as retired.
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 1, 0, 0, 0, Accepted: 40)], 7), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 0, 0, 0, Accepted: 10), new FlowRow("v", 1, 0, 0, 0, Accepted: 40)], 3,
                [new Protocol.Runtime.RetiredNode("b", 7)]), T0.AddSeconds(1));

        Assert.Equal(50, Assert.Single(state.Current("m", T0.AddSeconds(1)).Rows).Accepted);

        // b starts again at the same address (incarnation 8): its reports count, though a still names the old b.
        state = state
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 1, 0, 0, 0, Accepted: 2)], 8), T0.AddSeconds(2))
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 0, 0, 0, Accepted: 10), new FlowRow("v", 1, 0, 0, 0, Accepted: 40)], 3,
                [new Protocol.Runtime.RetiredNode("b", 7)]), T0.AddSeconds(3));

        Assert.Equal(52, Assert.Single(state.Current("m", T0.AddSeconds(3)).Rows).Accepted);
    }

    [Fact]
    public void Current_NodeStoppedReporting_KeepsItsTotalsButNotItsOpenFlows()
    {
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 5, 5, 0, Accepted: 40, BytesToClients: 900)], 7), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 1, 1, 1, 0, Accepted: 3)], 2), T0 + SslModuleState.Stale);

        var current = state.Current("m", T0 + SslModuleState.Stale + TimeSpan.FromSeconds(1));

        Assert.Equal(["b"], current.Nodes);
        var row = Assert.Single(current.Rows);
        Assert.Equal((1L, 1L), (row.TcpProxyFlows, row.ActiveSslFlows));
        Assert.Equal((43L, 900L), (row.Accepted, row.BytesToClients));
    }

    [Fact]
    public void Orphans_StaleAndDowned_OfferedAgainOnlyAfterStaleOrARefusalAndNeverOnceTaken()
    {
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "dead", [new FlowRow("v", 1, 2, 2, 0, Accepted: 40)], 7), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "paused", [new FlowRow("v", 1, 0, 0, 0, Accepted: 5)], 8), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "left", [new FlowRow("v", 1, 0, 0, 0, Accepted: 1)], 9), T0);
        // "left" drained and left (it hands its totals over itself); "paused" is still a member; only "dead" was downed.
        bool IsDowned(string node, long uid) => node == "dead";

        // Within Stale nobody is an orphan (a report may be on its way).
        Assert.Empty(state.Orphans(T0 + SslModuleState.Stale, IsDowned));

        var later = T0 + SslModuleState.Stale + TimeSpan.FromSeconds(1);
        var orphan = Assert.Single(state.Orphans(later, IsDowned));
        Assert.Equal(("dead", 7L), orphan.Key);
        Assert.Equal(40, Assert.Single(orphan.Report.Rows).Accepted);

        state = state.Offered(orphan.Key, later);
        Assert.Empty(state.Orphans(later + SslModuleState.Stale, IsDowned));
        Assert.Single(state.Orphans(later + SslModuleState.Stale + TimeSpan.FromSeconds(1), IsDowned));

        // Refused: offered again at once, to the next reporter.
        Assert.Single(state.Refused(orphan.Key).Orphans(later, IsDowned));

        // Taken: never offered again (the taker's next report names it retired), and a late refusal changes nothing.
        var taken = state.Taken(orphan.Key);
        Assert.Empty(taken.Orphans(later + TimeSpan.FromMinutes(10), IsDowned));
        Assert.Empty(taken.Refused(orphan.Key).Orphans(later + TimeSpan.FromMinutes(10), IsDowned));
        Assert.Equal(46, Assert.Single(taken.Current("m", later).Rows).Accepted);
    }

    [Fact]
    public void Apply_NodeDiedAndStartedAgain_BothIncarnationsCountedUntilAnHeirTakesTheOld()
    {
        var state = SslModuleState.Empty
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 1, 0, 0, 0, Accepted: 40)], 7), T0)
            .Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 0, 0, 0, Accepted: 10)], 3), T0)
            // b died and came back at the same address: a new incarnation, starting from zero.
            .Apply(new ModuleProtocol.ReportFlows("m", "b", [new FlowRow("v", 1, 0, 0, 0, Accepted: 2)], 8), T0.AddSeconds(20));
        Assert.Equal(52, Assert.Single(state.Current("m", T0.AddSeconds(20)).Rows).Accepted);

        // a took the old incarnation's totals for m: it reports them with its own and names it retired for m.
        state = state.Apply(new ModuleProtocol.ReportFlows("m", "a", [new FlowRow("v", 1, 0, 0, 0, Accepted: 10), new FlowRow("v", 1, 0, 0, 0, Accepted: 40)], 3,
            [new RetiredNode("b", 7)]), T0.AddSeconds(21));

        var current = state.Current("m", T0.AddSeconds(21));
        Assert.Equal(52, Assert.Single(current.Rows).Accepted);
        Assert.Equal(["a", "b"], current.Nodes);
        Assert.Equal([("a", 3L), ("b", 8L)], state.Reports.Keys.Order());
    }
}
