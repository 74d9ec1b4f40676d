using System.Security.Cryptography;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Never two writers: two nodes that do not know each other (two sides of a partition, or a store started elsewhere
/// before the old one was known dead) on one PostgreSQL journal each run a configuration store. The journal's sequence
/// numbers let only one of them commit a revision; the other refuses the change with a clear answer, recovers what the
/// first wrote, and applies the next change on top of it. No change is ever lost or half applied.
/// </summary>
[Collection("nodes")]
public sealed class TwoWritersTests
{
    [Fact]
    public async Task TwoStoresOnOneJournal_SecondWriterOfARevisionIsRefused_ThenAppliesOnTopOfTheFirst()
    {
        var database = TestPostgres.NewDatabase();
        var environment = new Dictionary<string, string> { ["SSLCLUSTER_MASTER_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };
        using var a = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), environment, "--journal-postgres", database);
        using var b = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), environment, "--journal-postgres", database);

        var first = await a.CtlWithInputAsync("service from-a\n  weight 2\n", "configure", "-");
        Assert.True(first.ExitCode == 0, first.ToString());

        // B's store still holds revision 0: its revision 1 collides with A's in the journal and is refused.
        var second = await b.CtlWithInputAsync("service from-b\n  weight 3\n", "configure", "-");
        Assert.True(second.ExitCode == 1, second.ToString());
        Assert.Contains("the journal refused revision 1", second.Stdout + second.Stderr, StringComparison.Ordinal);

        // B's store recovers what A wrote and applies the next change on top of it.
        ProcessResult again;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            await Task.Delay(300);
            again = await b.CtlWithInputAsync("service from-b\n  weight 3\n", "configure", "-");
        }
        while (again.ExitCode != 0 && DateTime.UtcNow < deadline);
        Assert.True(again.ExitCode == 0, again.ToString());
        var onB = (await b.CtlAsync("show", "running-config")).Stdout;
        Assert.Contains("service from-a", onB, StringComparison.Ordinal);
        Assert.Contains("service from-b", onB, StringComparison.Ordinal);

        // A's store is now the one behind: its next revision collides with B's and is refused, never lost silently.
        var third = await a.CtlWithInputAsync("service from-a2\n", "configure", "-");
        Assert.True(third.ExitCode == 1, third.ToString());
        Assert.Contains("the journal refused revision 2", third.Stdout + third.Stderr, StringComparison.Ordinal);
    }
}
