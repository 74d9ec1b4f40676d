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
    private const string Usage = """
        usage: sslctl [--endpoint URL] [--token TOKEN | --token-file FILE | --data-dir DIR] COMMAND

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
          show connections               this node's open connections: module or rule, revision, phase, age, client
          show ssl-proxy stats [tcp|ssl|hdr|pki|app-if]   SSLM statistics summed over the cluster
          show ssl-proxy service [NAME]  SSLM proxy services: context, addresses, status; one with its counters
          show ssl-proxy conn [service NAME] [client IP]  open connections of every node
          clear ssl-proxy stats [tcp|ssl|hdr|pki] [service NAME]  counters back to zero on every node
          cluster show                   members of the cluster and the configuration revision each holds
          cluster shards                 which node hosts how many module and backend-server shards
          node drain [--wait]            this node stops accepting, hands its shards off, waits for its
                                         connections (sslcluster.proxy.drain-timeout), leaves and exits;
                                         --wait returns once it has stopped (Kubernetes' preStop hook)
          cluster leave [ADDRESS]        drain the member at ADDRESS (as cluster show prints it), through this
                                         node; without ADDRESS, this node (Petabridge.Cmd's name for node drain)
          cluster rolling-restart        drain every member in turn, youngest first and this node last, each
                                         once its predecessor is back (its supervisor starts it again) and holds
                                         the cluster's configuration

        The endpoint defaults to $SSLCTL_ENDPOINT or http://127.0.0.1:9440; the token to $SSLCTL_TOKEN, else the
        file admin.token in --data-dir (default ./data).
        exit codes: 0 done, 1 refused by the node, 2 usage error, 3 node unreachable or token refused
        """;

    public static async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdin);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var endpoint = Environment.GetEnvironmentVariable("SSLCTL_ENDPOINT") ?? "http://127.0.0.1:9440";
        var token = Environment.GetEnvironmentVariable("SSLCTL_TOKEN");
        string? tokenFile = null;
        var dataDir = "data";
        var strict = false;
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
                    case "--token": token = Value(); break;
                    case "--token-file": tokenFile = Value(); break;
                    case "--data-dir": dataDir = Value(); break;
                    case "--strict-ciphers": strict = true; break;
                    case "-h" or "--help" or "help":
                        await stdout.WriteLineAsync(Usage);
                        return ExitCodes.Ok;
                    default: words.Add(args[i]); break;
                }
            }
            catch (UsageException e)
            {
                await stderr.WriteLineAsync($"sslctl: {e.Message}\n\n{Usage}");
                return ExitCodes.Usage;
            }
        }
        if (words.Count == 0)
        {
            await stderr.WriteLineAsync(Usage);
            return ExitCodes.Usage;
        }
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            await stderr.WriteLineAsync($"sslctl: --endpoint '{endpoint}' is not an http(s) URL such as http://127.0.0.1:9440");
            return ExitCodes.Usage;
        }
        if (token is null)
        {
            var path = tokenFile ?? Path.Combine(dataDir, AdminPaths.TokenFileName);
            if (!File.Exists(path))
            {
                await stderr.WriteLineAsync($"sslctl: no admin token: '{path}' does not exist; pass --token, --token-file or --data-dir of the node");
                return ExitCodes.Usage;
            }
            token = (await File.ReadAllTextAsync(path)).Trim();
        }

        // Longer than the node's own deadline for a configure (60 s), so that its answer, whatever it is, arrives.
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(90) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        try
        {
            return await DispatchAsync(http, words, strict, stdin, stdout, stderr);
        }
        catch (UsageException e)
        {
            await stderr.WriteLineAsync($"sslctl: {e.Message}\n\n{Usage}");
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
    }

    private static async Task<int> DispatchAsync(HttpClient http, List<string> w, bool strict, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
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
                var rc = await SendAsync<RunningConfigResponse>(http, HttpMethod.Get, AdminPaths.RunningConfig, null);
                await stdout.WriteAsync(rc.Text);
                return ExitCodes.Ok;
            case "show" when command == "show ssl flows":
                var flows = await SendAsync<FlowsResponse>(http, HttpMethod.Get, AdminPaths.SslFlows, null);
                await stdout.WriteAsync(FlowTable.Print(flows.Modules));
                return ExitCodes.Ok;
            case "show" when command == "show ssl files":
                var files = await SendAsync<FilesResponse>(http, HttpMethod.Get, AdminPaths.Files, null);
                if (files.Files.Count == 0) await stdout.WriteLineAsync("The certificate store is empty.");
                foreach (var f in files.Files) await stdout.WriteLineAsync($"{f.Name,-24} {f.Kind,-12} {f.Summary}");
                return ExitCodes.Ok;
            case "show" when command == "show connections":
                var connections = await SendAsync<ConnectionsResponse>(http, HttpMethod.Get, AdminPaths.Connections, null);
                await stdout.WriteAsync(connections.Print());
                return ExitCodes.Ok;
            case "show" when command == "show ssl sessions":
                var sessions = await SendAsync<SessionCacheResponse>(http, HttpMethod.Get, AdminPaths.Sessions, null);
                await stdout.WriteAsync(SessionTable.Print(sessions));
                return ExitCodes.Ok;
            case "show" when w.Count is 2 or 3 && w[1] is "service" or "keepalive" or "content" or "ssl-proxy-list":
                var shown = await SendAsync<ShowResponse>(http, HttpMethod.Post, AdminPaths.Show, new ShowRequest(w[1], w.Count == 3 ? w[2] : null));
                await (shown.Found ? stdout : stderr).WriteAsync(shown.Text);
                return shown.Found ? ExitCodes.Ok : ExitCodes.Refused;
            case "show" or "clear" when w.Count >= 2 && w[1].Equals("ssl-proxy", StringComparison.OrdinalIgnoreCase):
                var proxy = await SendAsync<ShowResponse>(http, HttpMethod.Post, AdminPaths.SslProxy, new SslProxyRequest(w[0].Equals("clear", StringComparison.OrdinalIgnoreCase), w.Skip(2).ToList()));
                await (proxy.Found ? stdout : stderr).WriteAsync(proxy.Text);
                return proxy.Found ? ExitCodes.Ok : ExitCodes.Refused;
            case "show":
                throw new UsageException($"unknown show command '{string.Join(' ', w)}'; try 'show running-config', 'show ssl flows', 'show ssl files', 'show ssl sessions', 'show connections', 'show service [NAME]', 'show keepalive [NAME]', 'show content [NAME]', 'show ssl-proxy-list [NAME]' or 'show ssl-proxy stats|service|conn'");
            case "ssl" or "copy":
                var response = await SendAsync<SslCommandResponse>(http, HttpMethod.Post, AdminPaths.SslCommand, new SslCommandRequest(w));
                await (response.Succeeded ? stdout : stderr).WriteLineAsync(response.Output.TrimEnd());
                return response.Succeeded ? ExitCodes.Ok : ExitCodes.Refused;
            case "cluster" when command == "cluster show":
                var cluster = await SendAsync<ClusterResponse>(http, HttpMethod.Get, AdminPaths.Cluster, null);
                foreach (var m in cluster.Members)
                    await stdout.WriteLineAsync($"{m.Address,-40} {m.Status,-10} {RevisionText(m),-40} {(m.Address == cluster.Leader ? "leader " : "")}{(m.IsSelf ? "(this node)" : "")}".TrimEnd());
                return ExitCodes.Ok;
            case "cluster" when command == "cluster shards":
                var shards = await SendAsync<ShardsResponse>(http, HttpMethod.Get, AdminPaths.Shards, null);
                await stdout.WriteLineAsync($"{"entity type",-16} {"node",-40} {"shards",6} {"entities",8}");
                foreach (var r in shards.Regions)
                    await stdout.WriteLineAsync($"{r.TypeName,-16} {r.Address,-40} {r.Shards,6} {r.Entities,8}");
                return ExitCodes.Ok;
            case "cluster" when command == "cluster rolling-restart":
                return await new RollingRestart(stdout, TimeProvider.System).RunAsync(
                    () => SendAsync<ClusterResponse>(http, HttpMethod.Get, AdminPaths.Cluster, null),
                    r => SendAsync<DrainResponse>(http, HttpMethod.Post, AdminPaths.ClusterDrain, r));
            case "cluster" when w.Count == 3 && w[1].Equals("leave", StringComparison.OrdinalIgnoreCase) && w[2] != "--wait":
                var left = await SendAsync<DrainResponse>(http, HttpMethod.Post, AdminPaths.ClusterDrain, new ClusterDrainRequest(w[2]));
                await stdout.WriteLineAsync(left.AlreadyDraining ? $"{left.Node} is already draining"
                    : $"{left.Node} is draining: it stopped accepting, hands its shards to the other nodes, waits up to {left.DrainTimeoutSeconds}s for its {left.OpenConnections} open connection(s), then leaves the cluster and exits");
                return ExitCodes.Ok;
            case "cluster" when command is "cluster leave" or "cluster leave --wait":
            case "node" when command is "node drain" or "node drain --wait":
                var drain = await SendAsync<DrainResponse>(http, HttpMethod.Post, AdminPaths.Drain, null);
                await stdout.WriteLineAsync(drain.AlreadyDraining
                    ? $"{drain.Node} is already draining"
                    : $"{drain.Node} is draining: it stopped accepting, hands its shards to the other nodes, waits up to {drain.DrainTimeoutSeconds}s for its {drain.OpenConnections} open connection(s), then leaves the cluster and exits");
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
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        await stdout.WriteLineAsync($"{drain.Node} has left the cluster and stopped ({watch.Elapsed.TotalSeconds:0} s)");
                        return ExitCodes.Ok;
                    }
                    await Task.Delay(500);
                }
                await stderr.WriteLineAsync($"sslctl: {drain.Node} still answers {limit.TotalSeconds:0} s after the drain began");
                return ExitCodes.Refused;
            case "cluster" or "node":
                throw new UsageException($"unknown command '{string.Join(' ', w)}'; try 'cluster show', 'cluster shards', 'cluster leave [ADDRESS]', 'cluster rolling-restart' or 'node drain'");
            default:
                throw new UsageException($"unknown command '{string.Join(' ', w)}'");
        }
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
            // The node's own explanation (a store that is moving, an actor that timed out) is printed as it is.
            if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
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
