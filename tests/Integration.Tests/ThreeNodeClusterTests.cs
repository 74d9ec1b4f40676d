using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 5: three node processes on 127.0.0.1-3 form one cluster (Akka Cluster Bootstrap, issue 13) over mutual TLS (certificates of
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
    public async Task Bootstrap_TwoOfThreeContactPointsUp_NoClusterUntilTheThirdThenOneClusterThatARestartedNodeRejoins()
    {
        // Plain remoting and a SQLite journal per node: this is about membership alone. Node i serves its management
        // endpoint on 127.0.0.i; every node lists all three.
        var remoting = NodeProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var management = NodeProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var points = string.Join(",", Enumerable.Range(1, 3).Select(i => $"127.0.0.{i}:{management}"));
        var dirs = Enumerable.Range(0, 3).Select(_ => NodeProcess.NewDataDir()).ToArray();
        var env = new Dictionary<string, string>();
        string[] Args(int i) => ["--hostname", $"127.0.0.{i}", "--remoting-port", remoting, "--contact-points", points, "--management-port", management];
        var nodes = new NodeProcess?[3];
        try
        {
            nodes[0] = NodeProcess.Launch(dirs[0], env, Args(1));
            nodes[1] = NodeProcess.Launch(dirs[1], env, Args(2));

            // Two of the three required contact points answer: neither node may form a cluster of its own, however long.
            await Task.Delay(TimeSpan.FromSeconds(10));
            for (var i = 0; i < 2; i++)
            {
                Assert.False(nodes[i]!.HasExited, nodes[i]!.Output);
                Assert.Equal(0, LocalCluster.UpMembers((await nodes[i]!.CtlAsync("cluster", "show")).Stdout));
            }

            nodes[2] = NodeProcess.Launch(dirs[2], env, Args(3));
            foreach (var n in nodes) await n!.WaitReadyAsync(TimeSpan.FromSeconds(60));
            var shows = new List<string>();
            foreach (var n in nodes) shows.Add(await UpMembersWhenAsync(n!, 3));
            // One cluster: every node sees the same three members and the same leader, the lowest contact point's node.
            Assert.All(shows, show => Assert.Matches($@"akka\.tcp://sslcluster@127\.0\.0\.1:{remoting}\s+Up", show));
            Assert.Single(shows.Select(Leader).Distinct());
            Assert.Contains("cluster bootstrap: contact point http://127.0.0.1:", nodes[0]!.Output, StringComparison.Ordinal);

            // The node that formed the cluster is restarted: it finds the cluster its peers report and joins it rather
            // than forming a second one.
            nodes[0]!.Kill();
            nodes[0]!.Dispose();
            nodes[0] = NodeProcess.Launch(dirs[0], env, Args(1));
            await nodes[0]!.WaitReadyAsync(TimeSpan.FromSeconds(60));
            var rejoined = await UpMembersWhenAsync(nodes[0]!, 3);
            Assert.Matches($@"127\.0\.0\.2:{remoting}\s+Up", rejoined);
            Assert.Equal(3, LocalCluster.UpMembers(await UpMembersWhenAsync(nodes[1]!, 3)));
        }
        finally
        {
            foreach (var n in nodes) n?.Dispose();
        }

        static string Leader(string show) => show.Split('\n').Single(l => l.Contains("leader", StringComparison.Ordinal)).Split(' ')[0];
    }

    /// <summary>The node's <c>cluster show</c> once it lists <paramref name="count"/> members up (or after 60 s).</summary>
    private static async Task<string> UpMembersWhenAsync(NodeProcess node, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        ProcessResult r;
        do
        {
            r = await node.CtlAsync("cluster", "show");
            if (LocalCluster.UpMembers(r.Stdout) == count && !r.Stdout.Contains("Joining", StringComparison.Ordinal)) return r.Stdout;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        return r.Stdout;
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
