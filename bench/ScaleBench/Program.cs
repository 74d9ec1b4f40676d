using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using SslCluster.Protocol.Admin;

// The configuration path at the size of a hosting provider's chassis, on real node processes (bench/scale.sh):
//   phase "load"  : make and import the key+certificate pairs, configure the ssl-servers, then measure
//                   configure -> in force on every node for one more ssl-server, memory per node, and the handshake
//                   rate of a VIP choosing among 255 ssl-servers by SNI against a VIP of one.
//   phase "roll"  : `sslctl cluster rolling-restart` (scale.sh supervises the nodes and starts each again after its
//                   drain) under a client load over every configured ssl-server name, retried on another node when a
//                   connection fails: how long it took, requests served and failed, then every node serving again.
//   phase "join"  : a node started empty at a given time: how long until it holds the store's revision and is ready.
// Every figure goes to standard output as "figure<TAB>value<TAB>unit" lines (scale.sh makes the report from them).
var options = Options.Parse(args);
return options.Phase switch
{
    "load" => await Load.RunAsync(options),
    "roll" => await Roll.RunAsync(options),
    "join" => await Join.RunAsync(options),
    _ => Fail($"unknown phase '{options.Phase}' (load, roll or join)"),
};

static int Fail(string message)
{
    Console.Error.WriteLine("ScaleBench: " + message);
    return 2;
}

internal sealed record Node(int Index, int AdminPort, string DataDir, int Pid)
{
    public IPAddress Address => IPAddress.Parse($"127.0.0.{Index}");

    public HttpClient Http()
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}"), Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
            File.ReadAllText(Path.Combine(DataDir, AdminPaths.TokenFileName)).Trim());
        return http;
    }

    /// <summary>Resident memory of the node process (kB).</summary>
    public long RssKb() => long.Parse(File.ReadAllLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

internal sealed record Options(string Phase, string Work, int Pairs, int Servers, IReadOnlyList<Node> Nodes, long StartedAtMs, string Sslctl)
{
    /// <summary>--phase load|roll|join --work DIR --pairs N --servers N --node INDEX:ADMINPORT:DATADIR:PID ... [--started-at EPOCHMS] [--sslctl DLL]</summary>
    public static Options Parse(string[] args)
    {
        string Value(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 ? args[i + 1] : fallback;
        var nodes = new List<Node>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] != "--node") continue;
            var p = args[i + 1].Split(':');
            nodes.Add(new Node(int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture), p[2], int.Parse(p[3], CultureInfo.InvariantCulture)));
        }
        return new Options(Value("--phase", "load"), Value("--work", "/tmp/sslcluster-scale"), int.Parse(Value("--pairs", "10000"), CultureInfo.InvariantCulture),
            int.Parse(Value("--servers", "2000"), CultureInfo.InvariantCulture), nodes, long.Parse(Value("--started-at", "0"), CultureInfo.InvariantCulture),
            Value("--sslctl", ""));
    }
}

internal static class Figures
{
    public static void Report(string figure, double value, string unit) =>
        Console.WriteLine(FormattableString.Invariant($"{figure}\t{value:0.###}\t{unit}"));

    public static void Note(string text) => Console.Error.WriteLine($"[scale {DateTime.Now:HH:mm:ss}] {text}");
}

