using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using SslCluster.Protocol.Demo;
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
        var database = TestPostgres.NewDatabase();
        const string password = "node-pw";
        var environment = new Dictionary<string, string>
        {
            ["SSLCLUSTER_MASTER_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["SSLCLUSTER_REMOTING_TLS_PASSWORD"] = password,
        };
        using var clusterCa = RsaTestAuthority.Create("sslcluster test cluster CA");
        using var rogueCa = RsaTestAuthority.Create("not the cluster CA");
        var remoting = NodeProcess.FreePort();
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        // The real server sits on an address no node maps, so every node reaches the same one.
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Parse("127.0.0.9"), clear), Name = "cluster backend" });
        await backend.StartAsync();
        var seed = $"akka.ssl.tcp://sslcluster@127.0.0.1:{remoting}";
        var nodes = new List<NodeProcess>();
        try
        {
            for (var i = 1; i <= 3; i++)
            {
                // Each node listens for the configured VIP 127.0.0.1 on its own address 127.0.0.i.
                nodes.Add(await NodeProcess.StartAsync(NodeProcess.NewDataDir(), environment,
                    "--hostname", $"127.0.0.{i}", "--remoting-port", remoting.ToString(CultureInfo.InvariantCulture), "--seed", seed,
                    "--journal-postgres", database, "--address-map", $"127.0.0.1=127.0.0.{i}",
                    "--remoting-tls", $"{clusterCa.IssueNodePkcs12($"node{i}", password)},{clusterCa.CertificatePemPath}"));
            }
            await WaitForMembersAsync(nodes[1], 3, TimeSpan.FromSeconds(60));

            // A node whose certificate another CA issued is refused by the TLS handshake and never becomes a member.
            using (var rogue = NodeProcess.Launch(NodeProcess.NewDataDir(), environment,
                "--hostname", "127.0.0.4", "--remoting-port", remoting.ToString(CultureInfo.InvariantCulture), "--seed", seed,
                "--journal-postgres", database, "--remoting-tls", $"{rogueCa.IssueNodePkcs12("rogue", password)},{clusterCa.CertificatePemPath}"))
            {
                await Task.Delay(TimeSpan.FromSeconds(8));
                var members = await nodes[0].CtlAsync("cluster", "show");
                Assert.DoesNotContain("127.0.0.4", members.Stdout, StringComparison.Ordinal);
                Assert.Contains("does not chain to the cluster CA", nodes[0].Output, StringComparison.Ordinal);
            }

            await nodes[0].MakeKeyAsync("k", "c", "localhost");
            Ok(await nodes[0].CtlWithInputAsync(NodeProcess.OneVip(https, clear).Replace($"127.0.0.1 {clear}", $"127.0.0.9 {clear}", StringComparison.Ordinal), "configure", "-"));
            foreach (var node in nodes) await node.WaitReadyAsync(TimeSpan.FromSeconds(30));

            for (var i = 1; i <= 3; i++)
            {
                var r = await ServedAsync($"https://127.0.0.{i}:{https}/", TimeSpan.FromSeconds(30));
                Assert.True(r.ExitCode == 0 && r.Stdout.Contains("cluster backend", StringComparison.Ordinal), $"node {i}: {r}");
            }

            // Module m's counters come from all three nodes and add up, whichever node is asked.
            long accepted = 0;
            for (var attempt = 0; attempt < 60 && accepted < 3; attempt++)
            {
                await Task.Delay(250);
                using var doc = System.Text.Json.JsonDocument.Parse(await nodes[2].AdminGetAsync(SslCluster.Protocol.Admin.AdminPaths.SslFlows));
                accepted = doc.RootElement.GetProperty("modules").EnumerateArray()
                    .Where(m => m.GetProperty("module").GetString() == "m")
                    .SelectMany(m => m.GetProperty("rows").EnumerateArray()).Sum(r => r.GetProperty("accepted").GetInt64());
            }
            Assert.Equal(3, accepted);
            Assert.Equal((await nodes[0].CtlAsync("show", "running-config")).Stdout, (await nodes[2].CtlAsync("show", "running-config")).Stdout);
        }
        finally
        {
            foreach (var node in nodes) node.Dispose();
        }
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

    private static async Task WaitForMembersAsync(NodeProcess node, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        ProcessResult r;
        do
        {
            r = await node.CtlAsync("cluster", "show");
            if (r.Stdout.Split('\n').Count(l => l.Contains(" Up", StringComparison.Ordinal)) == count) return;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"the cluster never had {count} members up:\n{r}");
    }
}
