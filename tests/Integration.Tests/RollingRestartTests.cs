using System.Diagnostics;
using System.Globalization;
using SslCluster.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 13: <c>sslctl cluster rolling-restart</c> through node 1 replaces all three nodes in turn while a client load
/// runs and the configuration keeps changing. The test is the nodes' supervisor (as Kubernetes or run.sh would be): a
/// node that exits is started again at its address with its data folder. Zero failed requests, every node replaced,
/// TLS sessions made before still resume on every new node, the configuration kept, and configuration changes never
/// pause for long while the oldest node (the store's host) hands its singletons over.
/// </summary>
[Collection("nodes")]
public sealed class RollingRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RollingRestart_UnderLoad_EveryNodeReplacedNoFailedRequestSessionsResumeConfigurationKept()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        // A TLS 1.3 suite beside the TLS 1.2 one: the module offers both versions.
        // http-reuse: the ssl-server reads HTTP, so that a drain closes keep-alive clients where they lose nothing.
        await cluster.ConfigureVipAsync($"\nssl-proxy-list p\n  ssl-server 1 cipher tls13-aes-128-gcm-sha256 127.0.0.9 {cluster.BackendPort}\n", httpReuse: true);
        var first = cluster.Nodes[0]!;
        var (endpoint, dataDir) = ($"http://127.0.0.1:{first.AdminPort}", first.DataDir);

        // Sessions made before the restart: a TLS 1.2 session ID (no ticket) and a TLS 1.3 ticket, both on node 1.
        var scratch = Directory.CreateTempSubdirectory("sslcluster-rolling-").FullName;
        var sessions = new[] { ("TLS 1.2 session ID", "-tls1_2", "-no_ticket"), ("TLS 1.3 ticket", "-tls1_3", "") }
            .Select((s, n) => (Name: s.Item1, Version: s.Item2, Extra: s.Item3, File: Path.Combine(scratch, $"s{n}.pem"))).ToList();
        foreach (var s in sessions)
        {
            var made = await SClientAsync(1, cluster.HttpsPort, s.Version, s.Extra, "-sess_out", s.File);
            Assert.True(made.AllOutput.Contains($"New, TLSv1.{s.Version[^1]}", StringComparison.Ordinal) && File.Exists(s.File), $"{s.Name}: {made}");
        }
        var before = (await first.CtlAsync("show", "running-config")).Stdout;
        var acceptedBefore = await SettledAcceptedAsync(first, 2);

        await using var load = new ClientLoad([.. Enumerable.Range(1, 3).Select(cluster.Vip)], workers: 6, TimeSpan.FromSeconds(300), maxRequests: 200_000, attempts: 3);
        // Beside it, clients that keep their connections, as browsers and API clients do.
        await using var keepAlive = new ClientLoad([.. Enumerable.Range(1, 3).Select(cluster.Vip)], workers: 3, TimeSpan.FromSeconds(300), maxRequests: 200_000,
            attempts: 3, keepAlive: true);
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
        await keepAlive.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));

        using var stop = new CancellationTokenSource();
        // The supervisor: a node that exits (it drained and left) is started again where it was.
        var restarts = new List<(int Node, int ExitCode, TimeSpan At)>();
        var clock = Stopwatch.StartNew();
        var supervisor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                for (var i = 1; i <= 3; i++)
                {
                    var node = cluster.Nodes[i - 1]!;
                    if (!node.HasExited) continue;
                    lock (restarts) restarts.Add((i, node.ExitCode, clock.Elapsed));
                    cluster.RelaunchNode(i);
                }
                await Task.Delay(200);
            }
        });
        // Configuration changes through whichever node answers, once a second: the longest time without an accepted
        // change is the pause the singletons' hand-over costs.
        var longestPause = TimeSpan.Zero;
        var changes = 0;
        var writer = Task.Run(async () =>
        {
            var last = clock.Elapsed;
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                foreach (var node in cluster.Nodes.ToList())
                {
                    if (node is null || node.HasExited) continue;
                    // A short limit per try: a node that is draining must not hold the writer for the CLI's own timeout.
                    try
                    {
                        var r = await Run.ProcessAsync("dotnet", [NodeProcess.CliDll, "--endpoint", $"http://127.0.0.1:{node.AdminPort}", "--data-dir", node.DataDir, "configure", "-"],
                            $"service m\n  weight {2 + n % 5}\n", TimeSpan.FromSeconds(5));
                        if (r.ExitCode != 0) continue;
                    }
                    catch (TimeoutException)
                    {
                        // The process was killed at the limit: try the next node.
                        continue;
                    }
                    changes++;
                    var gap = clock.Elapsed - last;
                    if (gap > longestPause) longestPause = gap;
                    last = clock.Elapsed;
                    break;
                }
                await Task.Delay(1000);
            }
        });

        ProcessResult rolled;
        TimeSpan rollTime;
        try
        {
            rolled = await Run.ProcessAsync("dotnet", [NodeProcess.CliDll, "--endpoint", endpoint, "--data-dir", dataDir, "cluster", "rolling-restart"], null, TimeSpan.FromMinutes(8));
            rollTime = clock.Elapsed;
            await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
            await keepAlive.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
        }
        finally
        {
            // Whatever happened, nothing starts nodes again once the test is over.
            await stop.CancelAsync();
            await supervisor;
            await writer;
            await load.DisposeAsync();
            await keepAlive.DisposeAsync();
        }
        output.WriteLine(rolled.Stdout);

        Assert.True(rolled.ExitCode == 0, rolled.ToString());
        Assert.Equal(3, rolled.Stdout.Split('\n').Count(l => l.Contains(": back, up with revision", StringComparison.Ordinal)));
        // Each node drained once and cleanly, youngest first and node 1 (the endpoint's, and the oldest) last.
        Assert.Equal([1, 2, 3], restarts.Select(r => r.Node).Order());
        Assert.Equal(1, restarts[^1].Node);
        Assert.Contains("127.0.0.1:", rolled.Stdout.Split('\n').Last(l => l.StartsWith("[3/3]", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.All(restarts, r => Assert.Equal(0, r.ExitCode));
        Assert.True(load.Failures.IsEmpty, $"{load.Failures.Count} failed requests of {load.Succeeded + load.Failures.Count}: {string.Join(" | ", load.Failures.Take(10))}");
        Assert.True(keepAlive.Failures.IsEmpty, $"{keepAlive.Failures.Count} failed keep-alive requests of {keepAlive.Succeeded + keepAlive.Failures.Count}: {string.Join(" | ", keepAlive.Failures.Take(10))}");
        Assert.True(keepAlive.Succeeded > 5 * keepAlive.Connections, $"{keepAlive.Succeeded} keep-alive requests over {keepAlive.Connections} connections");

        foreach (var node in cluster.Nodes) await node!.WaitReadyAsync(TimeSpan.FromSeconds(60));
        // Each new node started from the copy its data folder held (its index, written as it stopped), asking the store
        // only for what changed since; none found it to be another store's.
        foreach (var node in cluster.Nodes)
        {
            Assert.Contains("this node's local copy holds revision", node!.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("came from another store", node.Output, StringComparison.Ordinal);
        }
        var after = (await cluster.Nodes[0]!.CtlAsync("show", "running-config")).Stdout;
        Assert.Equal(Normalize(before), Normalize(after));
        for (var i = 1; i <= 3; i++)
        {
            foreach (var s in sessions)
            {
                var resumed = await SClientAsync(i, cluster.HttpsPort, s.Version, s.Extra, "-sess_in", s.File);
                Assert.True(resumed.AllOutput.Contains($"Reused, TLSv1.{s.Version[^1]}", StringComparison.Ordinal), $"{s.Name} on the new node {i}: {resumed}");
            }
        }
        // The counters are kept: every node handed its totals on as it left, so module m counts at least every
        // connection it accepted before and during the restart (the requests that succeeded, and the s_client runs).
        var expected = acceptedBefore + load.Succeeded + 6;
        var acceptedAfter = await SettledAcceptedAsync(cluster.Nodes[0]!, expected);
        Assert.True(acceptedAfter >= expected, $"module m counts {acceptedAfter} accepted connections after the rolling restart, fewer than the {expected} it accepted");
        // And once: no member's totals are counted both by the member that inherited them and in its own last report
        // (the keep-alive clients' connections counted at most once each).
        Assert.True(acceptedAfter <= expected + keepAlive.Connections + 20,
            $"module m counts {acceptedAfter} accepted connections after the rolling restart, more than the {expected} and {keepAlive.Connections} keep-alive connections it accepted");
        Assert.True(longestPause < TimeSpan.FromSeconds(10), $"configuration changes paused for {longestPause.TotalSeconds:F1} s during the rolling restart");
        output.WriteLine($"keep-alive clients: {keepAlive.Succeeded} requests over {keepAlive.Connections} connections, 0 failed, {keepAlive.Retried} retried on another node, " +
            $"slowest {keepAlive.Slowest.TotalMilliseconds:F0} ms");
        output.WriteLine($"rolling restart of 3 nodes under load: {rollTime.TotalSeconds:F0} s; {load.Succeeded} requests, 0 failed, {load.Retried} connection(s) retried on another node, " +
            $"slowest request {load.Slowest.TotalMilliseconds:F0} ms; {changes} configuration changes, the longest time without one {longestPause.TotalSeconds:F1} s; " +
            $"restarts at {string.Join(", ", restarts.Select(r => $"node {r.Node} {r.At.TotalSeconds:F0} s"))}; both sessions resumed on every new node; " +
            $"module m counted {acceptedBefore} accepted connections before and {acceptedAfter} after");
        Directory.Delete(scratch, recursive: true);
    }

    /// <summary>Module m's accepted connections once the nodes' reports show at least <paramref name="atLeast"/> (or after 30 s).</summary>
    private static async Task<long> SettledAcceptedAsync(NodeProcess node, long atLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        long accepted;
        while ((accepted = await ThreeNodeClusterTests.AcceptedFlowsAsync(node, "m")) < atLeast && DateTime.UtcNow < deadline) await Task.Delay(500);
        return accepted;
    }

    /// <summary>The configuration without the weight the writer kept changing.</summary>
    private static string Normalize(string config) =>
        string.Join('\n', config.Split('\n').Where(l => !l.TrimStart().StartsWith("weight ", StringComparison.Ordinal)));

    private static Task<SslCluster.TestSupport.ProcessResult> SClientAsync(int node, int port, string version, string extra, string sessionOption, string file) =>
        // A request and -ign_eof: the client reads until the answer ends, so a TLS 1.3 ticket sent after the handshake
        // is in the session it saves.
        OpenSslClient.RunAsync("openssl", $"s_client -connect 127.0.0.{node}:{port.ToString(CultureInfo.InvariantCulture)} {version} -ign_eof {sessionOption} {file} {extra}",
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", OpenSslClient.DefaultTimeout);
}