internal static class Tls
{
    /// <summary>The subject of the certificate <paramref name="address"/>:<paramref name="port"/> presents for <paramref name="sni"/>; "" when the handshake fails.</summary>
    public static async Task<string> SubjectAsync(IPAddress address, int port, string sni)
    {
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(address, port);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var (tls, subject) = await HandshakeAsync(tcp, sni, cts.Token);
            await tls.DisposeAsync();
            return subject;
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            return "";
        }
    }

    /// <summary>A TLS handshake on <paramref name="tcp"/> offering <paramref name="sni"/>, any certificate accepted: the stream, and the subject served ("" when none).</summary>
    public static async Task<(SslStream Tls, string Subject)> HandshakeAsync(TcpClient tcp, string sni, CancellationToken cancellationToken)
    {
        var subject = "";
        var tls = new SslStream(tcp.GetStream(), false, (_, c, _, _) =>
        {
            subject = c is null ? "" : X509CertificateLoader.LoadCertificate(c.GetRawCertData()).Subject;
            return true;
        });
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = sni }, cancellationToken);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
        return (tls, subject);
    }

    /// <summary>Full handshakes a second against <paramref name="port"/>, <paramref name="clients"/> at once, for <paramref name="duration"/>; each picks its SNI.</summary>
    public static async Task<double> HandshakeRateAsync(IPAddress address, int port, Func<int, string> sni, int clients, TimeSpan duration)
    {
        long done = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var n = c;
            while (clock.Elapsed < duration)
            {
                var subject = await SubjectAsync(address, port, sni(n));
                if (subject.Length > 0) Interlocked.Increment(ref done);
                n += clients;
            }
        }));
        return done / clock.Elapsed.TotalSeconds;
    }
}

internal static class Load
{
    public const int SniVipPort = 21443;
    public const int OneVipPort = 21444;
    public const int FirstListPort = 22000;
    public const int PerList = 16;
    public const int SniServers = 255;

    /// <summary>The VIP port serving site <paramref name="site"/> in <see cref="Configuration"/> (sites below the configured count).</summary>
    public static int PortOf(int site) => site < SniServers ? SniVipPort : site == SniServers ? OneVipPort : FirstListPort + (site - SniServers - 1) / PerList;

    public static async Task<int> RunAsync(Options o)
    {
        // Step 4 adds five ssl-servers, from the pairs after the first SERVERS; the SNI VIP and the one-name VIP take 256.
        if (o.Pairs < o.Servers + 5 || o.Servers < SniServers + 2)
        {
            Console.Error.WriteLine($"ScaleBench: PAIRS ({o.Pairs}) must be at least SERVERS + 5 and SERVERS ({o.Servers}) at least {SniServers + 2}");
            return 2;
        }
        var node1 = o.Nodes[0];
        using var http = node1.Http();

        // 1. Key+certificate pairs (RSA-2048, self-signed for siteN.scale.test), made once and kept in WORK.
        var pairs = Path.Combine(o.Work, "pairs");
        Directory.CreateDirectory(pairs);
        var clock = Stopwatch.StartNew();
        var made = 0;
        Parallel.For(0, o.Pairs, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var path = Path.Combine(pairs, $"site{i}.pem");
            if (File.Exists(path)) return;
            using var key = RSA.Create(2048);
            var request = new CertificateRequest($"CN=site{i}.scale.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName($"site{i}.scale.test");
            request.CertificateExtensions.Add(san.Build());
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(365));
            File.WriteAllText(path + ".tmp", key.ExportPkcs8PrivateKeyPem() + "\n" + cert.ExportCertificatePem() + "\n");
            File.Move(path + ".tmp", path);
            Interlocked.Increment(ref made);
        });
        Figures.Note($"{o.Pairs} RSA-2048 pairs ready ({made} made now) in {clock.Elapsed.TotalSeconds:0} s");

