using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 5: the cluster's operations under a bounded client load that goes round the nodes' addresses and tries a
/// failed connection again on the next node (as a client behind DNS or an L4 balancer would): a drain through the
/// CLI, a kill -9, a proxy-list reassignment and a shard rebalance. Zero failed requests is the assertion; the
/// measured times are printed (docs/cluster.md quotes them).
/// </summary>
[Collection("nodes")]
public sealed partial class ClusterOperationsTests(ITestOutputHelper output)
{
    private static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static void NoFailures(ClientLoad load) =>
        Assert.True(load.Failures.IsEmpty, $"{load.Failures.Count} failed requests of {load.Succeeded + load.Failures.Count}: {string.Join(" | ", load.Failures.Take(10))}");

    private static ClientLoad LoadOn(LocalCluster cluster, params int[] nodes) =>
        new([.. nodes.Select(cluster.Vip)], workers: 6, TimeSpan.FromSeconds(150), maxRequests: 50_000, attempts: 3);

    [Fact]
    public async Task NodeDrainThroughCli_UnderLoad_NoFailedRequestShardsHandedOffNodeExits()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();
        await using var load = LoadOn(cluster, 1, 2, 3);
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));

        // A 24 MB download at 4 MB/s on node 2 keeps it draining for about 6 s.
        const long size = 24_000_000;
        var download = Run.ProcessAsync("curl", ["-sSk", "--limit-rate", "4M", "--max-time", "40", "-o", "/dev/null", "-w", "%{size_download}",
            $"{cluster.Vip(2)}bytes/{size}"], null, TimeSpan.FromSeconds(50));
        await Task.Delay(1000);

        var drained = cluster.Nodes[1]!;
        var clock = Stopwatch.StartNew();
        var r = await drained.CtlAsync("node", "drain");
        Ok(r);
        Assert.Contains("is draining", r.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"waits up to \d+s for its [1-9]\d* open connection", r.Stdout);
        // Its shards are handed off while it still waits for the download: node 1 sees no region on node 2 before it exits.
        await UntilAsync(async () => !(await cluster.Nodes[0]!.CtlAsync("cluster", "shards")).Stdout.Contains("127.0.0.2", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        var handedOffAfter = clock.Elapsed;
        Assert.False(drained.HasExited, "node 2 exited before its shards were seen elsewhere");
        var finished = await download;
        var exited = await WaitForExitAsync(drained, TimeSpan.FromSeconds(60));
        var drainTime = clock.Elapsed;
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
        await load.DisposeAsync();

        NoFailures(load);
        Assert.True(finished.ExitCode == 0 && finished.Stdout.Trim() == size.ToString(System.Globalization.CultureInfo.InvariantCulture), finished.ToString());
        Assert.Equal(0, exited);
        await cluster.WaitForMembersAsync(cluster.Nodes[0]!, 2, TimeSpan.FromSeconds(30));
        Assert.True(await ThreeNodeClusterTests.AcceptedFlowsAsync(cluster.Nodes[2]!, "m") > 0);
        output.WriteLine($"drain through sslctl: shards handed off {handedOffAfter.TotalSeconds:F1} s after the command, the download in flight finished in full, node 2 exited after {drainTime.TotalSeconds:F1} s; " +
            $"{load.Succeeded} requests, 0 failed, {load.Retried} connection(s) retried on another node; slowest request {load.Slowest.TotalMilliseconds:F0} ms");
    }

    [Theory]
    [InlineData("ssl-server 1 http-reuse")]
    // Header insertion without http-reuse: each client keeps a back-end connection of its own.
    [InlineData("ssl-server 1 http-header session")]
    public async Task NodeDrain_KeepAliveClientsOfAnSslServerThatReadsHttp_NoFailedRequestAndTheDrainEndsLongBeforeItsTimeout(string sslServerLine)
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync(sslServerLine: sslServerLine);
        // Pooled keep-alive connections, as browsers and API clients keep them: busy ones and idle ones.
        await using var load = new ClientLoad([.. new[] { 1, 2, 3 }.Select(cluster.Vip)], workers: 6, TimeSpan.FromSeconds(150), maxRequests: 50_000,
            attempts: 3, keepAlive: true);
        await load.WaitForMoreAsync(600, TimeSpan.FromSeconds(30));
        // And idle ones: keep-alive clients of node 2 that had their answer and wait (a browser's open tabs).
        var idle = await IdleKeepAliveClientsAsync(cluster.Vip(2), 20);

        var drained = cluster.Nodes[1]!;
        var clock = Stopwatch.StartNew();
        var r = await drained.CtlAsync("node", "drain");
        Ok(r);
        var waits = Regex.Match(r.Stdout, @"waits up to (\d+)s for its ([1-9]\d*) open connection");
        Assert.True(waits.Success, r.Stdout);
        // Each idle client is closed cleanly: close_notify (SslStream reads 0; a connection cut without it throws).
        var idleEnds = await Task.WhenAll(idle.Select(async c =>
        {
            var read = await Record.ExceptionAsync(async () => Assert.Equal(0, await c.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(90))));
            return (Closed: clock.Elapsed, Error: read);
        }));
        var exited = await WaitForExitAsync(drained, TimeSpan.FromSeconds(90));
        var drainTime = clock.Elapsed;
        await load.WaitForMoreAsync(300, TimeSpan.FromSeconds(30));
        await load.DisposeAsync();

        NoFailures(load);
        Assert.Equal(0, exited);
        Assert.All(idleEnds, e => Assert.Null(e.Error));
        foreach (var c in idle) await c.DisposeAsync();
        // Each keep-alive client was closed between two requests, or after an answer saying so: none held the node until
        // the drain's deadline, which is where its connections would otherwise have been cut, requests under way with them.
        var timeout = TimeSpan.FromSeconds(int.Parse(waits.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(drainTime < timeout, $"the drain took {drainTime.TotalSeconds:F1} s, its timeout is {timeout.TotalSeconds} s");
        // Keep-alive it was: many requests per connection.
        Assert.True(load.Succeeded > 5 * load.Connections, $"{load.Succeeded} requests over {load.Connections} connections");
        output.WriteLine($"drain with keep-alive clients, {sslServerLine}: {waits.Groups[2].Value} open connection(s) at the command, " +
            $"{idle.Count} idle ones closed cleanly within {idleEnds.Max(e => e.Closed).TotalSeconds:F1} s, node 2 exited after " +
            $"{drainTime.TotalSeconds:F1} s (drain timeout {timeout.TotalSeconds} s); {load.Succeeded} requests over {load.Connections} connections, 0 failed, " +
            $"{load.Retried} retried on another node; slowest request {load.Slowest.TotalMilliseconds:F0} ms");
    }

    /// <summary>
    /// <paramref name="count"/> TLS keep-alive connections to <paramref name="vip"/>, each with one request answered (the
    /// answer read whole), then left idle.
    /// </summary>
    private static async Task<List<System.Net.Security.SslStream>> IdleKeepAliveClientsAsync(Uri vip, int count)
    {
        var clients = new List<System.Net.Security.SslStream>();
        for (var i = 0; i < count; i++)
        {
            var tcp = new System.Net.Sockets.TcpClient();
            await tcp.ConnectAsync(vip.Host, vip.Port);
            var ssl = new System.Net.Security.SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            await ssl.WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
            var head = new System.Text.StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                Assert.Equal(1, await ssl.ReadAsync(one));
                head.Append((char)one[0]);
            }
            Assert.StartsWith("HTTP/1.1 200", head.ToString(), StringComparison.Ordinal);
            var length = Regex.Match(head.ToString(), @"\r\nContent-Length: (\d+)\r\n", RegexOptions.IgnoreCase);
            Assert.True(length.Success, head.ToString());
            await ssl.ReadExactlyAsync(new byte[int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)]);
            clients.Add(ssl);
        }

        return clients;
    }

    [Fact]
    public async Task KillNine_UnderLoad_OthersServeModulesRehomeConfigurationKept()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();
        var before = (await cluster.Nodes[1]!.CtlAsync("show", "running-config")).Stdout;
        await using var load = LoadOn(cluster, 1, 2, 3);
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
        load.ResetSlowest();

        // Node 1 is the oldest: it hosts the configuration store and the ticket-key owner singletons.
        var clock = Stopwatch.StartNew();
        output.WriteLine($"kill -9 at {DateTime.UtcNow:HH:mm:ss.fff}");
        cluster.Nodes[0]!.Kill();
        var survivor = cluster.Nodes[1]!;
        // From the kill on, a change is tried through node 2 every quarter second until the store accepts one: while
        // the store is unreachable the node answers at once that nothing was changed (exit 1), never hangs.
        var writable = Task.Run(async () =>
        {
            while (true)
            {
                var r = await survivor.CtlWithInputAsync("service m\n  weight 2\n", "configure", "-");
                if (r.ExitCode == 0) return clock.Elapsed;
                Assert.True(r.ExitCode == 1 && r.Stderr.Contains("not reachable now", StringComparison.Ordinal) || r.Stderr.Contains("did not answer", StringComparison.Ordinal), r.ToString());
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no configure accepted within 60 s of the kill");
                await Task.Delay(250);
            }
        });
        var servedAfter = await FirstSuccessAsync(cluster.Vip(2), TimeSpan.FromSeconds(30));
        await cluster.WaitForMembersAsync(survivor, 2, TimeSpan.FromSeconds(90));
        var removedAfter = clock.Elapsed;

        // The configuration store singleton re-homes: the kept configuration reads again, and a change through node 2 is
        // accepted on top of it.
        await UntilAsync(async () => (await survivor.CtlAsync("show", "running-config")).ExitCode == 0, TimeSpan.FromSeconds(60));
        var readableAfter = clock.Elapsed;
        var configuredAfter = await writable;
        var after = (await survivor.CtlAsync("show", "running-config")).Stdout;
        // The module entity re-homes: show ssl flows on a survivor counts new flows of module m again.
        var baseline = await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m");
        await UntilAsync(async () => await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m") > baseline, TimeSpan.FromSeconds(60));
        var flowsAfter = clock.Elapsed;
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
        await load.DisposeAsync();

        NoFailures(load);
        Assert.Equal(before, after.Replace("  weight 2\n", "", StringComparison.Ordinal));
        Assert.Contains("weight 2", after, StringComparison.Ordinal);
        output.WriteLine($"kill -9 of node 1 under load: a new connection to node 2 served {servedAfter.TotalMilliseconds:F0} ms after the kill; " +
            $"node 1 removed from the cluster {removedAfter.TotalSeconds:F1} s after the kill; configuration readable again after {readableAfter.TotalSeconds:F1} s and changed after {configuredAfter.TotalSeconds:F1} s; " +
            $"module counters counting again after {flowsAfter.TotalSeconds:F1} s; {load.Succeeded} requests, 0 failed, {load.Retried} connection(s) retried on another node; " +
            $"slowest request {load.Slowest.TotalMilliseconds:F0} ms");
        foreach (var line in survivor.Output.Split('\n').Where(l => l.Contains("nreachable", StringComparison.OrdinalIgnoreCase) || l.Contains("SBR", StringComparison.Ordinal)
            || l.Contains("Down", StringComparison.Ordinal) || l.Contains("ConfigStore: recovered", StringComparison.Ordinal) || l.Contains("ConfigFollower", StringComparison.Ordinal)))
            output.WriteLine("node 2: " + line);
        Assert.True(servedAfter < TimeSpan.FromSeconds(2), $"node 2 took {servedAfter} to serve after the kill");
        // Writes come back once the dead node is downed (failure detection, 2.5 s stable-after) and its store restarted
        // elsewhere (1 s removal margin): measured 8.2-9.1 s here; the bound leaves room for a loaded CI machine.
        Assert.True(configuredAfter < TimeSpan.FromSeconds(15), $"configure accepted again only {configuredAfter} after the kill");
    }

    [Fact]
    public async Task KillNine_NodeThatServedFlows_ItsModuleTotalsStayInTheClustersFigures()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();
        var survivor = cluster.Nodes[0]!;
        await CurlOkAsync(cluster.Vip(1));
        // The node that dies must not be the one holding module m's entity (the entity keeps the last reports).
        var host = await EntityHostAsync(survivor);
        var victim = host == 3 ? 2 : 3;
        for (var i = 0; i < 40; i++) await CurlOkAsync(cluster.Vip(victim));
        await UntilAsync(async () => await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m") >= 41, TimeSpan.FromSeconds(30));
        var before = await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m");

        cluster.Nodes[victim - 1]!.Kill();
        var clock = Stopwatch.StartNew();
        await cluster.WaitForMembersAsync(survivor, 2, TimeSpan.FromSeconds(90));
        var removedAfter = clock.Elapsed;
        // Past the 10 s after which a node's report no longer counts as live, and past its totals' adoption by a
        // survivor: the figure never drops.
        var lowest = long.MaxValue;
        while (clock.Elapsed < removedAfter + TimeSpan.FromSeconds(20))
        {
            lowest = Math.Min(lowest, await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m"));
            await Task.Delay(500);
        }

        var after = await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m");
        var heirs = cluster.Running.Where(n => n.Output.Contains("now counts the totals of module m", StringComparison.Ordinal)).ToList();
        output.WriteLine($"entity on node {host}, node {victim} killed after {before - 1} of the {before} accepted flows went through it; removed after {removedAfter.TotalSeconds:F1} s; " +
            $"accepted flows lowest {lowest}, at the end {after}; heirs {heirs.Count}");
        Assert.Equal(before, lowest);
        Assert.Equal(before, after);
        Assert.Single(heirs);
    }

    [Fact]
    public async Task KillNine_ClearBetweenTheCrashAndTheHandOver_TheDeadNodesTotalsDoNotComeBack()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();
        var survivor = cluster.Nodes[0]!;
        var host = await EntityHostAsync(survivor);
        var victim = host == 3 ? 2 : 3;
        for (var i = 0; i < 30; i++) await CurlOkAsync(cluster.Vip(victim));
        await UntilAsync(async () => await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m") >= 30, TimeSpan.FromSeconds(30));

        cluster.Nodes[victim - 1]!.Kill();
        // At once: the module's entity holds the dead node's last report, which goes to a survivor only once the dead node
        // has been downed and silent for 10 s. The dead node, still a member, does not answer (5 s), and says so.
        var cleared = await survivor.CtlAsync("clear", "ssl-proxy", "stats");
        var handedOverBefore = cluster.Running.Any(n => n.Output.Contains("now counts the totals of module m", StringComparison.Ordinal));
        Assert.False(handedOverBefore, "the hand-over came before the clear ended: this test needs it after");
        Assert.NotEqual(0, cleared.ExitCode);
        Assert.Contains("on 2 node(s)", cleared.Stdout + cleared.Stderr, StringComparison.Ordinal);
        Assert.Contains($"%% node akka.ssl.tcp://sslcluster@127.0.0.{victim}:{cluster.RemotingPort} did not answer: its counters were not cleared", cleared.Stdout + cleared.Stderr, StringComparison.Ordinal);
        await cluster.WaitForMembersAsync(survivor, 2, TimeSpan.FromSeconds(90));

        var highest = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            highest = Math.Max(highest, await ThreeNodeClusterTests.AcceptedFlowsAsync(survivor, "m"));
            await Task.Delay(500);
        }

        var heirs = cluster.Running.Count(n => n.Output.Contains("now counts the totals of module m", StringComparison.Ordinal));
        output.WriteLine($"entity on node {host}, node {victim} killed after 30 flows and cleared before the hand-over; " +
            $"accepted flows at most {highest} in the 20 s after the dead node's removal; heirs {heirs}");
        Assert.Equal(0, highest);
        Assert.Equal(1, heirs);
    }

    [Fact]
    public async Task ClearTextRule_FlowsOnTwoNodesThenOneDrains_ShowSslFlowsSumsThemAndKeepsTheDrainedNodesTotals()
    {
        // The actor system's information lines too: the drain's hand-over says how many rows went where.
        await using var cluster = await LocalCluster.StartAsync(3, null, "--set", "sslcluster.node.log.akka-level=INFO");
        var plain = NodeProcess.FreePort();
        await cluster.ConfigureVipAsync($$"""

            service web
              ip address 127.0.0.9
              port {{cluster.BackendPort}}
              active
            owner o
              content plain
                vip address 127.0.0.1
                port {{plain}}
                add service web
                active
            """);
        for (var i = 0; i < 5; i++) await CurlOkAsync(new Uri($"http://127.0.0.2:{plain}/"));
        for (var i = 0; i < 7; i++) await CurlOkAsync(new Uri($"http://127.0.0.3:{plain}/"));
        var first = cluster.Nodes[0]!;
        // Node 1 served none of them: what it shows comes from the rule's entity, summed over the reports of nodes 2 and 3.
        await UntilAsync(async () => await RuleAcceptedAsync(first) == 12, TimeSpan.FromSeconds(30));
        var shown = await first.CtlAsync("show", "ssl", "flows");
        Ok(shown);
        var text = shown.Stdout;
        Assert.Contains("Clear-text Flows for content rule o/plain", text, StringComparison.Ordinal);
        Assert.Contains("SSL Acceleration Flows for module m", text, StringComparison.Ordinal);

        Ok(await cluster.Nodes[2]!.CtlAsync("node", "drain"));
        Assert.Equal(0, await WaitForExitAsync(cluster.Nodes[2]!, TimeSpan.FromSeconds(60)));
        // Node 3 served the rule alone, no TLS flow: its one row is the rule's, and it went to another member.
        var drainedLog = cluster.Nodes[2]!.Output;
        Assert.True(drainedLog.Contains("drain: handed the totals of 1 row(s) of modules and clear-text rules to ", StringComparison.Ordinal), drainedLog);
        await cluster.WaitForMembersAsync(first, 2, TimeSpan.FromSeconds(30));
        // Past the 10 s after which node 3's last report stops counting as live: its totals are node 1's or 2's now,
        // counted once (the heir's reports name node 3, whose last report the entity then drops).
        var (lowest, highest) = (long.MaxValue, 0L);
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(15); await Task.Delay(500))
        {
            var accepted = await RuleAcceptedAsync(first);
            (lowest, highest) = (Math.Min(lowest, accepted), Math.Max(highest, accepted));
        }

        Assert.Equal((12L, 12L), (lowest, highest));
        Assert.Equal(12, await RuleAcceptedAsync(first));

        static async Task<long> RuleAcceptedAsync(NodeProcess node)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(await node.AdminGetAsync(SslCluster.Protocol.Admin.AdminPaths.SslFlows));
            return doc.RootElement.GetProperty("rules").EnumerateArray()
                .Where(r => r.GetProperty("module").GetString() == "o/plain")
                .SelectMany(r => r.GetProperty("rows").EnumerateArray()).Sum(r => r.GetProperty("accepted").GetInt64());
        }
    }

    private static async Task CurlOkAsync(Uri url)
    {
        var r = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "10", url.ToString()], null, TimeSpan.FromSeconds(20));
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    /// <summary>The index of the node (1-3, its address 127.0.0.N) that holds module m's entity: the one ssl-module shard with an entity.</summary>
    private static async Task<int> EntityHostAsync(NodeProcess node)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await node.AdminGetAsync(SslCluster.Protocol.Admin.AdminPaths.ShardStats + "?type=ssl-module"));
        var shard = doc.RootElement.GetProperty("shards").EnumerateArray().Single(s => s.GetProperty("entities").GetInt32() > 0);
        var address = shard.GetProperty("address").GetString()!;
        var host = address[(address.IndexOf('@', StringComparison.Ordinal) + 1)..address.LastIndexOf(':')];
        return int.Parse(host.Split('.')[3], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ShardRebalanceAndProxyListReassignment_UnderLoad_NoFailedRequest()
    {
        await using var cluster = await LocalCluster.StartAsync(2);
        // Two modules behind one content rule; m2 has its own copy of the proxy list.
        await cluster.ConfigureVipAsync("""

            ssl-proxy-list p2
              ssl-server 1
              ssl-server 1 rsakey k
              ssl-server 1 rsacert c
              ssl-server 1 vip address 127.0.0.1
            """ + $"\n  ssl-server 1 port {cluster.HttpsPort}\n  ssl-server 1 cipher ecdhe-rsa-with-aes-128-gcm-sha256 127.0.0.9 {BackendPortOf(cluster)}\n  active\n" + """
            service m2
              type ssl-accel
              add ssl-proxy-list p2
              active
            owner o
              content c
                add service m2
            """);
        await using var load = LoadOn(cluster, 1, 2);
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));

        // A third node joins: sharding moves shards to it while the load runs.
        var third = await cluster.StartNodeAsync(3);
        await cluster.WaitForMembersAsync(third, 3, TimeSpan.FromSeconds(60));
        var rebalancedAfter = await UntilAsync(async () => (await third.CtlAsync("cluster", "shards")).Stdout.Contains("127.0.0.3", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60));
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));

        // The reference's front-end procedure: weight 0, wait for m2's flows to end, move it to a new list, back to weight 1.
        Ok(await cluster.Nodes[0]!.CtlWithInputAsync($"""
            ssl-proxy-list p3
              ssl-server 1
              ssl-server 1 rsakey k
              ssl-server 1 rsacert c
              ssl-server 1 vip address 127.0.0.1
              ssl-server 1 port {cluster.HttpsPort}
              ssl-server 1 cipher ecdhe-rsa-with-aes-256-gcm-sha384 127.0.0.9 {BackendPortOf(cluster)}
              active
            service m2
              weight 0
            """, "configure", "-"));
        await load.WaitForMoreAsync(100, TimeSpan.FromSeconds(30));
        var m2Before = await ThreeNodeClusterTests.AcceptedFlowsAsync(cluster.Nodes[0]!, "m2");
        Ok(await cluster.Nodes[1]!.CtlWithInputAsync("""
            service m2
              suspend
              remove ssl-proxy-list p2
              add ssl-proxy-list p3
              weight 1
              active
            """, "configure", "-"));
        var servingAgainAfter = await UntilAsync(async () => await ThreeNodeClusterTests.AcceptedFlowsAsync(third, "m2") > m2Before, TimeSpan.FromSeconds(30));
        await load.WaitForMoreAsync(150, TimeSpan.FromSeconds(30));
        await load.DisposeAsync();

        NoFailures(load);
        Assert.Matches(MovedToP3(), (await third.CtlAsync("show", "running-config")).Stdout);
        output.WriteLine($"shard rebalance to a joining node: node 3 hosted shards {rebalancedAfter.TotalSeconds:F1} s after it was up; proxy-list reassignment of m2: " +
            $"serving again {servingAgainAfter.TotalSeconds:F1} s after the change; {load.Succeeded} requests, 0 failed, {load.Retried} retried; " +
            $"served by {string.Join(", ", load.ServedByNode.Select(s => $"{s.Key}: {s.Value}"))}");
    }

    [GeneratedRegex(@"service m2\n(.*\n)*?\s*add ssl-proxy-list p3")]
    private static partial Regex MovedToP3();

    private static int BackendPortOf(LocalCluster cluster) => cluster.BackendPort;

    private static async Task<int> WaitForExitAsync(NodeProcess node, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!node.HasExited)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the drained node did not exit:\n" + node.Output);
            await Task.Delay(100);
        }
        return node.ExitCode;
    }

    /// <summary>Time until one request on a new connection to <paramref name="url"/> succeeds.</summary>
    private static async Task<TimeSpan> FirstSuccessAsync(Uri url, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        using var http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        }) { Timeout = TimeSpan.FromSeconds(5) };
        while (clock.Elapsed < timeout)
        {
            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode) return clock.Elapsed;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"{url} never answered");
    }

    private static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"condition not met within {timeout}");
            await Task.Delay(250);
        }
        return clock.Elapsed;
    }
}
