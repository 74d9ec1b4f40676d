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

    /// <summary>Drives sslctl through a pseudo-terminal (python's pty), typing keys and waiting between them.</summary>
    private const string PtyDriver = """
        import os, pty, sys, time, select
        cli, endpoint, token = sys.argv[1], sys.argv[2], sys.argv[3]
        pid, fd = pty.fork()
        if pid == 0:
            os.environ["TERM"] = "xterm"
            os.execvp("dotnet", ["dotnet", cli, "--endpoint", endpoint, "--token", token])
        out = b""
        def read_for(seconds):
            global out
            end = time.time() + seconds
            while time.time() < end:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        return
        read_for(5)
        for keys, wait in [(b"cluster sho\t", 1), (b"\r", 4), (b"cluster-sharding region-s\t", 1), (b"\r", 4), (b"\x1b[A", 1), (b"\r", 4), (b"cluster sh\t", 1), (b"\x15", 0), (b"exit\r", 3)]:
            os.write(fd, keys)
            read_for(wait)
        for _ in range(100):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
        sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
        sys.stdout.write("\nEXIT %d\n" % os.WEXITSTATUS(status))
        """;

    [Fact]
    public async Task Shell_OnATerminal_CompletesRecallsAndRunsCommands()
    {
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        var driver = Path.Combine(node.DataDir, "pty_driver.py");
        await File.WriteAllTextAsync(driver, PtyDriver);
        var token = (await File.ReadAllTextAsync(Path.Combine(node.DataDir, "admin.token"))).Trim();

        var r = await Run.ProcessAsync("python3", [driver, NodeProcess.CliDll, $"http://127.0.0.1:{node.AdminPort}", token], null, TimeSpan.FromSeconds(90));
        var screen = System.Text.RegularExpressions.Regex.Replace(r.Stdout, "\u001b\\[[0-9;?]*[A-Za-z=]|\u001b[=>]", "");

        Assert.Contains("sslctl shell on http://127.0.0.1:", screen, StringComparison.Ordinal);
        // "cluster sho" and a tab became "cluster show ", which ran.
        Assert.Matches(@"akka\.tcp://sslcluster@127\.0\.0\.1:\d+\s+Up\s+revision", screen);
        // "region-s" completed to region-stats; the up arrow recalled it and it ran again.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(screen, @"ssl-module\s+akka").Count);
        // An ambiguous word lists its choices.
        Assert.Contains("show  shards", screen, StringComparison.Ordinal);
        Assert.EndsWith("EXIT 0\n", screen, StringComparison.Ordinal);
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