        // 2. Import through node 1, as sslctl does (one request per pair: the PEM holds key and certificate).
        var present = (await http.GetFromJsonAsync<FilesResponse>(AdminPaths.Files, AdminJson.Options))!.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var missing = Enumerable.Range(0, o.Pairs).Where(i => !present.Contains($"site{i}-key")).ToList();
        clock.Restart();
        var imported = 0;
        await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
        {
            using var r = await http.PostAsJsonAsync(AdminPaths.SslCommand,
                new SslCommandRequest(["copy", "ssl", "file:" + Path.Combine(pairs, $"site{i}.pem"), "import", $"site{i}", "pem", $"pw-{i}"]), AdminJson.Options, ct);
            if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"import of pair {i}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync(ct)}");
            if (Interlocked.Increment(ref imported) % 500 == 0) Figures.Note($"imported {imported}/{missing.Count}");
        });
        if (missing.Count > 0) Figures.Report("import_pairs_per_second", missing.Count / clock.Elapsed.TotalSeconds, "pairs/s");
        Figures.Report("store_files", 2 * o.Pairs, "files");

        // 3. The ssl-servers: 255 on one VIP chosen by SNI, one alone on another VIP, the rest in lists of 16, each list
        // a module with its content rule on a VIP of its own (127.0.0.1:PORT, mapped to each node's own address).
        var text = Configuration(o);
        clock.Restart();
        var revision = await ConfigureAsync(http, text);
        var committed = clock.Elapsed;
        await InForceEverywhereAsync(o, revision);
        Figures.Report("configure_commit_seconds", committed.TotalSeconds, "s");
        Figures.Report("configure_in_force_all_nodes_seconds", clock.Elapsed.TotalSeconds, "s");
        Figures.Report("configuration_characters", text.Length, "chars");
        Figures.Note($"{o.Servers} ssl-servers in force on every node (revision {revision})");

        // 4. One more ssl-server, five times: from the configure request to every node serving it.
        var lastList = (o.Servers - SniServers - 1 + PerList - 1) / PerList - 1;
        var times = new List<double>();
        var commits = new List<double>();
        for (var k = 0; k < 5; k++)
        {
            var site = o.Servers + k;
            var number = 100 + k;
            var extra = $"ssl associate rsakey k{site} site{site}-key\nssl associate cert c{site} site{site}-cert\n" +
                $"ssl-proxy-list l{lastList}\n  ssl-server {number}\n  ssl-server {number} rsakey k{site}\n  ssl-server {number} rsacert c{site}\n" +
                $"  ssl-server {number} vip address 127.0.0.1\n  ssl-server {number} port {FirstListPort + lastList}\n" +
                $"  ssl-server {number} cipher ecdhe-rsa-with-aes-128-gcm-sha256 127.0.0.9 {Roll.BackendPort}\n";
            clock.Restart();
            await ConfigureAsync(http, extra);
            commits.Add(clock.Elapsed.TotalSeconds);
            foreach (var node in o.Nodes)
            {
                while (await Tls.SubjectAsync(node.Address, FirstListPort + lastList, $"site{site}.scale.test") != $"CN=site{site}.scale.test")
                {
                    if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"node {node.Index} does not serve site{site} after 60 s");
                    await Task.Delay(10);
                }
            }
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        Figures.Report("one_more_ssl_server_commit_seconds_median", commits.Order().ElementAt(2), "s");
        Figures.Report("one_more_ssl_server_in_force_all_nodes_seconds_median", times[2], "s");
        Figures.Report("one_more_ssl_server_in_force_all_nodes_seconds_max", times[^1], "s");

        // 5. Memory per node, with everything loaded.
        GC.Collect();
        await Task.Delay(2000);
        foreach (var node in o.Nodes)
        {
            Figures.Report($"node{node.Index}_rss_mib", node.RssKb() / 1024.0, "MiB");
            using var metricsHttp = node.Http();
            var metrics = await metricsHttp.GetStringAsync(AdminPaths.Metrics);
            double Gauge(string name) => double.Parse(metrics.Split('\n').First(l => l.StartsWith(name + "{", StringComparison.Ordinal)).Split(' ')[^1], CultureInfo.InvariantCulture);
            Figures.Report($"node{node.Index}_gc_heap_mib", Gauge("sslcluster_gc_heap_bytes") / (1024 * 1024), "MiB");
            Figures.Report($"node{node.Index}_gc_committed_mib", Gauge("sslcluster_gc_committed_bytes") / (1024 * 1024), "MiB");
        }

        // 6. Handshakes a second on node 1: the VIP of 255 ssl-servers (a random one of its names each time) against
        // the VIP of one. Same key size, same cipher; only the SNI choice differs.
        var names = Enumerable.Range(0, SniServers).Select(i => $"site{i}.scale.test").ToArray();
        foreach (var round in new[] { 1, 2 })
        {
            var sni = await Tls.HandshakeRateAsync(node1.Address, SniVipPort, n => names[(n * 7919) % names.Length], 8, TimeSpan.FromSeconds(8));
            var one = await Tls.HandshakeRateAsync(node1.Address, OneVipPort, _ => $"site{SniServers}.scale.test", 8, TimeSpan.FromSeconds(8));
            Figures.Report($"handshakes_per_second_255_sni_round{round}", sni, "1/s");
            Figures.Report($"handshakes_per_second_1_name_round{round}", one, "1/s");
        }
        return 0;
    }

    public static string Configuration(Options o)
    {
        var s = new StringBuilder();
        for (var i = 0; i < o.Servers; i++) s.Append(CultureInfo.InvariantCulture, $"ssl associate rsakey k{i} site{i}-key\nssl associate cert c{i} site{i}-cert\n");
        // Associations for the sites the later single changes add (files already imported).
        void Server(int n, int site, int port) => s.Append(CultureInfo.InvariantCulture,
            $"  ssl-server {n}\n  ssl-server {n} rsakey k{site}\n  ssl-server {n} rsacert c{site}\n  ssl-server {n} vip address 127.0.0.1\n  ssl-server {n} port {port}\n" +
            $"  ssl-server {n} cipher ecdhe-rsa-with-aes-128-gcm-sha256 127.0.0.9 {Roll.BackendPort}\n");
        void Module(string list, int port) => s.Append(CultureInfo.InvariantCulture,
            $"service m-{list}\n  type ssl-accel\n  keepalive type none\n  add ssl-proxy-list {list}\n  active\nowner scale\n  content r-{list}\n    vip address 127.0.0.1\n    port {port}\n    add service m-{list}\n    active\n");
        s.Append("ssl-proxy-list sni\n");
        for (var i = 0; i < SniServers; i++) Server(i + 1, i, SniVipPort);
        s.Append("  active\n");
        Module("sni", SniVipPort);
        s.Append("ssl-proxy-list one\n");
        Server(1, SniServers, OneVipPort);
        s.Append("  active\n");
        Module("one", OneVipPort);
        var list = -1;
        for (var i = SniServers + 1; i < o.Servers; i++)
        {
            var k = i - SniServers - 1;
            if (k % PerList == 0)
            {
                if (list >= 0)
                {
                    s.Append("  active\n");
                    Module($"l{list}", FirstListPort + list);
                }
                list++;
                s.Append(CultureInfo.InvariantCulture, $"ssl-proxy-list l{list}\n");
            }
            Server(k % PerList + 1, i, FirstListPort + list);
        }
        s.Append("  active\n");
        Module($"l{list}", FirstListPort + list);
        return s.ToString();
    }

    public static async Task<long> ConfigureAsync(HttpClient http, string text)
    {
        using var r = await http.PostAsJsonAsync(AdminPaths.Configure, new ConfigureRequest(text, Source: "scale-bench"), AdminJson.Options);
        var body = await r.Content.ReadAsStringAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"configure: {(int)r.StatusCode} {body[..Math.Min(body.Length, 2000)]}");
        return System.Text.Json.JsonSerializer.Deserialize<ConfigureResponse>(body, AdminJson.Options)!.Revision;
    }

    /// <summary>Waits until every node reports <paramref name="revision"/> in force and ready.</summary>
    public static async Task InForceEverywhereAsync(Options o, long revision)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        foreach (var node in o.Nodes)
        {
            using var http = node.Http();
            while (true)
            {
                using var r = await http.GetAsync(AdminPaths.Ready);
                var body = await r.Content.ReadAsStringAsync();
                if (r.IsSuccessStatusCode && long.Parse(body.Split(' ')[^1].Trim(), CultureInfo.InvariantCulture) >= revision) break;
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"node {node.Index} never held revision {revision}: {body}");
                await Task.Delay(50);
            }
        }
    }
}

