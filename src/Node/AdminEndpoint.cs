using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Health;
using SslCluster.Actors.Modules;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Node;

/// <summary>
/// The node's admin endpoint for sslctl (JSON under /v1, bearer-token authenticated) and for Kubernetes and
/// Prometheus (/healthz, /readyz, /metrics, unauthenticated and free of secrets). Loopback by default.
/// </summary>
internal static class AdminEndpoint
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    /// <summary>A configuration of thousands of objects is validated whole: allow it time.</summary>
    private static readonly TimeSpan ConfigureTimeout = TimeSpan.FromSeconds(60);

    /// <param name="tls">The certificate when <paramref name="listen"/> is HTTPS; the endpoint then serves nothing in clear text.</param>
    /// <param name="tokens">More tokens, with their roles and contexts (the tokens file); the node's token is admin of everything.</param>
    public static WebApplication Build(SslClusterHandles h, AdminListen listen, AdminTls? tls, string token, SslCommands ssl, DataPlane dataPlane, AdminTokens? tokens = null)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (listen.Tls != (tls is not null)) throw new ArgumentException($"{AdminListen.CertificateKey} is set but no certificate was loaded, or the reverse");
        tokens ??= AdminTokens.None;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(listen.Address, listen.Port, o => tls?.Serve(o)));
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            foreach (var c in AdminJson.Options.Converters) o.SerializerOptions.Converters.Add(c);
        });
        var app = builder.Build();
        var expected = Encoding.UTF8.GetBytes("Bearer " + token);

        // A query whose actor did not answer becomes a 504 that names it, not a bare 500.
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (AdminTimeoutException e) when (!context.Response.HasStarted)
            {
                context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
                await context.Response.WriteAsJsonAsync(new ErrorResponse(e.Message), AdminJson.Options);
            }
            catch (AskTimeoutException e) when (!context.Response.HasStarted)
            {
                context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
                await context.Response.WriteAsJsonAsync(new ErrorResponse($"{context.Request.Path}: an actor of the node did not answer in time ({e.Message})"), AdminJson.Options);
            }
        });
        // Deny by default: every request needs a token but the three open endpoints, and the role and scope are checked
        // against the route that matched (routing ignores case and a trailing slash; the raw path must not decide).
        app.UseRouting();
        app.Use(async (context, next) =>
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
            if (route is not (AdminPaths.Health or AdminPaths.Ready or AdminPaths.Metrics))
            {
                var given = Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString());
                // Constant-time comparisons: a token must not leak through response timing.
                var principal = CryptographicOperations.FixedTimeEquals(given, expected) ? AdminPrincipal.Node : tokens.Find(given);
                if (principal is null)
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    await context.Response.WriteAsJsonAsync(new ErrorResponse("missing or wrong admin token"), AdminJson.Options);
                    return;
                }
                if (route is not null && principal.Refusal(context.Request.Method, route) is { } refusal)
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    await context.Response.WriteAsJsonAsync(new ErrorResponse(refusal), AdminJson.Options);
                    return;
                }
                context.Items[PrincipalKey] = principal;
            }
            await next(context);
        });

        app.MapPost(AdminPaths.Configure, async (ConfigureRequest request, HttpContext http) =>
        {

            // A store that cannot answer a few bytes now (its node just failed and it has not started elsewhere yet) is
            // not sent the change: the answer says so at once, and that nothing changed, instead of a long wait that ends
            // in "may or may not have been committed".
            if (await ConfigReads.StoreRevisionAsync(h) is null)
            {
                return Results.Json(new ErrorResponse("the configuration store is not reachable now (after the loss of the node that hosts it, it starts on " +
                    "another node within about 10 s); nothing was changed: apply the configuration again shortly"), AdminJson.Options, statusCode: 503);
            }
            object reply;
            try
            {
                // A context's token: the store refuses a change outside that context.
                reply = await ConfigStoreClient.ApplyAsync(h.ConfigStore, request.Text, request.Source, request.StrictCiphers, ConfigureTimeout, Principal(http).Context);
            }
            catch (AskTimeoutException)
            {
                return Results.Json(new ErrorResponse($"the configuration store did not answer within {ConfigureTimeout.TotalSeconds:0} s, so this change may or may not " +
                    "have been committed: look at 'show running-config' before applying it again"), AdminJson.Options, statusCode: 504);
            }
            return reply switch
            {
                ConfigStoreProtocol.ConfigApplied a => Results.Json(new ConfigureResponse(true, a.Revision, await InForceAsync(h, a.Revision, a.Diagnostics)), AdminJson.Options),
                ConfigStoreProtocol.ConfigRejected r => Results.Json(new ConfigureResponse(false, 0, r.Diagnostics), AdminJson.Options, statusCode: 422),
                _ => Results.Problem("unexpected reply from the configuration store"),
            };
        });
        app.MapGet(AdminPaths.RunningConfig, async Task<IResult> (HttpContext http) =>
        {
            var (copy, note) = await ConfigReads.CurrentAsync(h);
            // A context's token sees its context alone.
            var text = Principal(http).Context is not { } scope ? ConfigPrinter.Print(copy.Config)
                : copy.Config.Contexts.TryGetValue(scope, out var own) ? ConfigPrinter.Object(own)
                : $"! ssl-proxy context {scope} is not configured\n";
            return Results.Json(new RunningConfigResponse(copy.Revision, note is null ? text : $"! {note}\n{text}"), AdminJson.Options);
        });
        // Task<IResult> written out: a lambda of HttpContext alone returning a plain Task would be taken for a
        // RequestDelegate, and its result dropped.
        app.MapGet(AdminPaths.SslFlows, async Task<IResult> (HttpContext http) =>
        {
            var modules = await h.NodeRuntime.Ask<NodeRuntimeActor.CurrentModules>(NodeRuntimeActor.GetModules.Instance, AskTimeout);
            var principal = Principal(http);
            return Results.Json(new FlowsResponse([.. (await FlowsAsync(h, modules.Modules)).Where(m => principal.Sees(m.Module))])
            {
                Rules = principal.Context is null ? await FlowsAsync(h, modules.Rules.Select(r => (r, (int?)null)), FlowRegistry.RuleKey) : [],
            }, AdminJson.Options);
        });
        app.MapGet(AdminPaths.Files, async () =>
        {
            var (copy, _) = await ConfigReads.CurrentAsync(h);
            return Results.Json(new FilesResponse(copy.Files.Values.Select(SslCommands.Describe).ToList()), AdminJson.Options);
        });
        app.MapPost(AdminPaths.SslCommand, async (SslCommandRequest request) =>
        {
            var result = await ssl.ExecuteAsync(request.Words);
            return Results.Json(result, AdminJson.Options, statusCode: result.Succeeded ? 200 : 422);
        });
        app.MapGet(AdminPaths.Cluster, async () =>
        {
            var cluster = Cluster.Get(h.System);
            var state = cluster.State;
            var byAge = state.Members.Where(m => m.Status == MemberStatus.Up).OrderBy(m => m, Member.AgeOrdering).Select(m => m.UniqueAddress).ToList();
            // Each member's revision from its own copy, asked at once; a member that does not answer shows none.
            var asks = state.Members.Select(async m =>
            {
                ConfigStoreProtocol.NodeRevision? r = null;
                NodeControlProtocol.Serving? serving = null;
                try
                {
                    var revision = h.System.ActorSelection(new RootActorPath(m.Address) / "user" / ConfigFollowerActor.Name)
                        .Ask<ConfigStoreProtocol.NodeRevision>(ConfigStoreProtocol.GetNodeRevision.Instance, TimeSpan.FromSeconds(2));
                    var ready = h.System.ActorSelection(new RootActorPath(m.Address) / "user" / NodeRuntimeActor.Name)
                        .Ask<NodeControlProtocol.Serving>(NodeControlProtocol.GetServing.Instance, TimeSpan.FromSeconds(2));
                    r = await revision;
                    serving = await ready;
                }
                catch (AskTimeoutException)
                {
                }
                return new ClusterMemberInfo(m.Address.ToString(), m.Status.ToString(), m.Roles.ToList(), m.Address == cluster.SelfAddress)
                {
                    Revision = r?.Revision,
                    StoreRevision = r?.StoreRevision,
                    BehindSeconds = r is null ? null : r.BehindMilliseconds / 1000.0,
                    Uid = m.UniqueAddress.Uid,
                    Age = byAge.IndexOf(m.UniqueAddress),
                    Serving = serving?.Ready,
                };
            });
            var members = await Task.WhenAll(asks);
            return Results.Json(new ClusterResponse(members, state.Leader?.ToString()), AdminJson.Options);
        });

        // A drain of this node, or of any member through this node: the member's own node runtime runs it.
        app.MapPost(AdminPaths.Drain, async () => await DrainAsync(h.NodeRuntime));
        // Petabridge.Cmd's cluster down: for a member that crashed or hangs, when the split-brain resolver cannot decide
        // (a partition without a majority). Marks it down at once; a live node that is downed stops.
        app.MapPost(AdminPaths.ClusterDown, (ClusterMemberRequest request) =>
        {
            if (MemberAt(h, request.Node) is not { } member) return NoMember(request.Node);
            Cluster.Get(h.System).Down(member.Address);
            return Results.Json(new ClusterDownResponse(request.Node), AdminJson.Options);
        });
        app.MapPost(AdminPaths.ClusterDrain, async Task<IResult> (ClusterMemberRequest request) =>
        {
            if (MemberAt(h, request.Node) is not { } member) return NoMember(request.Node);
            if (member.Address == Cluster.Get(h.System).SelfAddress) return await DrainAsync(h.NodeRuntime);
            try
            {
                return await DrainAsync(await h.System.ActorSelection(new RootActorPath(member.Address) / "user" / NodeRuntimeActor.Name).ResolveOne(AskTimeout));
            }
            catch (ActorNotFoundException)
            {
                return Results.Json(new ErrorResponse($"member {request.Node} did not answer (it may be leaving already)"), AdminJson.Options, statusCode: 503);
            }
        });
        // Every node's open connections (or one member's), each node's oldest that match; a context token sees its own modules' only.
        app.MapGet(AdminPaths.Connections, async Task<IResult> (HttpContext http, string? module, string? client, string? node, string? limit) =>
        {
            var (rows, wrong) = ConnectionsResponse.ParseLimit(limit);
            if (wrong is not null) return Results.Json(new ErrorResponse(wrong), AdminJson.Options, statusCode: 400);
            Member? member = null;
            if (node is not null && (member = MemberAt(h, node)) is null) return NoMember(node);
            var filter = new ConnectionsRequest(module, client, node, Principal(http).Context);
            // Five seconds, and one more per 5,000 rows asked of each node (their parts cross remoting one by one).
            var (answers, silent) = await NodeConnectionsQuery.AskConnectionsAsync(
                h.System, new NodeStatsProtocol.GetNodeConnections(rows, filter), TimeSpan.FromSeconds(5 + rows / 5_000), member?.Address);
            // Filtered here too: a member of an older version (a rolling upgrade) ignores the filter and sends every row.
            return Results.Json(new ConnectionsResponse(
                [.. answers.OrderBy(a => a.Node, StringComparer.Ordinal)
                    .Select(a => a.Rows.All(r => filter.Matches(r.Owner, r.Client)) ? new NodeConnectionRows(a.Node, a.Total, a.Rows)
                        : new NodeConnectionRows(a.Node, a.Rows.Count(r => filter.Matches(r.Owner, r.Client)), [.. a.Rows.Where(r => filter.Matches(r.Owner, r.Client))]))],
                silent) { Limit = rows }, AdminJson.Options);
        });
        app.MapGet(AdminPaths.Names, async Task<IResult> (HttpContext http) =>
        {
            var (copy, _) = await ConfigReads.CurrentAsync(h);
            var c = copy.Config;
            var members = Cluster.Get(h.System).State.Members.Select(m => m.Address.ToString()).ToList();
            var types = ShardRegions(h).Select(r => r.TypeName).ToList();
            static List<string> Sorted(IEnumerable<string> names) => [.. names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            var contexts = Principal(http).Context is { } scope ? c.Contexts.Where(x => x.Key == scope).ToList() : c.Contexts.ToList();
            var sslm = contexts.SelectMany(x => x.Value.Services.Select(s => (Context: x.Key, Service: s.Key))).ToList();
            var names = Principal(http).Context is not null
                // A context's token sees neither the cluster's members nor its shards (it may not run cluster show).
                ? new NamesResponse([], [], [], [], [], [], Sorted(sslm.Select(s => s.Service)))
                : new NamesResponse(members, types, Sorted(c.Services.Select(s => s.Key)), Sorted(c.ContentRules.Select(r => r.Rule.Name)),
                    Sorted(c.ProxyLists.Select(p => p.Key)), Sorted(c.Keepalives.Select(k => k.Key)), Sorted(sslm.Select(s => s.Service)));
            names = names with { SslProxyModules = Sorted(sslm.Select(s => SslmLowering.ModuleOf(s.Context, s.Service))) };
            return Results.Json(names, AdminJson.Options);
        });
        app.MapGet(AdminPaths.Sessions, () => Results.Json(SessionCache(h), AdminJson.Options));
        app.MapGet(AdminPaths.Shards, async () =>
        {
            var regions = new List<ShardRegionInfo>();
            foreach (var (typeName, region) in ShardRegions(h))
            {
                var stats = await ShardingStatsAsync(region);
                regions.AddRange(stats.Regions.Select(r => new ShardRegionInfo(typeName, r.Key.ToString(), r.Value.Stats.Count, r.Value.Stats.Values.Sum())));
            }
            return Results.Json(new ShardsResponse([.. regions.OrderBy(r => r.TypeName, StringComparer.Ordinal).ThenBy(r => r.Address, StringComparer.Ordinal)]), AdminJson.Options);
        });
        app.MapGet(AdminPaths.ShardStats, async Task<IResult> (string? type) =>
        {
            var known = ShardRegions(h).ToList();
            if (known.FirstOrDefault(r => r.TypeName == type) is not { Region: not null } found)
                return Results.Json(new ErrorResponse($"{(type is null ? "name an entity type" : $"no entity type '{type}'")}: {string.Join(" or ", known.Select(r => r.TypeName))}"), AdminJson.Options, statusCode: 400);
            var stats = await ShardingStatsAsync(found.Region);
            return Results.Json(new ShardStatsResponse(found.TypeName,
                [.. stats.Regions.SelectMany(r => r.Value.Stats.Select(s => new ShardInfo(s.Key, r.Key.ToString(), s.Value)))],
                [.. stats.Regions.SelectMany(r => r.Value.Failed.Select(shard => $"shard {shard} on {r.Key}"))]), AdminJson.Options);
        });
        // Petabridge.Cmd's cluster join: a node that is not a member yet (its formation is still waiting: unreachable
        // seeds, too few contact points) joins the cluster of the member named. A member never moves to another cluster.
        app.MapPost(AdminPaths.ClusterJoin, (ClusterMemberRequest request) =>
        {
            var cluster = Cluster.Get(h.System);
            var self = cluster.SelfAddress;
            IResult Refused(string why) => Results.Json(new ErrorResponse(why), AdminJson.Options, statusCode: 400);
            if (!Akka.Actor.Address.TryParse(request.Node, out var target) || target.Host is null || target.Port is null)
                return Refused($"'{request.Node}' is not a member address such as {self.Protocol}://{self.System}@HOST:PORT (as 'cluster show' prints it)");
            // Akka would only log a warning and not join: said here instead.
            if (target.Protocol != self.Protocol || target.System != self.System)
                return Refused($"'{request.Node}' is not an address of this cluster's kind: its members are {self.Protocol}://{self.System}@HOST:PORT");
            if (cluster.State.Members.Any(m => m.UniqueAddress == cluster.SelfUniqueAddress))
                return Results.Json(new ErrorResponse($"{cluster.SelfAddress} is already a member ({cluster.SelfMember.Status}) of a cluster of {cluster.State.Members.Count}; a member does not move to another cluster: drain it ('cluster leave') and start it with the other cluster's contact points"), AdminJson.Options, statusCode: 409);
            // Joining itself would make this node a cluster of its own beside the real one.
            if (target == self)
                return Refused($"'{request.Node}' is this node: name a member of the cluster to join");
            cluster.Join(target);
            return Results.Json(new ClusterJoinResponse(cluster.SelfAddress.ToString(), target.ToString()), AdminJson.Options);
        });

        app.MapPost(AdminPaths.Show, async (ShowRequest request) =>
        {
            var current = await h.Health.Ask<HealthMonitorActor.CurrentHealth>(HealthMonitorActor.GetHealth.Instance, AskTimeout);
            var connections = dataPlane.Gauges.Snapshot();
            var text = request.What switch
            {
                "service" => HealthPrinter.ShowService(current.Config, current.Health, connections, request.Name),
                "keepalive" => HealthPrinter.ShowKeepalive(current.Config, current.Health, request.Name),
                "content" => ShowPrinter.ShowContent(current.Config, current.Health, connections, request.Name),
                "ssl-proxy-list" => ShowPrinter.ShowSslProxyList(current.Config, request.Name),
                _ => null,
            };
            if (text is null)
                return Results.Json(new ShowResponse(false, $"%% unknown object '{request.What}'; show service|keepalive|content|ssl-proxy-list [NAME]\n"), AdminJson.Options, statusCode: 422);
            var found = !text.StartsWith("%%", StringComparison.Ordinal);
            return Results.Json(new ShowResponse(found, text), AdminJson.Options, statusCode: found ? 200 : 422);
        });

        app.MapPost(AdminPaths.SslProxy, async (SslProxyRequest request, HttpContext http) =>
        {
            if (request.Clear && Principal(http).Role == AdminRole.ReadOnly)
                return Results.Json(new ErrorResponse($"{Principal(http).Name} is read-only: it may not clear counters"), AdminJson.Options, statusCode: 403);
            var shown = await SslProxyCommands.RunAsync(h, request, Principal(http));
            return Results.Json(shown, AdminJson.Options, statusCode: shown.Found ? 200 : 422);
        });

        MapOpenEndpoints(app, h, dataPlane);
        return app;
    }

    /// <summary>The sharded entity types, by the names <c>cluster-sharding regions</c> prints.</summary>
    private static IEnumerable<(string TypeName, IActorRef Region)> ShardRegions(SslClusterHandles h) =>
        [(SslModuleEntity.TypeName, h.ModuleRegion), (BackendServerEntity.TypeName, h.BackendServerRegion)];

    private static Task<Akka.Cluster.Sharding.ClusterShardingStats> ShardingStatsAsync(IActorRef region) =>
        region.Ask<Akka.Cluster.Sharding.ClusterShardingStats>(new Akka.Cluster.Sharding.GetClusterShardingStats(TimeSpan.FromSeconds(5)), AskTimeout);

    /// <summary>The member whose address <c>cluster show</c> prints as <paramref name="address"/>, or null.</summary>
    private static Member? MemberAt(SslClusterHandles h, string address) =>
        Cluster.Get(h.System).State.Members.FirstOrDefault(m => m.Address.ToString() == address);

    private static IResult NoMember(string address) =>
        Results.Json(new ErrorResponse($"no member {address}; 'cluster show' lists the members"), AdminJson.Options, statusCode: 404);

    /// <summary>Asks <paramref name="runtime"/> (this node's or another member's) to drain; the answer comes at once.</summary>
    private static async Task<IResult> DrainAsync(IActorRef runtime)
    {
        var started = await runtime.Ask<NodeControlProtocol.DrainStarted>(NodeControlProtocol.Drain.Instance, AskTimeout);
        return Results.Json(new DrainResponse(started.Node, started.AlreadyDraining, started.OpenConnections, started.DrainTimeoutSeconds), AdminJson.Options, statusCode: 202);
    }

    /// <summary>
    /// The endpoints open to anyone who reaches the port: /healthz (the process runs), /readyz (this node serves the
    /// configuration in force) and /metrics (Prometheus). Served here and on the management endpoint, where Kubernetes'
    /// probes and a scraper reach them on the pod's address.
    /// </summary>
    internal static void MapOpenEndpoints(WebApplication app, SslClusterHandles h, DataPlane dataPlane)
    {
        app.MapGet(AdminPaths.Health, () => h.System.WhenTerminated.IsCompleted ? Results.StatusCode(503) : Results.Text("ok\n"));
        app.MapGet(AdminPaths.Ready, async () =>
        {
            var r = await ConfigReads.AskAsync<NodeRuntimeActor.Readiness>(h.NodeRuntime, NodeRuntimeActor.GetReadiness.Instance, "the node runtime", AskTimeout);
            var copy = await ConfigReads.AskAsync<ConfigFollowerActor.CurrentCopy>(h.ConfigFollower, ConfigFollowerActor.GetCopy.Instance, "this node's copy of the configuration", AskTimeout);
            var problems = r.Problems.Concat(r.Pending.Select(p => p + ": binding")).ToList();
            if (!dataPlane.Warm.IsCompleted) problems.Add("the data path is warming up (listeners accept once it has run)");
            if (copy.BehindSince is { } since && DateTimeOffset.UtcNow - since > h.Settings.ConfigMaxLag)
                problems.Add($"behind the configuration store: it has revision {copy.StoreRevision}, this node runs {r.Revision}, for {(DateTimeOffset.UtcNow - since).TotalSeconds:0} s");
            return r.Ready && problems.Count == 0
                ? Results.Text($"ready: revision {r.Revision}\n")
                : Results.Text($"not ready: revision {r.Revision}; {string.Join("; ", problems)}\n", statusCode: 503);
        });
        app.MapGet(AdminPaths.Metrics, async () =>
        {
            var copy = await ConfigReads.AskAsync<ConfigFollowerActor.CurrentCopy>(h.ConfigFollower, ConfigFollowerActor.GetCopy.Instance, "this node's copy of the configuration", AskTimeout);
            var health = await ConfigReads.AskAsync<HealthMonitorActor.CurrentHealth>(h.Health, HealthMonitorActor.GetHealth.Instance, "the node's health monitor", AskTimeout);
            var now = DateTimeOffset.UtcNow;
            var node = Cluster.Get(h.System).SelfAddress;
            var metrics = new NodeMetrics($"{node.Host}:{node.Port}")
                .Flows(dataPlane.Flows)
                .Keepalives(health.Health)
                .Passive(dataPlane.Passive)
                .Limits(dataPlane.Limits)
                .Revision(new RevisionFigures(copy.Revision, copy.StoreRevision, copy.BehindSince is { } since ? (now - since).TotalSeconds : 0))
                .Certificates(CertificatesInUse(copy), now)
                .Sessions(SessionCache(h));
            var gc = GC.GetGCMemoryInfo();
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            metrics.Single("sslcluster_process_resident_memory_bytes", "Resident memory of this node's process.", "gauge", process.WorkingSet64)
                .Single("sslcluster_gc_heap_bytes", "Bytes in the managed heap after the last garbage collection (live objects and fragmentation).", "gauge", gc.HeapSizeBytes)
                .Single("sslcluster_gc_committed_bytes", "Memory the garbage collector holds from the system.", "gauge", gc.TotalCommittedBytes);
            return Results.Text(metrics.ToString(), "text/plain; version=0.0.4");
        });
    }

    /// <summary>
    /// Waits (briefly) until this node runs the committed revision with every listener bound, so that a script can
    /// use a new VIP as soon as configure returns; a listener that cannot bind becomes a warning of the answer.
    /// </summary>
    private static async Task<IReadOnlyList<Protocol.Config.ConfigDiagnostic>> InForceAsync(SslClusterHandles h, long revision, IReadOnlyList<Protocol.Config.ConfigDiagnostic> diagnostics)
    {
        NodeRuntimeActor.Readiness? r = null;
        for (var i = 0; i < 100; i++)
        {
            r = await h.NodeRuntime.Ask<NodeRuntimeActor.Readiness>(NodeRuntimeActor.GetReadiness.Instance, AskTimeout);
            if (r.Revision >= revision && r.Pending.Count == 0) break;
            await Task.Delay(50);
        }
        if (r is null || r.Problems.Count == 0) return diagnostics;
        return [.. diagnostics, .. r.Problems.Select(p => new Protocol.Config.ConfigDiagnostic(Protocol.Config.DiagnosticSeverity.Warning, 0, null, "on this node: " + p))];
    }

    private const string PrincipalKey = "sslcluster.principal";

    /// <summary>Who the request is (set by the authentication step; every /v1 request has one).</summary>
    private static AdminPrincipal Principal(HttpContext http) =>
        http.Items[PrincipalKey] as AdminPrincipal ?? throw new InvalidOperationException("a /v1 request reached its handler without an authenticated principal");

    /// <summary>Every module of the configuration with its counters summed over the cluster.</summary>
    public static async Task<IReadOnlyList<ModuleFlows>> FlowsAsync(SslClusterHandles h) =>
        await FlowsAsync(h, (await h.NodeRuntime.Ask<NodeRuntimeActor.CurrentModules>(NodeRuntimeActor.GetModules.Instance, AskTimeout)).Modules);

    /// <summary>
    /// The counters of each module (or clear-text rule, as <c>owner/rule</c>, whose entity is <paramref name="entityOf"/>
    /// its name) summed over the cluster by its entity.
    /// </summary>
    private static async Task<IReadOnlyList<ModuleFlows>> FlowsAsync(SslClusterHandles h, IEnumerable<(string Name, int? Slot)> modules, Func<string, string>? entityOf = null)
    {
        var asks = modules.Select(async m =>
        {
            var flows = await h.ModuleRegion.Ask<ModuleProtocol.CurrentModuleFlows>(new ModuleProtocol.GetModuleFlows(entityOf?.Invoke(m.Name) ?? m.Name), AskTimeout);
            return new ModuleFlows(m.Name, m.Slot, flows.Rows) { Nodes = flows.Nodes };
        });
        return await Task.WhenAll(asks);
    }

    /// <summary>This node's session cache and ticket keys (names and times only).</summary>
    private static SessionCacheResponse SessionCache(SslClusterHandles h)
    {
        var store = h.Sessions?.Store;
        var tickets = h.Sessions?.Tickets;
        var current = tickets?.CurrentKey;
        var keys = tickets?.Keys.Select(k => new TicketKeyInfo(k.NameHex, k.CreatedAt, k.EncryptUntil, k.AcceptUntil, k == current)).ToList() ?? [];
        return new SessionCacheResponse(store?.Count ?? 0, h.Settings.SessionCacheSize, h.Settings.ShareSessions, store?.Created ?? 0, store?.Accepted ?? 0, store?.Refused ?? 0,
            tickets is not null, tickets?.Issued ?? 0, tickets?.Opened ?? 0, tickets?.Refused ?? 0, keys);
    }

    /// <summary>Every certificate the listeners of this node's revision use (server, CA, CRL signer, back-end client).</summary>
    private static IEnumerable<CertificateInUse> CertificatesInUse(ConfigFollowerActor.CurrentCopy copy)
    {
        var plan = RuntimePlan.Build(copy.Revision, copy.Config);
        var names = plan.Listeners.SelectMany(plan.FilesOf).ToHashSet(StringComparer.Ordinal);
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            if (!copy.Files.TryGetValue(name, out var file) || file.Kind != StoredFileKind.Certificate) continue;
            var decoded = Protocol.Pki.CertStoreFile.DecodeShared(file.Content);
            if (decoded.NotAfter is { } notAfter) yield return new CertificateInUse(name, decoded.Subject ?? "", notAfter);
        }
    }
}
