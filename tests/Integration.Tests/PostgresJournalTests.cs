using System.Net;
using System.Security.Cryptography;
using SslCluster.Protocol.Demo;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// The cluster's journal on a real PostgreSQL (issue 5, step 1): a node's configuration and certificate store live
/// in the database, so another node process with an empty data folder (same cluster master key) takes them over
/// after the first one is killed.
/// </summary>
[Collection("nodes")]
public sealed class PostgresJournalTests
{
    private static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public async Task PostgresJournal_ThreeNodesStartTogetherOnAnEmptyDatabase_OneCreatesTheTablesUnderTheLockAndAllServe()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        var nodes = cluster.Nodes.Select(n => n!).ToList();

        // Exactly one node found the tables missing first and created them holding the lock; it gave the lock back once
        // its journal had started. The others either waited for it or came when the tables were there; none went on
        // without the lock, or failed to reach the database.
        var creators = nodes.Where(n => n.Output.Contains("this node creates them, holding the schema lock", StringComparison.Ordinal)).ToList();
        var creator = Assert.Single(creators);
        await WaitForAsync(() => creator.Output.Contains("the journal's tables are ready: schema lock released", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        foreach (var node in nodes)
        {
            Assert.DoesNotContain("starting without", node.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("the journal did not start", node.Output, StringComparison.Ordinal);
        }

        // The journal works on every node: the configuration written through one serves on all three.
        await cluster.ConfigureVipAsync();
        using var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        });
        for (var i = 1; i <= 3; i++)
        {
            var answer = await RetryAsync(() => client.GetAsync(cluster.Vip(i)), TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        // A node started later finds every table there and takes no lock.
        var fourth = await cluster.StartNodeAsync(4);
        Assert.DoesNotContain("schema lock", fourth.Output, StringComparison.Ordinal);
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(100);
        }
    }

    private static async Task<HttpResponseMessage> RetryAsync(Func<Task<HttpResponseMessage>> call, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                var answer = await call();
                if (answer.StatusCode == HttpStatusCode.OK || DateTime.UtcNow > deadline) return answer;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task PostgresJournal_NodeKilled_AnotherNodeWithAnEmptyDataFolderServesTheSameConfiguration()
    {
        var database = TestPostgres.NewDatabase();
        var environment = new Dictionary<string, string> { ["SSLCLUSTER_MASTER_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, clear), Name = "pg backend" });
        await backend.StartAsync();
        string before;
        using (var first = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), environment, "--journal-postgres", database))
        {
            await first.MakeKeyAsync("k", "c", "localhost");
            Ok(await first.CtlWithInputAsync(NodeProcess.OneVip(https, clear), "configure", "-"));
            before = (await first.CtlAsync("show", "running-config")).Stdout;
            first.Kill();
        }

        var emptyFolder = NodeProcess.NewDataDir();
        using var second = await NodeProcess.StartAsync(emptyFolder, environment, "--journal-postgres", database);
        await second.WaitReadyAsync(TimeSpan.FromSeconds(30));
        var after = await second.CtlAsync("show", "running-config");
        Ok(after);
        Assert.Equal(before, after.Stdout);
        Assert.False(File.Exists(Path.Combine(emptyFolder, "journal.db")), "the node wrote a SQLite journal although PostgreSQL was configured");
        var r = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "20", $"https://127.0.0.1:{https}/"], null, TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 0 && r.Stdout.Contains("pg backend", StringComparison.Ordinal), r.ToString());
    }
}