internal static class Roll
{
    /// <summary>The back end every ssl-server forwards to: 127.0.0.9:BackendPort, served by this phase while it runs.</summary>
    public const int BackendPort = 18099;

    private const int Workers = 8;
    private const int Attempts = 3;

    public static async Task<int> RunAsync(Options o)
    {
        if (o.Sslctl.Length == 0 || !File.Exists(o.Sslctl)) return Fail($"--sslctl must name sslctl.dll (got '{o.Sslctl}')");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        using var backend = new TcpListener(IPAddress.Parse("127.0.0.9"), BackendPort);
        backend.Start(512);
        var serving = ServeAsync(backend, stop.Token);

        using var store = o.Nodes[0].Http();
        var before = await RunningConfigAsync(store);
        var load = new Clients(o, stop.Token);
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(() => load.WorkAsync(w))).ToArray();
        try
        {
            await load.WaitForMoreAsync(200, TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException e)
        {
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            await serving;
            return Fail("the load does not run before the restart: " + e.Message);
        }
        var okBefore = load.Ok;

        var clock = Stopwatch.StartNew();
        var sslctl = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { o.Sslctl, "--endpoint", $"http://127.0.0.1:{o.Nodes[0].AdminPort}", "--data-dir", o.Nodes[0].DataDir, "cluster", "rolling-restart" })
        {
            sslctl.ArgumentList.Add(a);
        }
        using var rolling = Process.Start(sslctl)!;
        var output = rolling.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var errors = rolling.StandardError.ReadToEndAsync(CancellationToken.None);
        var finished = true;
        try
        {
            await rolling.WaitForExitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // The phase's limit: no more drains once the figures are reported.
            finished = false;
            rolling.Kill(entireProcessTree: true);
            await rolling.WaitForExitAsync(CancellationToken.None);
            Figures.Note("the rolling restart did not finish within the phase's 20 minutes; sslctl was stopped");
        }
        var rollSeconds = clock.Elapsed.TotalSeconds;
        var okDuring = load.Ok - okBefore;
        var sitesDuring = load.Sites.Count;
        foreach (var line in (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries)) Figures.Note("sslctl: " + line);
        foreach (var line in (await errors).Split('\n', StringSplitOptions.RemoveEmptyEntries)) Figures.Note("sslctl (stderr): " + line);
        var settled = true;
        try
        {
            // The load goes on until every node serves again: 200 more requests after the restart.
            if (finished) await load.WaitForMoreAsync(200, TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException e)
        {
            settled = false;
            Figures.Note(e.Message);
        }
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        await serving;

        // Every node was replaced: the processes that ran before the restart are gone.
        var replaced = o.Nodes.Count(n => !Directory.Exists($"/proc/{n.Pid}"));
        Figures.Report("rolling_restart_exit_code", finished ? rolling.ExitCode : -1, "");
        Figures.Report("rolling_restart_seconds", rollSeconds, "s");
        Figures.Report("rolling_restart_nodes_replaced", replaced, "nodes");
        Figures.Report("rolling_restart_requests_during", okDuring, "requests");
        Figures.Report("rolling_restart_requests_ok", load.Ok, "requests");
        Figures.Report("rolling_restart_requests_failed", load.Failures.Count, "requests");
        Figures.Report("rolling_restart_connections_retried_refused", load.RetriedRefused, "connections");
        Figures.Report("rolling_restart_connections_retried_other", load.RetriedOther, "connections");
        Figures.Report("rolling_restart_slowest_request_ms", load.SlowestMs, "ms");
        Figures.Report("rolling_restart_distinct_sites_served_during", sitesDuring, "ssl-servers");
        foreach (var failure in load.Failures.Take(10)) Figures.Note("failed: " + failure);
        foreach (var retry in load.OtherRetries.Take(10)) Figures.Note("retried (not refused): " + retry);
        if (!finished || !settled) return 1;

        // Afterwards: the same configuration, every node at the store's revision, and every node serving every 7th site.
        var show = await store.GetFromJsonAsync<ClusterResponse>(AdminPaths.Cluster, AdminJson.Options);
        var revision = show!.Members.Where(m => m.Revision is not null).Max(m => m.StoreRevision ?? m.Revision!.Value);
        await Load.InForceEverywhereAsync(o, revision);
        var after = await RunningConfigAsync(store);
        Figures.Report("rolling_restart_configuration_unchanged", before == after ? 1 : 0, "");
        var wrong = 0;
        var checkedSites = 0;
        foreach (var node in o.Nodes)
        {
            for (var site = node.Index; site < o.Servers; site += 7)
            {
                checkedSites++;
                if (await Tls.SubjectAsync(node.Address, Load.PortOf(site), $"site{site}.scale.test") != $"CN=site{site}.scale.test") wrong++;
            }
        }
        Figures.Report("after_roll_sites_checked", checkedSites, "handshakes");
        Figures.Report("after_roll_sites_wrong", wrong, "handshakes");
        return rolling.ExitCode == 0 && replaced == o.Nodes.Count && load.Failures.IsEmpty && wrong == 0 && before == after ? 0 : 1;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("ScaleBench: " + message);
        return 2;
    }

