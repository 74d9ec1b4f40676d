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
