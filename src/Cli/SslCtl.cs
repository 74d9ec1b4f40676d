using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Cli;

/// <summary>Exit codes a script can rely on.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The node refused the command (a configuration error, a failed key command).</summary>
    public const int Refused = 1;

    /// <summary>The command line itself is wrong.</summary>
    public const int Usage = 2;

    /// <summary>The node could not be reached, or refused the token.</summary>
    public const int Unreachable = 3;
}

/// <summary>
/// sslctl, the operator CLI: command palettes in the style of Petabridge.Cmd (<c>show</c>, <c>ssl</c>,
/// <c>cluster</c>, <c>configure</c>) over a node's authenticated admin endpoint.
/// </summary>
public static class SslCtl
{
    private static readonly System.Text.Json.JsonSerializerOptions Indented = new(AdminJson.Options) { WriteIndented = true };

    private const string Usage = """
        usage: sslctl [--endpoint URL] [--ca FILE] [--token TOKEN | --token-file FILE | --data-dir DIR] [-o text|json]
                      [--watch SECONDS [--times N]] [COMMAND]
        Without a COMMAND, on a terminal: a shell that runs one command a line (tab completion, history).
        sslctl completion bash prints bash completion (source <(sslctl completion bash)).

        commands:
          configure FILE|-               apply configuration text (validated whole; nothing changes on error)
                    [--strict-ciphers]   refuse legacy cipher names instead of warning
          show running-config            print the configuration
          show ssl flows                 per module: Virtual, Port, TCP Proxy Flows, Active SSL Flows, SSL Flows in Handshake
          show ssl files                 the certificate store (keys are never printed)
          show ssl sessions              this node's TLS session cache and ticket keys (names only)
          show service [NAME]            services: type, keepalive state (Alive, Dying, Down, Suspended), connections
          show keepalive [NAME]          keepalives: type, timing, state, last failure, module used for encrypted ones
          show content [NAME]            content rules: VIP, balance, stickiness, services with state and hits
          show ssl-proxy-list [NAME]     proxy lists: ssl-servers, backend-servers (verified or not), modules
          ssl genrsa NAME BITS "PASSWORD"
          ssl genecdsa NAME "PASSWORD"
          ssl gencsr KEY [cn=NAME] [o=ORG] [ou=UNIT] [l=CITY] [st=STATE] [c=CC] [email=ADDR] [san=DNS,...]
          ssl gencert certkey KEY signkey KEY FILE "PASSWORD" [cn=NAME] [days=N] [san=DNS,...]
          copy ssl file:PATH import NAME pem|der|pkcs12 "PASSWORD"
          copy ssl file:PATH export NAME pem|der|pkcs12 "PASSWORD"
          show connections [module NAME] [client IP] [node ADDRESS] [limit N]
                                         open connections of every node, oldest first: node, client, VIP, module,
                                         phase, bytes from and to the client, age, back end (live: --watch 2);
                                         each node lists its oldest N (1,000 unless named, at most 10,000)
          show ssl-proxy stats [tcp|ssl|hdr|pki|app-if]   SSLM statistics summed over the cluster
          show ssl-proxy service [NAME]  SSLM proxy services: context, addresses, status; one with its counters
          show ssl-proxy conn [service NAME] [client IP]  open connections of every node
          clear ssl-proxy stats [tcp|ssl|hdr|pki] [service NAME]  counters back to zero on every node
          cluster show                   members of the cluster and the configuration revision each holds
          cluster leader                 the cluster's leader
          cluster tail [--for SECONDS]   the members, then every change as it happens (until Ctrl-C)
          cluster shards                 which node hosts how many module and backend-server shards
          cluster-sharding regions       the sharded entity types (Petabridge.Cmd's palette)
          cluster-sharding region-stats  the same as cluster shards
          cluster-sharding shard-stats TYPE   every shard of TYPE (ssl-module, backend-server): node and entities
          cluster join ADDRESS           a node whose formation is still waiting joins the cluster of that member
          node drain [--wait]            this node stops accepting, hands its shards off, waits for its
                                         connections (sslcluster.proxy.drain-timeout), leaves and exits;
                                         --wait returns once it has stopped (Kubernetes' preStop hook)
          cluster leave [ADDRESS]        drain the member at ADDRESS (as cluster show prints it), through this
                                         node; without ADDRESS, this node (Petabridge.Cmd's name for node drain)
          cluster down ADDRESS           mark a member down (one that crashed or hangs; a live one stops)
          cluster rolling-restart        drain every member in turn, youngest first and the oldest last, each
                                         once its predecessor is back (its supervisor starts it again), holds
                                         the cluster's configuration and serves it

        The endpoint defaults to $SSLCTL_ENDPOINT or http://127.0.0.1:9440; the token to $SSLCTL_TOKEN, else the
        file admin.token in --data-dir (default ./data). An https endpoint (sslcluster.node.admin.tls) is checked
        against the system's CAs, or only against the PEM CA certificates of --ca FILE (or $SSLCTL_CA).
        -o json prints a read command's answer as the node gave it (JSON), for scripts. --watch SECONDS repeats a read
        command, drawn in place (for example: sslctl --watch 2 show ssl flows); --times N stops after N refreshes.
        exit codes: 0 done, 1 refused by the node, 2 usage error, 3 node unreachable or token refused
        """;