    private static async Task<string> RunningConfigAsync(HttpClient http) =>
        (await http.GetFromJsonAsync<RunningConfigResponse>(AdminPaths.RunningConfig, AdminJson.Options))!.Text;

    /// <summary>The back end: each connection gets one 200 answer to its request and is closed.</summary>
    private static async Task ServeAsync(TcpListener listener, CancellationToken stop)
    {
        var answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray();
        var open = new List<Task>();
        try
        {
            while (true)
            {
                var client = await listener.AcceptSocketAsync(stop);
                open.Add(Task.Run(async () =>
                {
                    using var socket = client;
                    var buffer = new byte[4096];
                    var held = 0;
                    try
                    {
                        while (held < buffer.Length)
                        {
                            var n = await socket.ReceiveAsync(buffer.AsMemory(held), SocketFlags.None, stop);
                            if (n == 0) return;
                            held += n;
                            if (buffer.AsSpan(0, held).IndexOf("\r\n\r\n"u8) >= 0) break;
                        }
                        await socket.SendAsync(answer, SocketFlags.None, stop);
                        socket.Shutdown(SocketShutdown.Send);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException)
                    {
                        // The relay went away: nothing to answer.
                    }
                }, CancellationToken.None));
                open.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException)
        {
            // The phase is over.
        }
        await Task.WhenAll(open);
    }

    /// <summary>
    /// Clients that each open a TLS connection to one configured site (SNI and VIP port as configured), check the
    /// certificate served for it, send one request and read the answer to its end; a node is picked round the three,
    /// and a connection that fails is tried again on the next node, up to three times (a client that retries a
    /// refused connection elsewhere). A request fails when every attempt did.
    /// </summary>
    private sealed class Clients(Options o, CancellationToken stop)
    {
        private long _ok;
        private long _next;
        private long _retriedRefused;
        private long _retriedOther;
        private long _slowestTicks;

        public long Ok => Interlocked.Read(ref _ok);

        public long RetriedRefused => Interlocked.Read(ref _retriedRefused);

        public long RetriedOther => Interlocked.Read(ref _retriedOther);

        public double SlowestMs => TimeSpan.FromTicks(Interlocked.Read(ref _slowestTicks)).TotalMilliseconds;

        public System.Collections.Concurrent.ConcurrentQueue<string> Failures { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<string> OtherRetries { get; } = new();

        public System.Collections.Concurrent.ConcurrentDictionary<int, bool> Sites { get; } = new();

        public async Task WorkAsync(int worker)
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref _next);
                var site = (int)(n * 7919 % o.Servers);
                var started = Stopwatch.GetTimestamp();
                string? failure = null;
                for (var attempt = 0; attempt < Attempts; attempt++)
                {
                    var node = o.Nodes[(int)((n + attempt) % o.Nodes.Count)];
                    failure = await OneAsync(node.Address, site);
                    if (failure is null) break;
                    if (stop.IsCancellationRequested) return;
                    if (attempt + 1 < Attempts)
                    {
                        if (failure.EndsWith("refused", StringComparison.Ordinal)) Interlocked.Increment(ref _retriedRefused);
                        else
                        {
                            Interlocked.Increment(ref _retriedOther);
                            OtherRetries.Enqueue($"node {node.Index}, site{site}: {failure}");
                        }
                    }
                }
                if (failure is not null)
                {
                    Failures.Enqueue($"site{site}: {failure}");
                    continue;
                }
                Interlocked.Increment(ref _ok);
                Sites.TryAdd(site, true);
                var took = Stopwatch.GetElapsedTime(started).Ticks;
                long seen;
                while (took > (seen = Interlocked.Read(ref _slowestTicks)) && Interlocked.CompareExchange(ref _slowestTicks, took, seen) != seen)
                {
                }
            }
        }

