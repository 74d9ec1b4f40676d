using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// Issue 13: a node that drains hands its module totals to another member, which reports them with its own, so the
/// cluster's figures survive drains and rolling restarts.
/// </summary>
public sealed class FlowHandOverTests
{
    private static FlowRegistry Busy(string module, int connections)
    {
        var flows = new FlowRegistry();
        var row = flows.For(module, "10.0.0.1", 443);
        for (var i = 0; i < connections; i++)
        {
            row.Accept();
            row.HandshakeCompleted(resumed: i % 2 == 0);
            row.Closed(handshakeDone: true, 100, 200);
            row.Outcome(i % 3 == 0 ? ProxyError.ClientReset : ProxyError.None);
        }
        row.Accept(); // one still open
        return flows;
    }

    [Fact]
    public void HandOver_ThenInherit_HeirReportsBothTotalsAndTheLeaverReportsNothing()
    {
        var leaver = Busy("m", 10);
        var heir = Busy("m", 4);

        foreach (var (module, row) in leaver.HandOver()) heir.Inherit(module, row);

        Assert.Empty(leaver.RowsOf("m"));
        var rows = heir.RowsOf("m");
        Assert.Equal(2, rows.Count);
        var sum = rows.Aggregate((a, b) => a.Plus(b));
        Assert.Equal(16, sum.Accepted);
        Assert.Equal(14, sum.HandshakesCompleted);
        Assert.Equal(7, sum.Resumed);
        Assert.Equal(4 + 2, sum.Total(StatNames.Ended(ProxyError.ClientReset)));
        // The leaver's open connection is not the heir's: only the heir's own gauge stays.
        Assert.Equal(1, sum.TcpProxyFlows);
        // The heir's own metrics are its own.
        Assert.Equal(5, heir.ModuleRows().Single().Counters.Accepted);
    }

    [Fact]
    public void HandOver_ClearTextRuleRows_GoUnderTheRulesKeyAndTheHeirReportsThemForIt()
    {
        var leaver = new FlowRegistry();
        var rule = leaver.ForRule("o/plain", "127.0.0.1", 80);
        for (var i = 0; i < 6; i++)
        {
            rule.Accept();
            rule.Closed(handshakeDone: false, 50, 700);
        }
        rule.Accept(); // one still open
        var key = FlowRegistry.RuleKey("o/plain");
        Assert.Equal(7, Assert.Single(leaver.RowsOf(key)).Accepted);
        // A module may be called o/plain too: its rows are never the rule's.
        Assert.Empty(leaver.RowsOf("o/plain"));
        var heir = Busy("m", 1);

        heir.InheritFrom("leaver", 5, leaver.HandOver());

        Assert.Empty(leaver.RowsOf(key));
        Assert.Equal([new RetiredNode("leaver", 5)], heir.ReportOf(key).Retired);
        var inherited = Assert.Single(heir.RowsOf(key));
        Assert.Equal((7L, 300L, 4_200L, 0L), (inherited.Accepted, inherited.BytesFromClients, inherited.BytesToClients, inherited.TcpProxyFlows));
        Assert.Equal(2, heir.RowsOf("m").Single().Accepted);
        // The heir's metrics list its own rules only.
        Assert.Empty(heir.RuleRows());
    }

    [Fact]
    public void Inherit_TwoLeaversOfOneRow_AddsThemInOneRow()
    {
        var heir = new FlowRegistry();
        foreach (var leaver in new[] { Busy("m", 3), Busy("m", 5) })
            foreach (var (module, row) in leaver.HandOver()) heir.Inherit(module, row);

        var inherited = Assert.Single(heir.RowsOf("m"));
        Assert.Equal(10, inherited.Accepted);
        Assert.Equal(0, inherited.TcpProxyFlows);
    }

    [Theory]
    [InlineData("tcp", 0, 8, 2)]
    [InlineData("ssl", 9, 0, 3)]
    [InlineData(null, 0, 0, 0)]
    public void Clear_Category_ClearsInheritedTotalsLikeLiveOnes(string? category, long accepted, long handshakes, long resets)
    {
        var heir = new FlowRegistry();
        foreach (var (module, row) in Busy("m", 8).HandOver()) heir.Inherit(module, row);

        heir.Clear(category: category);

        var inherited = Assert.Single(heir.RowsOf("m"));
        Assert.Equal(accepted, inherited.Accepted);
        Assert.Equal(handshakes, inherited.HandshakesCompleted);
        // ClientReset is a tcp outcome: cleared by tcp and by all, kept by ssl.
        Assert.Equal(category == "ssl" ? resets : 0, inherited.Total(StatNames.Ended(ProxyError.ClientReset)));
    }

    [Fact]
    public void Clear_OtherModule_LeavesInheritedTotalsOfThisOne()
    {
        var heir = new FlowRegistry();
        foreach (var (module, row) in Busy("m", 2).HandOver()) heir.Inherit(module, row);

        heir.Clear(module: "other");

        Assert.Equal(3, Assert.Single(heir.RowsOf("m")).Accepted);
    }

    [Fact]
    public void RecordRetired_ManyLeavers_NamesTheLastSixteen()
    {
        var heir = new FlowRegistry();

        for (var i = 0; i < 20; i++) heir.RecordRetired($"node-{i}", i);

        Assert.Equal(16, heir.Retired.Count);
        Assert.Equal(new RetiredNode("node-19", 19), heir.Retired[^1]);
        Assert.DoesNotContain(new RetiredNode("node-3", 3), heir.Retired);
    }

    [Fact]
    public void RecordRetired_ForOneModule_NamedInThatModulesReportsOnly()
    {
        var heir = Busy("m", 1);
        heir.RecordRetired("akka.tcp://sslcluster@127.0.0.9:1", 7, "m");
        heir.RecordRetired("akka.tcp://sslcluster@127.0.0.8:1", 3);

        // A member that died gave m's totals here (the module's entity asked): only m's reports name it, so that n's
        // entity keeps that member's last n report until someone takes it too.
        Assert.Equal([new RetiredNode("akka.tcp://sslcluster@127.0.0.8:1", 3), new RetiredNode("akka.tcp://sslcluster@127.0.0.9:1", 7)], heir.RetiredFor("m"));
        Assert.Equal([new RetiredNode("akka.tcp://sslcluster@127.0.0.8:1", 3)], heir.RetiredFor("n"));
        Assert.Equal([new RetiredNode("akka.tcp://sslcluster@127.0.0.8:1", 3)], heir.Retired);
    }

    [Fact]
    public void Adopt_InParts_NamesTheMemberWithTheLastPartAndReportsItsRowsWithIt()
    {
        var heir = Busy("m", 2);
        const string Dead = "akka.tcp://sslcluster@127.0.0.9:1";

        heir.Adopt("m", [new FlowRow("10.0.0.1", 443, 3, 3, 0, Accepted: 40)], Dead, 7, last: false);
        var (rows, retired) = heir.ReportOf("m");
        Assert.Empty(retired);
        Assert.Equal(43, rows.Aggregate((a, b) => a.Plus(b)).Accepted);

        heir.Adopt("m", [new FlowRow("10.0.0.2", 443, 0, 0, 0, Accepted: 5)], Dead, 7, last: true);
        (rows, retired) = heir.ReportOf("m");
        Assert.Equal([new RetiredNode(Dead, 7)], retired);
        var sum = rows.Aggregate((a, b) => a.Plus(b));
        // The dead member's open flows are not taken: only this node's one open connection is.
        Assert.Equal((48L, 1L), (sum.Accepted, sum.TcpProxyFlows));
        Assert.Empty(heir.ReportOf("n").Retired);
    }
}