    public static Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr) =>
        RunAsync(args, stdin, stdout, stderr, inShell: false);

    /// <param name="inShell">A line of the shell: a usage error says what is wrong without the whole usage text.</param>
    private static async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, bool inShell)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdin);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args is ["completion", "bash"])
        {
            await stdout.WriteLineAsync(Completion.BashScript);
            return ExitCodes.Ok;
        }
        if (args is ["__complete", var completeLine, var wordBreaks])
            return await CompleteAsync(completeLine, wordBreaks, stdout);
        var endpoint = Environment.GetEnvironmentVariable("SSLCTL_ENDPOINT") ?? "http://127.0.0.1:9440";
        string? caOption = null;
        var token = Environment.GetEnvironmentVariable("SSLCTL_TOKEN");
        string? tokenFile = null;
        var dataDir = "data";
        var strict = false;
        var json = false;
        TimeSpan? watch = null;
        int? times = null;
        var words = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Length) throw new UsageException($"{args[i]} needs a value");
                return args[++i];
            }
            try
            {
                switch (args[i])
                {
                    case "--endpoint": endpoint = Value(); break;
                    case "--ca": caOption = Value(); break;
                    case "--token": token = Value(); break;
                    case "--token-file": tokenFile = Value(); break;
                    case "--data-dir": dataDir = Value(); break;
                    case "--strict-ciphers": strict = true; break;
                    case "--watch":
                        var every = Value();
                        watch = int.TryParse(every, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is >= 1 and <= 3600
                            ? TimeSpan.FromSeconds(seconds) : throw new UsageException($"--watch takes the seconds between refreshes, 1 to 3600, not '{every}'");
                        break;
                    case "--times":
                        var count = Value();
                        times = int.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 1
                            ? n : throw new UsageException($"--times takes how many refreshes to show, 1 or more, not '{count}'");
                        break;
                    case "-o" or "--output":
                        var format = Value();
                        json = format switch
                        {
                            "json" => true,
                            "text" => false,
                            _ => throw new UsageException($"{args[i - 1]} takes json or text, not '{format}'"),
                        };
                        break;
                    case "-h" or "--help" or "help":
                        await stdout.WriteLineAsync(Usage);
                        return ExitCodes.Ok;
                    default: words.Add(args[i]); break;
                }
            }
            catch (UsageException e)
            {
                await stderr.WriteLineAsync($"sslctl: {e.Message}{UsageTail(inShell)}");
                return ExitCodes.Usage;
            }
        }
        // --ca, given outright, must suit the endpoint (an http one is refused); $SSLCTL_CA applies to an https endpoint only.
        var ca = caOption ?? CaFromEnvironment(endpoint);
        // No command on a terminal: the interactive shell. Without a terminal (a script, a pipe) it stays a usage error.
        var interactive = words.Count == 0 && ReferenceEquals(stdin, Console.In) && !Console.IsInputRedirected && !Console.IsOutputRedirected;
        if (words.Count == 0 && !interactive)
        {
            await stderr.WriteLineAsync(Usage);
            return ExitCodes.Usage;
        }
        if (!interactive && (watch is not null || times is not null) && !IsRead(words))
        {
            await stderr.WriteLineAsync($"sslctl: --watch and --times repeat a read command (show ..., cluster show, cluster shards, cluster-sharding ...), not '{string.Join(' ', words)}'{UsageTail(inShell)}");
            return ExitCodes.Usage;
        }
        Uri baseUri;
        HttpClient http;
        try
        {
            (baseUri, token) = await NodeAsync(endpoint, token, tokenFile, dataDir);
            // Longer than the node's own deadline for a configure (60 s), so that its answer, whatever it is, arrives; the
            // shell asks for the names to complete with a short one, so that a slow node never holds the prompt.
            http = Client(baseUri, ca, token, interactive ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(90));
        }
        catch (UsageException e)
        {
            await stderr.WriteLineAsync($"sslctl: {e.Message}");
            return ExitCodes.Usage;
        }
        using var _ = http;

        if (interactive)
        {
            var resolved = token;
            return await Shell.RunAsync(
                line => RunAsync(["--endpoint", endpoint, "--token", resolved, .. (ca is null ? Array.Empty<string>() : ["--ca", ca]), .. (json ? new[] { "-o", "json" } : []), .. line],
                    stdin, stdout, stderr, inShell: true),
                () => SendAsync<NamesResponse>(http, HttpMethod.Get, AdminPaths.Names, null),
                endpoint);
        }

        // Ctrl-C ends a live view (--watch, cluster tail) cleanly.
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            // Tables are drawn for a person on a terminal, plain for a pipe or a file.
            var terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
            if (watch is null && times is null) return await DispatchAsync(http, words, strict, json, terminal, stdin, stdout, stderr, cancel.Token);
            // A live view: the command again every interval, drawn in place on a terminal (frames follow each other
            // when the output goes to a file or a pipe), until Ctrl-C or --times.
            var interval = watch ?? TimeSpan.FromSeconds(2);
            for (var frame = 0; times is null || frame < times; frame++)
            {
                if (frame > 0)
                {
                    try
                    {
                        await Task.Delay(interval, cancel.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
                if (terminal) await stdout.WriteAsync("\u001b[H\u001b[2J");
                if (!json) await stdout.WriteLineAsync($"{string.Join(' ', words)}: every {interval.TotalSeconds:0} s, Ctrl-C stops ({DateTime.Now:HH:mm:ss})");
                var code = await DispatchAsync(http, words, strict, json, terminal, stdin, stdout, stderr, cancel.Token);
                if (code != ExitCodes.Ok) return code;
            }
            return ExitCodes.Ok;
        }
        catch (UsageException e)
        {
            await stderr.WriteLineAsync($"sslctl: {e.Message}{UsageTail(inShell)}");
            return ExitCodes.Usage;
        }
        catch (NodeErrorException e)
        {
            await stderr.WriteLineAsync($"sslctl: the node could not do it: {e.Message}");
            return ExitCodes.Refused;
        }
        catch (HttpRequestException e)
        {
            await stderr.WriteLineAsync($"sslctl: cannot reach the node at {baseUri}: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (TaskCanceledException)
        {
            await stderr.WriteLineAsync($"sslctl: the node at {baseUri} did not answer within 90 s");
            return ExitCodes.Unreachable;
        }
        catch (AuthException e)
        {
            await stderr.WriteLineAsync($"sslctl: {e.Message}");
            return ExitCodes.Unreachable;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>$SSLCTL_CA when <paramref name="endpoint"/> is https: set for a remote node, it does not stand in the way of a local http one.</summary>
    private static string? CaFromEnvironment(string endpoint) =>
        Environment.GetEnvironmentVariable("SSLCTL_CA") is { Length: > 0 } ca && endpoint.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? ca : null;

    /// <summary>The node's endpoint and the token to give it: from the options, the environment, or the data folder's token file.</summary>
    /// <exception cref="UsageException">The endpoint is not an http(s) URL, or no token can be found.</exception>
    private static async Task<(Uri BaseUri, string Token)> NodeAsync(string endpoint, string? token, string? tokenFile, string dataDir)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            throw new UsageException($"--endpoint '{endpoint}' is not an http(s) URL such as http://127.0.0.1:9440");
        if (token is not null) return (baseUri, token);
        var path = tokenFile ?? Path.Combine(dataDir, AdminPaths.TokenFileName);
        if (!File.Exists(path)) throw new UsageException($"no admin token: '{path}' does not exist; pass --token, --token-file or --data-dir of the node");
        return (baseUri, (await File.ReadAllTextAsync(path)).Trim());
    }

    /// <exception cref="UsageException">The CA file cannot be used (missing, no certificate, an http endpoint).</exception>
    private static HttpClient Client(Uri baseUri, string? ca, string token, TimeSpan timeout)
    {
        HttpClient http;
        try
        {
            http = AdminHttp.Create(baseUri, ca, timeout);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>
    /// <c>sslctl __complete LINE WORDBREAKS</c>, for bash: the candidates for the word at the end of LINE, one a line.
    /// Names come from the node the line's options (or the environment) name, within two seconds; without an answer,
    /// the command words still complete. Never fails: bash shows nothing rather than an error.
    /// </summary>
    private static async Task<int> CompleteAsync(string line, string wordBreaks, TextWriter stdout)
    {
        var words = Shell.Split(line);
        string? Option(string name, string? fallback)
        {
            var at = words.FindLastIndex(w => w == name);
            return at >= 0 && at + 1 < words.Count - (line.EndsWith(' ') ? 0 : 1) ? words[at + 1] : fallback;
        }

        var names = NamesResponse.None;
        try
        {
            var (baseUri, token) = await NodeAsync(Option("--endpoint", Environment.GetEnvironmentVariable("SSLCTL_ENDPOINT")) ?? "http://127.0.0.1:9440",
                Option("--token", Environment.GetEnvironmentVariable("SSLCTL_TOKEN")), Option("--token-file", null), Option("--data-dir", null) ?? "data");
            using var http = Client(baseUri, Option("--ca", CaFromEnvironment(baseUri.ToString())), token, TimeSpan.FromSeconds(2));
            names = await Shell.SafeAsync(() => SendAsync<NamesResponse>(http, HttpMethod.Get, AdminPaths.Names, null));
        }
        catch (Exception e) when (e is UsageException or AuthException or IOException or UnauthorizedAccessException)
        {
        }

        foreach (var candidate in Completion.CompleteLine(line, wordBreaks, names)) await stdout.WriteLineAsync(candidate);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// <c>cluster tail</c>: the members as they are, then every change as it is seen (a poll a second: a member that
    /// joins, moves to another status, comes back as a new incarnation, or is removed), until Ctrl-C or the time given.
    /// </summary>
    private static async Task<int> TailAsync(Func<Task<ClusterResponse>> getCluster, TextWriter stdout, TimeSpan? limit, CancellationToken cancel)
    {
        var seen = new Dictionary<string, (long Uid, string Status)>(StringComparer.Ordinal);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!cancel.IsCancellationRequested && (limit is null || watch.Elapsed < limit))
        {
            ClusterResponse now;
            try
            {
                now = await getCluster();
            }
            catch (HttpRequestException e)
            {
                await stdout.WriteLineAsync($"{DateTime.Now:HH:mm:ss} the endpoint does not answer ({e.Message}); trying again");
                await Delay();
                continue;
            }
            foreach (var m in now.Members)
            {
                if (seen.TryGetValue(m.Address, out var was) && was.Uid == m.Uid && was.Status == m.Status) continue;
                var what = !seen.TryGetValue(m.Address, out was) ? m.Status : was.Uid != m.Uid ? $"{m.Status} (a new incarnation)" : $"{was.Status} -> {m.Status}";
                await stdout.WriteLineAsync($"{DateTime.Now:HH:mm:ss} {m.Address} {what}{(m.Address == now.Leader ? " (leader)" : "")}");
                seen[m.Address] = (m.Uid, m.Status);
            }
            foreach (var gone in seen.Keys.Where(a => now.Members.All(m => m.Address != a)).ToList())
            {
                await stdout.WriteLineAsync($"{DateTime.Now:HH:mm:ss} {gone} Removed");
                seen.Remove(gone);
            }
            await Delay();
        }
        return ExitCodes.Ok;

        async Task Delay()
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static string Draining(DrainResponse drain) => drain.AlreadyDraining
        ? $"{drain.Node} is already draining"
        : $"{drain.Node} is draining: it stopped accepting, hands its shards to the other nodes, waits up to {drain.DrainTimeoutSeconds}s for its {drain.OpenConnections} open connection(s), then leaves the cluster and exits";

    private static string UsageTail(bool inShell) => inShell ? " ('help' lists the commands)" : $"\n\n{Usage}";

    /// <summary>Whether the command only reads (so that --watch may repeat it).</summary>
    private static bool IsRead(List<string> w)
    {
        var command = string.Join(' ', w.Take(2)).ToLowerInvariant();
        return w[0].Equals("show", StringComparison.OrdinalIgnoreCase) || w[0].Equals("cluster-sharding", StringComparison.OrdinalIgnoreCase)
            || command is "cluster show" or "cluster leader" or "cluster shards";
    }

    private static async Task<int> DispatchAsync(HttpClient http, List<string> w, bool strict, bool json, bool terminal, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancel)
    {
        // A read command prints its table, or with -o json the node's answer as it came, for scripts.
        async Task<int> Print<T>(T answer, Func<T, string> text, bool ok = true)
        {
            await (ok ? stdout : stderr).WriteAsync(json ? System.Text.Json.JsonSerializer.Serialize(answer, Indented) + "\n" : text(answer));
            return ok ? ExitCodes.Ok : ExitCodes.Refused;
        }

        var command = string.Join(' ', w.Take(3)).ToLowerInvariant();
        switch (w[0].ToLowerInvariant())
        {
            case "configure":
                if (w.Count != 2) throw new UsageException("write 'configure FILE' or 'configure -' (stdin)");
                string text;
                if (w[1] == "-")
                {
                    text = await stdin.ReadToEndAsync();
                }
                else
                {
                    if (!File.Exists(w[1])) throw new UsageException($"configuration file '{w[1]}' does not exist");
                    text = await File.ReadAllTextAsync(w[1]);
                }
                var result = await SendAsync<ConfigureResponse>(http, HttpMethod.Post, AdminPaths.Configure, new ConfigureRequest(text, strict, "sslctl " + w[1]));
                foreach (var d in result.Diagnostics)
                    await (d.Severity == DiagnosticSeverity.Error ? stderr : stdout).WriteLineAsync(d.ToString());
                if (!result.Applied)
                {
                    await stderr.WriteLineAsync($"configuration rejected: {result.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error)} error(s); nothing was changed");
                    return ExitCodes.Refused;
                }
                await stdout.WriteLineAsync($"configuration applied: revision {result.Revision}");
                return ExitCodes.Ok;
            case "show" when command == "show running-config":
                return await Print(await SendAsync<RunningConfigResponse>(http, HttpMethod.Get, AdminPaths.RunningConfig, null), rc => rc.Text);
            case "show" when command == "show ssl flows":
                return await Print(await SendAsync<FlowsResponse>(http, HttpMethod.Get, AdminPaths.SslFlows, null), flows => Views.Flows(flows.Modules, terminal, flows.Rules));
            case "show" when command == "show ssl files":
                return await Print(await SendAsync<FilesResponse>(http, HttpMethod.Get, AdminPaths.Files, null), files => Views.Files(files, terminal));
            case "show" when w.Count >= 2 && w[1].Equals("connections", StringComparison.OrdinalIgnoreCase):
                return await Print(await SendAsync<ConnectionsResponse>(http, HttpMethod.Get, ConnectionsQuery(w.Skip(2).ToList()), null), c => Views.Connections(c, terminal));
            case "show" when command == "show ssl sessions":
                return await Print(await SendAsync<SessionCacheResponse>(http, HttpMethod.Get, AdminPaths.Sessions, null), s => Views.Sessions(s, terminal));
            case "show" when w.Count is 2 or 3 && w[1] is "service" or "keepalive" or "content" or "ssl-proxy-list":
                var shown = await SendAsync<ShowResponse>(http, HttpMethod.Post, AdminPaths.Show, new ShowRequest(w[1], w.Count == 3 ? w[2] : null));
                return await Print(shown, r => r.Text, shown.Found);
            case "show" or "clear" when w.Count >= 2 && w[1].Equals("ssl-proxy", StringComparison.OrdinalIgnoreCase):
                var proxy = await SendAsync<ShowResponse>(http, HttpMethod.Post, AdminPaths.SslProxy, new SslProxyRequest(w[0].Equals("clear", StringComparison.OrdinalIgnoreCase), w.Skip(2).ToList()));
                return await Print(proxy, r => r.Text, proxy.Found);
            case "show":
                throw new UsageException($"unknown show command '{string.Join(' ', w)}'; try 'show running-config', 'show ssl flows', 'show ssl files', 'show ssl sessions', 'show connections', 'show service [NAME]', 'show keepalive [NAME]', 'show content [NAME]', 'show ssl-proxy-list [NAME]' or 'show ssl-proxy stats|service|conn'");
            case "ssl" or "copy":
                var response = await SendAsync<SslCommandResponse>(http, HttpMethod.Post, AdminPaths.SslCommand, new SslCommandRequest(w));
                await (response.Succeeded ? stdout : stderr).WriteLineAsync(response.Output.TrimEnd());
                return response.Succeeded ? ExitCodes.Ok : ExitCodes.Refused;
            case "cluster" when command == "cluster show":
                return await Print(await SendAsync<ClusterResponse>(http, HttpMethod.Get, AdminPaths.Cluster, null), cluster => Views.Members(cluster, terminal));
            case "cluster" when command == "cluster leader":
                var led = await SendAsync<ClusterResponse>(http, HttpMethod.Get, AdminPaths.Cluster, null);
                return await Print(new ClusterLeader(led.Leader), l => (l.Leader ?? "no leader (the cluster has not converged)") + "\n", led.Leader is not null);
            case "cluster" when command == "cluster shards":
            case "cluster-sharding" when command == "cluster-sharding region-stats":
                return await Print(await SendAsync<ShardsResponse>(http, HttpMethod.Get, AdminPaths.Shards, null), shards => Views.Regions(shards, terminal));
            case "cluster-sharding" when w.Count == 3 && w[1].Equals("shard-stats", StringComparison.OrdinalIgnoreCase):
                return await Print(await SendAsync<ShardStatsResponse>(http, HttpMethod.Get, $"{AdminPaths.ShardStats}?type={Uri.EscapeDataString(w[2])}", null),
                    stats => Views.ShardStats(stats, terminal));
            case "cluster-sharding" when command == "cluster-sharding regions":
                var regions = await SendAsync<ShardsResponse>(http, HttpMethod.Get, AdminPaths.Shards, null);
                return await Print(new ShardingRegions([.. regions.Regions.Select(r => r.TypeName).Distinct(StringComparer.Ordinal)]),
                    r => string.Concat(r.TypeNames.Select(n => n + "\n")));
            case "cluster" when w.Count == 3 && w[1].Equals("join", StringComparison.OrdinalIgnoreCase):
                var joining = await SendAsync<ClusterJoinResponse>(http, HttpMethod.Post, AdminPaths.ClusterJoin, new ClusterMemberRequest(w[2]));
                await stdout.WriteLineAsync($"{joining.Self} is joining the cluster of {joining.Node}: 'cluster tail' shows it come up");
                return ExitCodes.Ok;
            case "cluster" when w.Count == 3 && w[1].Equals("down", StringComparison.OrdinalIgnoreCase):
                var downed = await SendAsync<ClusterDownResponse>(http, HttpMethod.Post, AdminPaths.ClusterDown, new ClusterMemberRequest(w[2]));
                await stdout.WriteLineAsync($"{downed.Node} is marked down: the leader removes it, and its shards and singletons start on the other members");
                return ExitCodes.Ok;
            case "cluster" when w.Count >= 2 && w[1].Equals("tail", StringComparison.OrdinalIgnoreCase):
                TimeSpan? tailFor = w.Count == 4 && w[2] == "--for" && int.TryParse(w[3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var forSeconds) && forSeconds >= 1
                    ? TimeSpan.FromSeconds(forSeconds)
                    : w.Count == 2 ? null : throw new UsageException("write 'cluster tail' (until Ctrl-C) or 'cluster tail --for SECONDS'");
                return await TailAsync(() => SendAsync<ClusterResponse>(http, HttpMethod.Get, AdminPaths.Cluster, null), stdout, tailFor, cancel);
            case "cluster" when command == "cluster rolling-restart":
                return await new RollingRestart(stdout, TimeProvider.System).RunAsync(
                    () => SendAsync<ClusterResponse>(http, HttpMethod.Get, AdminPaths.Cluster, null),
                    r => SendAsync<DrainResponse>(http, HttpMethod.Post, AdminPaths.ClusterDrain, r));
            case "cluster" when w.Count == 3 && w[1].Equals("leave", StringComparison.OrdinalIgnoreCase) && w[2] != "--wait":
                var left = await SendAsync<DrainResponse>(http, HttpMethod.Post, AdminPaths.ClusterDrain, new ClusterMemberRequest(w[2]));
                await stdout.WriteLineAsync(Draining(left));
                return ExitCodes.Ok;
            case "cluster" when command is "cluster leave" or "cluster leave --wait":
            case "node" when command is "node drain" or "node drain --wait":
                var drain = await SendAsync<DrainResponse>(http, HttpMethod.Post, AdminPaths.Drain, null);
                await stdout.WriteLineAsync(Draining(drain));
                if (!command.EndsWith(" --wait", StringComparison.Ordinal)) return ExitCodes.Ok;
                // --wait (Kubernetes' preStop): until the node has stopped answering, that is, it has left and exited.
                var limit = TimeSpan.FromSeconds(drain.DrainTimeoutSeconds + 90);
                var watch = System.Diagnostics.Stopwatch.StartNew();
                while (watch.Elapsed < limit)
                {
                    try
                    {
                        using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                        using var alive = await http.GetAsync(new Uri(AdminPaths.Health, UriKind.Relative), probe.Token);
                    }
                    catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConnectionError)
                    {
                        // Refused: the endpoint is gone with the node. A slow answer (a timeout) is not taken for that.
                        await stdout.WriteLineAsync($"{drain.Node} has left the cluster and stopped ({watch.Elapsed.TotalSeconds:0} s)");
                        return ExitCodes.Ok;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                    {
                    }
                    await Task.Delay(500);
                }
                await stderr.WriteLineAsync($"sslctl: {drain.Node} still answers {limit.TotalSeconds:0} s after the drain began");
                return ExitCodes.Refused;
            case "cluster-sharding":
                throw new UsageException($"unknown command '{string.Join(' ', w)}'; try 'cluster-sharding regions', 'cluster-sharding region-stats' or 'cluster-sharding shard-stats TYPE'");
            case "cluster" or "node":
                throw new UsageException($"unknown command '{string.Join(' ', w)}'; try 'cluster show', 'cluster leader', 'cluster tail', 'cluster shards', 'cluster join ADDRESS', 'cluster leave [ADDRESS]', 'cluster down ADDRESS', 'cluster rolling-restart' or 'node drain'");
            default:
                throw new UsageException($"unknown command '{string.Join(' ', w)}'");
        }
    }

    /// <summary>The query of <c>show connections [module NAME] [client IP] [node ADDRESS] [limit N]</c>.</summary>
    private static string ConnectionsQuery(List<string> filters)
    {
        const string Usage = "show connections [module NAME] [client IP] [node ADDRESS] [limit N]";
        var query = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < filters.Count; i += 2)
        {
            var name = filters[i].ToLowerInvariant();
            var known = name is "module" or "client" or "node" or "limit";
            if (!known || i + 1 >= filters.Count || !seen.Add(name))
                throw new UsageException($"write '{Usage}', each once{(i + 1 >= filters.Count && known ? $" ('{filters[i]}' needs a value)" : "")}");
            if (name == "limit" && ConnectionsResponse.ParseLimit(filters[i + 1]).Error is { } wrong) throw new UsageException(wrong);
            query.Add($"{name}={Uri.EscapeDataString(filters[i + 1])}");
        }

        return query.Count == 0 ? AdminPaths.Connections : $"{AdminPaths.Connections}?{string.Join('&', query)}";
    }

    private static async Task<T> SendAsync<T>(HttpClient http, HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: AdminJson.Options);
        using var response = await http.SendAsync(request);
        if (response.StatusCode is HttpStatusCode.Unauthorized)
            throw new AuthException("the node refused the admin token (HTTP 401); use the token in the node's data folder");
        if (response.StatusCode is HttpStatusCode.Forbidden)
        {
            // The token is known but may not do this: the node says what it may do.
            var denied = await response.Content.ReadFromJsonAsync<ErrorResponse>(AdminJson.Options);
            throw new NodeErrorException($"not allowed: {denied?.Error ?? "this token may not run this command (HTTP 403)"}");
        }
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.UnprocessableEntity)
        {
            var error = await response.Content.ReadAsStringAsync();
            // The node's own explanation (a store that is moving, an actor that timed out, no such member) is printed as it is.
            if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.Conflict)
            {
                ErrorResponse? why = null;
                try
                {
                    why = System.Text.Json.JsonSerializer.Deserialize<ErrorResponse>(error, AdminJson.Options);
                }
                catch (System.Text.Json.JsonException)
                {
                }
                if (why?.Error is { Length: > 0 } message) throw new NodeErrorException(message);
            }
            throw new HttpRequestException($"HTTP {(int)response.StatusCode}: {error}");
        }
        return await response.Content.ReadFromJsonAsync<T>(AdminJson.Options)
            ?? throw new HttpRequestException("the node sent an empty answer");
    }

    private sealed class UsageException(string message) : Exception(message);

    private sealed class AuthException(string message) : Exception(message);

    /// <summary>A member's configuration revision, and how far and how long it is behind the store when it is.</summary>
    internal static string RevisionText(ClusterMemberInfo m)
    {
        if (m.Revision is not { } r) return "revision ? (no answer)";
        if (m.StoreRevision is { } s && s != r && m.BehindSeconds is { } behind)
            return FormattableString.Invariant($"revision {r} (store has {s}, behind {behind:0.#} s)");
        return FormattableString.Invariant($"revision {r}");
    }
}

/// <summary>The node refused a command or could not carry it out; its reason is printed and the exit code is 1.</summary>
internal sealed class NodeErrorException(string message) : Exception(message);

/// <summary>The answer of <c>cluster leader</c>.</summary>
internal sealed record ClusterLeader(string? Leader);

/// <summary>The answer of <c>cluster-sharding regions</c>.</summary>
internal sealed record ShardingRegions(IReadOnlyList<string> TypeNames);
