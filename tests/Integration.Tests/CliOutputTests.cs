using System.Text.Json;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 13: sslctl's Petabridge.Cmd-named palette commands and <c>-o json</c> against a real node: every read command
/// answers as JSON that a script can parse, with the same facts as its table.
/// </summary>
[Collection("nodes")]
public sealed class CliOutputTests
{
    [Fact]
    public async Task ReadCommands_OutputJson_ParseWithTheFactsOfTheTables()
    {
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());

        using var cluster = JsonDocument.Parse(Ok(await node.CtlAsync("-o", "json", "cluster", "show")));
        var self = Assert.Single(cluster.RootElement.GetProperty("members").EnumerateArray());
        Assert.Equal("Up", self.GetProperty("status").GetString());
        Assert.True(self.GetProperty("isSelf").GetBoolean());
        Assert.True(self.GetProperty("serving").GetBoolean());
        Assert.Equal(0, self.GetProperty("age").GetInt32());
        var address = self.GetProperty("address").GetString();

        Assert.Equal(address + "\n", Ok(await node.CtlAsync("cluster", "leader")));
        using var leader = JsonDocument.Parse(Ok(await node.CtlAsync("-o", "json", "cluster", "leader")));
        Assert.Equal(address, leader.RootElement.GetProperty("leader").GetString());

        using var regions = JsonDocument.Parse(Ok(await node.CtlAsync("--output", "json", "cluster-sharding", "regions")));
        Assert.Equal(["backend-server", "ssl-module"], regions.RootElement.GetProperty("typeNames").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
        Assert.Contains("ssl-module", Ok(await node.CtlAsync("cluster-sharding", "region-stats")), StringComparison.Ordinal);

        foreach (var read in new[] { new[] { "show", "ssl", "flows" }, ["show", "running-config"], ["show", "ssl", "files"], ["show", "connections"], ["show", "ssl", "sessions"], ["show", "service"], ["cluster", "shards"] })
        {
            using var parsed = JsonDocument.Parse(Ok(await node.CtlAsync(["-o", "json", .. read])));
            Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
        }
    }

    [Fact]
    public async Task LiveViews_WatchAndTail_RefreshAndReportTheMembers()
    {
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());

        var watched = Ok(await node.CtlAsync("--watch", "1", "--times", "3", "show", "ssl", "flows"));
        Assert.Equal(3, watched.Split('\n').Count(l => l.StartsWith("show ssl flows: every 1 s, Ctrl-C stops", StringComparison.Ordinal)));

        var tail = Ok(await node.CtlAsync("cluster", "tail", "--for", "2"));
        var line = Assert.Single(tail.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^\d\d:\d\d:\d\d akka\.tcp://sslcluster@127\.0\.0\.1:\d+ Up \(leader\)$", line);
    }

    [Fact]
    public async Task ClusterDown_UnknownMemberRefused_ThisNodeDownedStops()
    {
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        using var cluster = JsonDocument.Parse(Ok(await node.CtlAsync("-o", "json", "cluster", "show")));
        var address = cluster.RootElement.GetProperty("members")[0].GetProperty("address").GetString()!;

        var unknown = await node.CtlAsync("cluster", "down", "akka.tcp://sslcluster@127.0.0.99:1");
        Assert.True(unknown.ExitCode == 1 && unknown.Stderr.Contains("no member akka.tcp://sslcluster@127.0.0.99:1", StringComparison.Ordinal), unknown.ToString());

        Assert.Contains("is marked down", Ok(await node.CtlAsync("cluster", "down", address)), StringComparison.Ordinal);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!node.HasExited && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.True(node.HasExited, "a node marked down kept running:\n" + node.Output);
    }

    private static string Ok(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout;
    }
}
