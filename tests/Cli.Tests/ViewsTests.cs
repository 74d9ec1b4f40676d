using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Cli.Tests;

/// <summary>What sslctl prints for each read command: Spectre.Console tables, bordered on a terminal, plain in a pipe.</summary>
public sealed class ViewsTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Flows_Pipe_LooksLikeTheReferenceTable()
    {
        var text = Views.Flows([
            new ModuleFlows("ssl3", 3, [new FlowRow("172.18.87.100", 443, 10, 1, 0)]),
            new ModuleFlows("ssl2", 2, [new FlowRow("172.18.87.100", 443, 11, 0, 0), new FlowRow("10.10.20.111", 85, 2, 2, 0)]),
        ], terminal: false);

        var lines = text.Split('\n');
        Assert.Equal("SSL Acceleration Flows for slot 2 (module ssl2)", lines[0]);
        Assert.Equal("", lines[1]);
        Assert.Equal("Virtual        Port  TCP Proxy Flows  Active SSL Flows  SSL Flows in Handshake", lines[2]);
        Assert.Equal("10.10.20.111     85                2                 2                       0", lines[3]);
        Assert.Equal("172.18.87.100   443               11                 0                       0", lines[4]);
        Assert.Equal("", lines[5]);
        Assert.Equal("SSL Acceleration Flows for slot 3 (module ssl3)", lines[6]);
        Assert.DoesNotContain(text.Split('\n'), l => l != l.TrimEnd());
    }

    [Fact]
    public void Flows_Terminal_DrawsBordersAroundTheSameCells()
    {
        var text = Views.Flows([new ModuleFlows("ssl2", 2, [new FlowRow("10.10.20.111", 85, 2, 2, 0)])], terminal: true);

        Assert.Contains("╭", text, StringComparison.Ordinal);
        Assert.Contains("SSL Acceleration Flows for slot 2 (module ssl2)", text, StringComparison.Ordinal);
        Assert.Matches(@"│ 10\.10\.20\.111 │\s+85 │", text);
    }

    [Fact]
    public void Flows_ClearTextRules_TheirTablesComeAfterTheModulesUntouched()
    {
        ModuleFlows[] modules = [new("ssl2", 2, [new FlowRow("10.10.20.111", 85, 2, 2, 0)])];
        var alone = Views.Flows(modules, terminal: false);

        var text = Views.Flows(modules, terminal: false,
            [new ModuleFlows("o/plain", null, [new FlowRow("10.10.20.111", 80, 3, 0, 0, Accepted: 1_200, BytesFromClients: 2048, BytesToClients: 5 * 1024 * 1024)])]);

        Assert.StartsWith(alone, text, StringComparison.Ordinal);
        var lines = text[alone.Length..].Split('\n');
        Assert.Equal("Clear-text Flows for content rule o/plain", lines[0]);
        Assert.Matches(@"^Virtual\s+Port\s+Open Flows\s+Accepted\s+From Clients\s+To Clients$", lines[2]);
        Assert.Matches(@"^10\.10\.20\.111\s+80\s+3\s+1200\s+2\.0 KiB\s+5\.0 MiB$", lines[3]);
    }

    [Fact]
    public void Flows_OnlyClearTextRules_SaysNoModuleThenTheirTables() =>
        Assert.StartsWith("No SSL modules are configured.\n\nClear-text Flows for content rule o/plain\n",
            Views.Flows([], terminal: false, [new ModuleFlows("o/plain", null, [new FlowRow("v", 80, 0, 0, 0)])]), StringComparison.Ordinal);

    [Fact]
    public void Flows_NoModule_SaysSo() =>
        Assert.Equal("No SSL modules are configured.\n", Views.Flows([], terminal: false));

    [Fact]
    public void Render_CellWithMarkupCharacters_PrintedAsIs()
    {
        var text = Tables.Render([new Column("Name")], [["[red]x[/] 100%"]], terminal: true);

        Assert.Contains("[red]x[/] 100%", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_PipeWithLongCells_NeverWraps()
    {
        var wide = new string('a', 300);
        var text = Tables.Render([new Column("A"), new Column("B")], [[wide, "b"]], terminal: false);

        Assert.Equal(["A" + new string(' ', 301) + "B", wide + "  b", ""], text.Split('\n'));
    }

    [Fact]
    public void Sessions_WithKeys_CountsAndOneLinePerKeyCurrentMarked()
    {
        var text = Views.Sessions(new SessionCacheResponse(12, 20000, true, 5, 7, 1, true, 4, 3, 2,
        [
            new TicketKeyInfo("aa11", At.AddHours(1), At.AddHours(3), At.AddHours(23), true),
            new TicketKeyInfo("bb22", At, At.AddHours(2), At.AddHours(22), false),
        ]), terminal: false);

        Assert.Contains("TLS 1.2 sessions on this node: 12 of 20000 (shared: every node", text, StringComparison.Ordinal);
        Assert.Contains("created here: 5   taken from other nodes: 7   refused copies: 1", text, StringComparison.Ordinal);
        Assert.Contains("issued here: 4   opened here: 3   refused: 2", text, StringComparison.Ordinal);
        Assert.Matches(@"aa11\s+2026-11-23 13:00:00\s+2026-11-23 15:00:00\s+2026-11-24 11:00:00\s+current\n", text);
        Assert.Matches(@"bb22\s+2026-11-23 12:00:00\s+2026-11-23 14:00:00\s+2026-11-24 10:00:00\n", text);
    }

    [Fact]
    public void Sessions_TicketsOff_SaysWhichSetting()
    {
        var text = Views.Sessions(new SessionCacheResponse(0, 100, false, 0, 0, 0, false, 0, 0, 0, []), terminal: false);

        Assert.Contains("Session tickets: off (sslcluster.tls.session-tickets)", text, StringComparison.Ordinal);
        Assert.Contains("(kept on this node: remoting runs without TLS", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Sessions_NoKeyYet_SaysNoTicketsAreOffered() =>
        Assert.Contains("no ticket key yet", Views.Sessions(new SessionCacheResponse(0, 100, false, 0, 0, 0, true, 0, 0, 0, []), terminal: false), StringComparison.Ordinal);

    [Fact]
    public void Connections_TwoNodes_OldestFirstWithBytesBackEndAndNode()
    {
        var answer = new ConnectionsResponse(
        [
            new NodeConnectionRows("akka.tcp://sslcluster@127.0.0.1:4101", 1,
                [new ConnectionRow("ssl2", 7, "127.0.0.9:50000", "Relaying", 3725) { Vip = "127.0.0.1:443", Backend = "127.0.0.20:80", BytesFromClient = 1536, BytesToClient = 5 * 1024 * 1024 }]),
            new NodeConnectionRows("akka.tcp://sslcluster@127.0.0.1:4102", 3,
                [new ConnectionRow("o/plain", 8, "[::1]:50001", "Handshake", 2.2) { Vip = "127.0.0.1:80" }]),
        ], ["akka.tcp://sslcluster@127.0.0.1:4103"]);

        var lines = Views.Connections(answer, terminal: false).Split('\n');

        Assert.Equal("4 open connection(s) on 2 node(s), the oldest 2 shown (each node lists its oldest 1,000: filter by module, client or node, or raise the limit, for the rest)", lines[0]);
        Assert.Equal("%% akka.tcp://sslcluster@127.0.0.1:4103 did not answer in time", lines[1]);
        Assert.Matches(@"^Node\s+Client\s+VIP\s+Module or rule\s+Phase\s+From client\s+To client\s+Age\s+Back end\s+Revision$", lines[2]);
        // The node as the node filter takes it.
        Assert.Matches(@"^akka\.tcp://sslcluster@127\.0\.0\.1:4101\s+127\.0\.0\.9:50000\s+127\.0\.0\.1:443\s+ssl2\s+Relaying\s+1\.5 KiB\s+5\.0 MiB\s+1h02m\s+127\.0\.0\.20:80\s+7$", lines[3]);
        Assert.Matches(@"^akka\.tcp://sslcluster@127\.0\.0\.1:4102\s+\[::1\]:50001\s+127\.0\.0\.1:80\s+o/plain\s+Handshake\s+0 B\s+0 B\s+2\.2s\s+-\s+8$", lines[4]);
    }

    [Fact]
    public void Connections_CutAtALimitNamed_SaysThatLimit()
    {
        var answer = new ConnectionsResponse([new NodeConnectionRows("a", 25_000, [new ConnectionRow("ssl2", 7, "127.0.0.9:50000", "Relaying", 3)])], [])
        {
            Limit = 20_000,
        };

        Assert.StartsWith("25000 open connection(s) on 1 node(s), the oldest 1 shown (each node lists its oldest 20,000:", Views.Connections(answer, terminal: false), StringComparison.Ordinal);
    }

    [Fact]
    public void Connections_None_SaysHowManyNodesAnswered() =>
        Assert.Equal("0 open connection(s) on 3 node(s)\n", Views.Connections(new ConnectionsResponse(
            [new("a", 0, []), new("b", 0, []), new("c", 0, [])], []), terminal: false));

    [Fact]
    public void ShardStats_Shards_SortedByNodeThenShardWithTotals()
    {
        var text = Views.ShardStats(new ShardStatsResponse("ssl-module",
            [new ShardInfo("7", "akka.tcp://s@127.0.0.1:2", 1), new ShardInfo("12", "akka.tcp://s@127.0.0.1:1", 2), new ShardInfo("3", "akka.tcp://s@127.0.0.1:1", 1)], []),
            terminal: false);

        var lines = text.Split('\n');
        Assert.Equal("ssl-module: 3 shard(s), 4 entities", lines[0]);
        Assert.Matches(@"^12\s+akka\.tcp://s@127\.0\.0\.1:1\s+2$", lines[2]);
        Assert.Matches(@"^3\s+akka\.tcp://s@127\.0\.0\.1:1\s+1$", lines[3]);
        Assert.Matches(@"^7\s+akka\.tcp://s@127\.0\.0\.1:2\s+1$", lines[4]);
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(3L * 1024 * 1024 * 1024, "3.0 GiB")]
    public void Bytes_Amount_ReadableUnit(long bytes, string expected) => Assert.Equal(expected, Tables.Bytes(bytes));

    [Theory]
    [InlineData(4.24, "4.2s")]
    [InlineData(185, "3m05s")]
    [InlineData(7620, "2h07m")]
    [InlineData(273600, "3d04h")]
    public void Age_Seconds_ReadableUnit(double seconds, string expected) => Assert.Equal(expected, Tables.Age(seconds));
}