        /// <summary>One request on a new connection: null when it succeeded, else why not ("... refused" when the connect was).</summary>
        private async Task<string?> OneAsync(IPAddress address, int site)
        {
            using var tcp = new TcpClient();
            try
            {
                await tcp.ConnectAsync(address, Load.PortOf(site), stop);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                return "connection refused";
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return "connect: " + e.Message;
            }
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop);
                limit.CancelAfter(TimeSpan.FromSeconds(15));
                var name = $"site{site}.scale.test";
                var (tls, subject) = await Tls.HandshakeAsync(tcp, name, limit.Token);
                await using var _ = tls;
                if (subject != $"CN={name}") return $"served '{subject}' for {name}";
                await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"), limit.Token);
                using var answer = new MemoryStream();
                await tls.CopyToAsync(answer, limit.Token);
                var text = Encoding.ASCII.GetString(answer.ToArray());
                return text.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal) && text.EndsWith("ok", StringComparison.Ordinal)
                    ? null
                    : $"answer '{text[..Math.Min(text.Length, 80)]}'";
            }
            catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
            {
                return e.GetType().Name + ": " + e.GetBaseException().Message;
            }
        }

        public async Task WaitForMoreAsync(long count, TimeSpan timeout)
        {
            var target = Ok + count;
            var deadline = DateTime.UtcNow + timeout;
            while (Ok < target && DateTime.UtcNow < deadline && !stop.IsCancellationRequested) await Task.Delay(50, CancellationToken.None);
            if (Ok < target) throw new TimeoutException($"only {Ok} requests succeeded, wanted {target}; failures: {string.Join(" | ", Failures.Take(5))}");
        }
    }
}

internal static class Join
{
    public static async Task<int> RunAsync(Options o)
    {
        var joiner = o.Nodes[^1];
        using var store = o.Nodes[0].Http();
        var show = await store.GetFromJsonAsync<ClusterResponse>(AdminPaths.Cluster, AdminJson.Options);
        var revision = show!.Members.Where(m => m.Revision is not null).Max(m => m.StoreRevision ?? m.Revision!.Value);
        await Load.InForceEverywhereAsync(o with { Nodes = [joiner] }, revision);
        var started = DateTimeOffset.FromUnixTimeMilliseconds(o.StartedAtMs);
        Figures.Report("join_catch_up_seconds", (DateTimeOffset.UtcNow - started).TotalSeconds, "s");
        Figures.Report($"node{joiner.Index}_rss_mib", joiner.RssKb() / 1024.0, "MiB");
        // The joiner serves the last ssl-server of the largest list.
        var subject = await Tls.SubjectAsync(joiner.Address, Load.SniVipPort, $"site{Load.SniServers - 1}.scale.test");
        Figures.Note($"node {joiner.Index} serves {subject}");
        return subject.Length > 0 ? 0 : 1;
    }
}
