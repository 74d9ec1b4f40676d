using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 5: three node processes on 127.0.0.1-3 form one cluster from a seed node over mutual TLS (certificates of
/// the cluster's CA), share the PostgreSQL journal and the master key, and behave as one chassis: a configuration
/// applied through one node is served by every node on its own address, and show ssl flows on any node sums the
/// flows of all of them. A fourth process whose certificate is not the cluster CA's cannot join.
/// </summary>
[Collection("nodes")]
public sealed class ThreeNodeClusterTests
{
    private static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public async Task ThreeNodes_ConfiguredThroughOne_EveryNodeServesTheVipAndFlowsAddUp()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        using var rogueCa = RsaTestAuthority.Create("not the cluster CA");

        // A node whose certificate another CA issued is refused by the TLS handshake and never becomes a member.
        using (var rogue = NodeProcess.Launch(NodeProcess.NewDataDir(), cluster.Environment,
            cluster.NodeArguments(4, rogueCa.IssueNodePkcs12("rogue", LocalCluster.Password))))
        {
            await Task.Delay(TimeSpan.FromSeconds(8));
            var members = await cluster.Nodes[0]!.CtlAsync("cluster", "show");
            Assert.DoesNotContain("127.0.0.4", members.Stdout, StringComparison.Ordinal);
            Assert.Contains("does not chain to the cluster CA", cluster.Nodes[0]!.Output, StringComparison.Ordinal);
        }

        await cluster.ConfigureVipAsync();
        for (var i = 1; i <= 3; i++)
        {
            var r = await ServedAsync(cluster.Vip(i).ToString(), TimeSpan.FromSeconds(30));
            Assert.True(r.ExitCode == 0 && r.Stdout.Contains("cluster backend", StringComparison.Ordinal), $"node {i}: {r}");
        }

        // Module m's counters come from all three nodes and add up, whichever node is asked.
        long accepted = 0;
        for (var attempt = 0; attempt < 60 && accepted < 3; attempt++)
        {
            await Task.Delay(250);
            accepted = await AcceptedFlowsAsync(cluster.Nodes[2]!, "m");
        }
        Assert.Equal(3, accepted);
        Assert.Equal((await cluster.Nodes[0]!.CtlAsync("show", "running-config")).Stdout, (await cluster.Nodes[2]!.CtlAsync("show", "running-config")).Stdout);

        // Each node's /metrics holds that node's own flows, labelled with it: summed over the three, they are the
        // cluster's figure that show ssl flows prints; each node reports the same revision in force.
        using var http = new HttpClient();
        var sum = 0L;
        var revisions = new HashSet<string>();
        for (var i = 1; i <= 3; i++)
        {
            var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{cluster.Nodes[i - 1]!.AdminPort}/metrics"));
            var line = metrics.Split('\n').Single(l => l.StartsWith("sslcluster_connections_accepted_total{", StringComparison.Ordinal) && l.Contains("module=\"m\"", StringComparison.Ordinal));
            Assert.Contains($"node=\"127.0.0.{i}:", line, StringComparison.Ordinal);
            sum += long.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
            revisions.Add(metrics.Split('\n').Single(l => l.StartsWith("sslcluster_config_revision{", StringComparison.Ordinal)).Split(' ')[^1]);
            Assert.Contains("outcome=\"None\",side=\"none\"} 1", metrics, StringComparison.Ordinal);
        }
        Assert.Equal(3, sum);
        Assert.Single(revisions);
    }

    [Fact]
    public async Task SeedDns_LocalhostResolvesToNodeOne_SecondNodeJoinsIt()
    {
        // "localhost" resolves to 127.0.0.1 (and ::1, dropped: the nodes speak IPv4): node 1 is the only seed and
        // forms the cluster; node 2, on 127.0.0.2, joins it. Both derive the same seed from DNS.
        var port = NodeProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var first = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--hostname", "127.0.0.1", "--remoting-port", port, "--seed-dns", $"localhost:{port}");
        using var second = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--hostname", "127.0.0.2", "--remoting-port", port, "--seed-dns", $"localhost:{port}");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        ProcessResult members;
        do
        {
            await Task.Delay(500);
            members = await second.CtlAsync("cluster", "show");
        }
        while (LocalCluster.UpMembers(members.Stdout) < 2 && DateTime.UtcNow < deadline);
        Assert.True(LocalCluster.UpMembers(members.Stdout) == 2, members.ToString());
        Assert.Contains($"seed nodes from DNS name localhost: akka.tcp://sslcluster@127.0.0.1:{port}", second.Output, StringComparison.Ordinal);
    }

    /// <summary>Module <paramref name="module"/>'s accepted flows summed over the nodes, as <paramref name="node"/> reports them.</summary>
    public static async Task<long> AcceptedFlowsAsync(NodeProcess node, string module)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await node.AdminGetAsync(SslCluster.Protocol.Admin.AdminPaths.SslFlows));
        return doc.RootElement.GetProperty("modules").EnumerateArray()
            .Where(m => m.GetProperty("module").GetString() == module)
            .SelectMany(m => m.GetProperty("rows").EnumerateArray()).Sum(r => r.GetProperty("accepted").GetInt64());
    }

    private static async Task<ProcessResult> ServedAsync(string url, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        ProcessResult r;
        do
        {
            r = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "10", url], null, TimeSpan.FromSeconds(20));
            if (r.ExitCode == 0) return r;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        return r;
    }
}
