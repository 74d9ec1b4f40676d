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
        if pid != 0:
            import fcntl, struct, termios
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
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
        for keys, wait in [(b"cluster sho\t", 1), (b"\r", 4), (b"cluster-sharding region-s\t", 1), (b"\r", 4), (b"\x1b[A", 1), (b"\r", 4), (b"cluster sh\t", 1), (b"\x15", 0), (b"cluster-sharding shard-stats ss\t", 1), (b"\r", 4), (b"exit\r", 3)]:
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
        // "cluster sho" and a tab became "cluster show ", which ran: a table with borders, for a person.
        Assert.Matches(@"│ akka\.tcp://sslcluster@127\.0\.0\.1:\d+ │ Up\s+│ yes\s+│ revision \d+\s+│ leader oldest \(this node\) │", screen);
        Assert.Contains("╭", screen, StringComparison.Ordinal);
        // "region-s" completed to region-stats; the up arrow recalled it and it ran again.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(screen, @"│ ssl-module\s+│ akka").Count);
        // An ambiguous word lists its choices.
        Assert.Contains("show  shards", screen, StringComparison.Ordinal);
        // A name from the node: "ss" completed to the entity type ssl-module, whose shards were listed.
        Assert.Matches(@"ssl-module: \d+ shard\(s\)", screen);
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

    [Fact]
    public async Task ShowConnections_ThreeNodes_EveryNodesConnectionsWithVipBytesAndBackEnd()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();
        // One kept-alive TLS connection on each node, one request answered on each; two more on node 2.
        var streams = new List<System.Net.Security.SslStream>();
        try
        {
            foreach (var i in new[] { 1, 2, 3, 2, 2 })
            {
                var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Parse($"127.0.0.{i}"), cluster.HttpsPort);
                var tls = new System.Net.Security.SslStream(client.GetStream(), false, (_, _, _, _) => true);
                await tls.AuthenticateAsClientAsync("localhost");
                streams.Add(tls);
                await BackendTestKit.KeepAliveGetAsync(tls, "/", "</html>");
            }

            using var all = JsonDocument.Parse(Ok(await cluster.Nodes[0]!.CtlAsync("-o", "json", "show", "connections")));
            var nodes = all.RootElement.GetProperty("nodes").EnumerateArray().ToList();
            Assert.Equal(3, nodes.Count);
            Assert.Empty(all.RootElement.GetProperty("silent").EnumerateArray());
            foreach (var (node, i) in nodes.Select((n, k) => (n, k + 1)))
            {
                Assert.Equal($"akka.ssl.tcp://sslcluster@127.0.0.{i}:{cluster.RemotingPort}", node.GetProperty("node").GetString());
                var rows = node.GetProperty("rows").EnumerateArray().ToList();
                Assert.Equal(i == 2 ? 3 : 1, rows.Count);
                foreach (var row in rows)
                {
                    Assert.Equal("m", row.GetProperty("owner").GetString());
                    Assert.Equal("Relaying", row.GetProperty("phase").GetString());
                    Assert.Equal($"127.0.0.1:{cluster.HttpsPort}", row.GetProperty("vip").GetString());
                    Assert.Equal($"127.0.0.9:{cluster.BackendPort}", row.GetProperty("backend").GetString());
                    Assert.StartsWith($"127.0.0.1:", row.GetProperty("client").GetString(), StringComparison.Ordinal);
                    // The handshake (full, or resumed: .NET offers the session of an earlier connection) and one request each way, TLS records included.
                    Assert.InRange(row.GetProperty("bytesFromClient").GetInt64(), 100, 4_000);
                    Assert.InRange(row.GetProperty("bytesToClient").GetInt64(), 500, 100_000);
                }
            }

            var text = Ok(await cluster.Nodes[2]!.CtlAsync("show", "connections"));
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("5 open connection(s) on 3 node(s)", lines[0]);
            Assert.Matches(@"^Node\s+Client\s+VIP\s+Module or rule\s+Phase\s+From client\s+To client\s+Age\s+Back end\s+Revision$", lines[1]);
            Assert.Equal(5, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l,
                $@"^akka\.ssl\.tcp://sslcluster@127\.0\.0\.[123]:{cluster.RemotingPort}\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:{cluster.HttpsPort}\s+m\s+Relaying\s+[\d.]+ (B|KiB)\s+[\d.]+ (B|KiB)\s+\d+\.\ds\s+127\.0\.0\.9:{cluster.BackendPort}\s+\d+$")));

            // Filters: one member, one module, a client with no connection.
            using var second = JsonDocument.Parse(Ok(await cluster.Nodes[0]!.CtlAsync("-o", "json", "show", "connections", "node", $"akka.ssl.tcp://sslcluster@127.0.0.2:{cluster.RemotingPort}")));
            var only = Assert.Single(second.RootElement.GetProperty("nodes").EnumerateArray());
            Assert.Equal(3, only.GetProperty("total").GetInt32());
            using var module = JsonDocument.Parse(Ok(await cluster.Nodes[0]!.CtlAsync("-o", "json", "show", "connections", "module", "m")));
            Assert.Equal(5, module.RootElement.GetProperty("nodes").EnumerateArray().Sum(n => n.GetProperty("total").GetInt32()));
            Assert.Equal("0 open connection(s) on 3 node(s)\n", Ok(await cluster.Nodes[0]!.CtlAsync("show", "connections", "client", "127.0.0.99")));
            var noMember = await cluster.Nodes[0]!.CtlAsync("show", "connections", "node", "akka.tcp://sslcluster@127.0.0.99:1");
            Assert.True(noMember.ExitCode == 1 && noMember.Stderr.Contains("no member akka.tcp://sslcluster@127.0.0.99:1", StringComparison.Ordinal), noMember.ToString());

            // Live: refreshed in place, the bytes grow as the clients talk.
            var watch = cluster.Nodes[0]!.CtlAsync("-o", "json", "--watch", "2", "--times", "2", "show", "connections");
            await Task.Delay(800);
            foreach (var s in streams) await BackendTestKit.KeepAliveGetAsync(s, "/", "</html>");
            var frames = Ok(await watch).Split("\n}\n", StringSplitOptions.RemoveEmptyEntries).Select(f => JsonDocument.Parse(f + "\n}")).ToList();
            Assert.Equal(2, frames.Count);
            long ToClients(JsonDocument d) => d.RootElement.GetProperty("nodes").EnumerateArray().SelectMany(n => n.GetProperty("rows").EnumerateArray()).Sum(r => r.GetProperty("bytesToClient").GetInt64());
            Assert.True(ToClients(frames[1]) > ToClients(frames[0]), $"{ToClients(frames[0])} then {ToClients(frames[1])}");
            foreach (var f in frames) f.Dispose();
        }
        finally
        {
            foreach (var s in streams) await s.DisposeAsync();
        }
    }

    [Fact]
    public async Task ShowConnections_ThousandsOfConnectionsOnOneNode_ItsOldestThousandReachEveryNodeInParts()
    {
        // Each connection dials the back end at its handshake and sends nothing: the back end must not drop them meanwhile.
        await using var cluster = await LocalCluster.StartAsync(3, backendIdleTimeout: TimeSpan.FromMinutes(10));
        await cluster.ConfigureVipAsync();
        // 1,500 open TLS connections on node 2, more rows than one cluster message carries (a few hundred).
        const int Open = 1_500;
        var streams = new System.Collections.Concurrent.ConcurrentBag<System.Net.Security.SslStream>();
        try
        {
            using var gate = new SemaphoreSlim(50);
            await Task.WhenAll(Enumerable.Range(0, Open).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    var client = new System.Net.Sockets.TcpClient();
                    await client.ConnectAsync(System.Net.IPAddress.Parse("127.0.0.2"), cluster.HttpsPort);
                    var tls = new System.Net.Security.SslStream(client.GetStream(), false, (_, _, _, _) => true);
                    streams.Add(tls);
                    await tls.AuthenticateAsClientAsync("localhost").WaitAsync(TimeSpan.FromSeconds(30));
                }
                finally
                {
                    gate.Release();
                }
            }));

            var node2 = $"akka.ssl.tcp://sslcluster@127.0.0.2:{cluster.RemotingPort}";
            // Node 1 and node 3 over the network; node 2 asking itself.
            foreach (var (asker, args) in new[] { (0, new[] { "-o", "json", "show", "connections" }), (2, ["-o", "json", "show", "connections", "node", node2]), (1, ["-o", "json", "show", "connections"]) })
            {
                using var answer = JsonDocument.Parse(Ok(await cluster.Nodes[asker]!.CtlAsync(args)));
                Assert.Empty(answer.RootElement.GetProperty("silent").EnumerateArray());
                var second = answer.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("node").GetString() == node2);
                Assert.Equal(Open, second.GetProperty("total").GetInt32());
                var ages = second.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("ageSeconds").GetDouble()).ToList();
                Assert.Equal(1_000, ages.Count);
                Assert.Equal(ages.OrderByDescending(a => a), ages);
            }

            var text = Ok(await cluster.Nodes[0]!.CtlAsync("show", "connections"));
            Assert.StartsWith($"{Open} open connection(s) on 3 node(s), the oldest 1000 shown (each node lists its oldest 1,000: filter by module, client or node, or raise the limit, for the rest)\n", text, StringComparison.Ordinal);

            // A limit above the default lists them all, from another node; one below, the oldest few.
            using (var all = JsonDocument.Parse(Ok(await cluster.Nodes[0]!.CtlAsync("-o", "json", "show", "connections", "limit", "5000"))))
            {
                Assert.Equal(5_000, all.RootElement.GetProperty("limit").GetInt32());
                var second = all.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("node").GetString() == node2);
                Assert.Equal(Open, second.GetProperty("rows").GetArrayLength());
            }
            var lines = Ok(await cluster.Nodes[0]!.CtlAsync("show", "connections", "limit", "5000")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"{Open} open connection(s) on 3 node(s)", lines[0]);
            Assert.Equal(Open, lines.Count(l => l.StartsWith(node2, StringComparison.Ordinal)));
            var few = Ok(await cluster.Nodes[2]!.CtlAsync("show", "connections", "node", node2, "limit", "7"));
            Assert.StartsWith($"{Open} open connection(s) on 1 node(s), the oldest 7 shown (each node lists its oldest 7:", few, StringComparison.Ordinal);
            // The node says what limit it takes, whoever asks.
            using var http = new HttpClient();
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                (await File.ReadAllTextAsync(Path.Combine(cluster.Nodes[0]!.DataDir, "admin.token"))).Trim());
            foreach (var (limit, error) in new[] { ("10001", "limit must be from 1 to 10,000 connections per node, not 10001"), ("abc", "limit takes a number of connections per node, not 'abc'") })
            {
                using var refused = await http.GetAsync(new Uri($"http://127.0.0.1:{cluster.Nodes[0]!.AdminPort}{SslCluster.Protocol.Admin.AdminPaths.Connections}?limit={limit}"));
                Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
                using var body = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
                Assert.Equal(error, body.RootElement.GetProperty("error").GetString());
            }
        }
        finally
        {
            foreach (var s in streams) await s.DisposeAsync();
        }
    }

    [Fact]
    public async Task BashCompletion_RealBash_CompletesCommandsAndTheNodesNames()
    {
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        await node.MakeKeyAsync("k", "c", "localhost");
        Ok(await node.CtlWithInputAsync(NodeProcess.OneVip(NodeProcess.FreePort(), NodeProcess.FreePort()), "configure", "-"));
        using var cluster = JsonDocument.Parse(Ok(await node.CtlAsync("-o", "json", "cluster", "show")));
        var address = cluster.RootElement.GetProperty("members")[0].GetProperty("address").GetString()!;
        // sslctl on the PATH, as an installed CLI is; its endpoint and token from the environment.
        var bin = Directory.CreateDirectory(Path.Combine(node.DataDir, "bin")).FullName;
        var wrapper = Path.Combine(bin, "sslctl");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec dotnet {NodeProcess.CliDll} \"$@\"\n");
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var token = (await File.ReadAllTextAsync(Path.Combine(node.DataDir, "admin.token"))).Trim();
        // What bash does on a tab: COMP_WORDS split at its word breaks (the colons of an address too), then the function.
        const string script = """
            source <(sslctl completion bash)
            tab() {
                COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
                local cur=${COMP_LINE##*[ :]}
                COMP_WORDS=(${COMP_LINE}); [[ -z "$cur" ]] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                _sslctl
                echo "$1|${COMPREPLY[*]}"
            }
            tab "sslctl cluster-sharding re"
            tab "sslctl show service "
            tab "sslctl show ssl-proxy-list "
            tab "sslctl show connections module "
            tab "sslctl -o json show content "
            tab "sslctl cluster leave ${ADDRESS%:*}:"
            """;

        var r = await Run.ProcessAsync("env", [$"PATH={bin}:{Environment.GetEnvironmentVariable("PATH")}", $"SSLCTL_ENDPOINT=http://127.0.0.1:{node.AdminPort}",
            $"SSLCTL_TOKEN={token}", $"ADDRESS={address}", "bash", "-c", script], null, TimeSpan.FromSeconds(60));

        var lines = Ok(r).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("sslctl cluster-sharding re|regions region-stats", lines[0]);
        Assert.Equal("sslctl show service |m", lines[1]);
        Assert.Equal("sslctl show ssl-proxy-list |p", lines[2]);
        Assert.Equal("sslctl show connections module |m c", lines[3]);
        Assert.Equal("sslctl -o json show content |c", lines[4]);
        // bash keeps what precedes the last colon: the candidate is the port alone.
        Assert.Equal($"sslctl cluster leave {address[..address.LastIndexOf(':')]}:|{address[(address.LastIndexOf(':') + 1)..]}", lines[5]);
    }

    [Fact]
    public async Task ClusterJoin_NodeWhoseFormationWaits_JoinsTheNamedCluster_AMemberRefuses()
    {
        await using var cluster = await LocalCluster.StartAsync(2);
        var first = cluster.Nodes[0]!;
        using var members = JsonDocument.Parse(Ok(await first.CtlAsync("-o", "json", "cluster", "show")));
        var oldest = members.RootElement.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("age").GetInt32() == 0).GetProperty("address").GetString()!;
        // Node 3 lists a contact point that never answers (127.0.0.4): bootstrap waits, and node 3 forms nothing.
        var third = cluster.LaunchNode(3, "--contact-points", $"127.0.0.3:{cluster.ManagementPort},127.0.0.4:{cluster.ManagementPort}");
        ProcessResult shown;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        do
        {
            await Task.Delay(500);
            shown = await third.CtlAsync("-o", "json", "cluster", "show");
        }
        while (shown.ExitCode != 0 && DateTime.UtcNow < deadline);
        using (var alone = JsonDocument.Parse(Ok(shown)))
            Assert.Empty(alone.RootElement.GetProperty("members").EnumerateArray());

        var refused = await first.CtlAsync("cluster", "join", oldest);
        var bad = await third.CtlAsync("cluster", "join", "127.0.0.1:4100");
        var plainProtocol = await third.CtlAsync("cluster", "join", oldest.Replace("akka.ssl.tcp:", "akka.tcp:", StringComparison.Ordinal));
        var itself = await third.CtlAsync("cluster", "join", $"akka.ssl.tcp://sslcluster@127.0.0.3:{cluster.RemotingPort}");
        var joined = await third.CtlAsync("cluster", "join", oldest);

        Assert.True(refused.ExitCode == 1 && refused.Stderr.Contains("is already a member (Up) of a cluster of 2", StringComparison.Ordinal), refused.ToString());
        Assert.True(bad.ExitCode == 1 && bad.Stderr.Contains("is not a member address such as akka.ssl.tcp://sslcluster@HOST:PORT", StringComparison.Ordinal), bad.ToString());
        // Akka would ignore a join of another protocol with a warning in the log; the operator is told instead.
        Assert.True(plainProtocol.ExitCode == 1 && plainProtocol.Stderr.Contains("its members are akka.ssl.tcp://sslcluster@HOST:PORT", StringComparison.Ordinal), plainProtocol.ToString());
        Assert.True(itself.ExitCode == 1 && itself.Stderr.Contains("is this node", StringComparison.Ordinal), itself.ToString());
        Assert.Contains($"is joining the cluster of {oldest}", Ok(joined), StringComparison.Ordinal);
        await cluster.WaitForMembersAsync(first, 3, TimeSpan.FromSeconds(60));
        await third.WaitReadyAsync(TimeSpan.FromSeconds(60));
        using var stats = JsonDocument.Parse(Ok(await third.CtlAsync("-o", "json", "cluster-sharding", "shard-stats", "ssl-module")));
        Assert.Equal("ssl-module", stats.RootElement.GetProperty("typeName").GetString());
        var unknownType = await third.CtlAsync("cluster-sharding", "shard-stats", "nothing");
        Assert.True(unknownType.ExitCode == 1 && unknownType.Stderr.Contains("no entity type 'nothing': ssl-module or backend-server", StringComparison.Ordinal), unknownType.ToString());
    }

    private static string Ok(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout;
    }
}
