using System.Globalization;
using System.Text;
using Akka.Actor;
using SslCluster.Actors;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Modules;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Node;

/// <summary>
/// The SSLM statistics palette on any node, over the whole cluster: <c>show ssl-proxy stats [CATEGORY]</c> and
/// <c>show ssl-proxy service [NAME]</c> from the module entities (every node's reports summed), <c>show ssl-proxy
/// conn [service NAME] [client IP]</c> from every node's connection actors, and <c>clear ssl-proxy stats [CATEGORY]
/// [service NAME]</c> on every node.
/// </summary>
internal static class SslProxyCommands
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(5);

    private const string ShowUsage = "show ssl-proxy stats [tcp|ssl|hdr|pki|app-if] | service [NAME] | conn [service NAME] [client IP]";

    private const string ClearUsage = "clear ssl-proxy stats [tcp|ssl|hdr|pki] [service NAME]";

    /// <param name="principal">Who asks: a context's token sees, and clears, that context's services only.</param>
    public static async Task<ShowResponse> RunAsync(SslClusterHandles h, SslProxyRequest request, AdminPrincipal principal)
    {
        var args = request.Args;
        try
        {
            if (request.Clear) return await ClearAsync(h, args, principal);
            return args.Count == 0
                ? Refused($"write {ShowUsage}")
                : args[0].ToLowerInvariant() switch
                {
                    "stats" when args.Count <= 2 => await StatsAsync(h, args.Count == 2 ? args[1].ToLowerInvariant() : null, principal),
                    "service" when args.Count <= 2 => Found(SslProxyStats.Service(Visible(await ConfigAsync(h), principal), await FlowsAsync(h, principal), args.Count == 2 ? args[1] : null)),
                    "conn" => await ConnectionsAsync(h, args.Skip(1).ToList(), principal),
                    _ => Refused($"unknown: show ssl-proxy {string.Join(' ', args)}; write {ShowUsage}"),
                };
        }
        catch (ArgumentException e)
        {
            return Refused(e.Message);
        }
    }

    /// <summary>The modules the principal sees, with their counters summed over the cluster.</summary>
    private static async Task<IReadOnlyList<ModuleFlows>> FlowsAsync(SslClusterHandles h, AdminPrincipal principal) =>
        [.. (await AdminEndpoint.FlowsAsync(h)).Where(m => principal.Sees(m.Module))];

    /// <summary>The configuration with only the contexts the principal sees.</summary>
    private static RunningConfig Visible(RunningConfig config, AdminPrincipal principal) =>
        principal.Context is not { } scope ? config
            : config with { Contexts = config.Contexts.TryGetValue(scope, out var own) ? ValueMap<string, SslmContext>.Empty.SetItem(scope, own) : ValueMap<string, SslmContext>.Empty };

    private static async Task<RunningConfig> ConfigAsync(SslClusterHandles h) => (await CopyAsync(h)).Config;

    private static async Task<ShowResponse> StatsAsync(SslClusterHandles h, string? category, AdminPrincipal principal)
    {
        var modules = await FlowsAsync(h, principal);
        var nodes = modules.SelectMany(m => m.Nodes).Distinct().Order(StringComparer.Ordinal).ToList();
        return Found(SslProxyStats.Stats(modules, category, nodes));
    }

    /// <summary><c>conn [service NAME] [client IP]</c>: the open connections of every node, oldest first.</summary>
    private static async Task<ShowResponse> ConnectionsAsync(SslClusterHandles h, List<string> filters, AdminPrincipal principal)
    {
        HashSet<string>? owners = null;
        string? client = null;
        for (var i = 0; i < filters.Count; i += 2)
        {
            if (i + 1 >= filters.Count) return Refused($"'{filters[i]}' needs a value; write {ShowUsage}");
            switch (filters[i].ToLowerInvariant())
            {
                case "service":
                    var config = Visible(await ConfigAsync(h), principal);
                    if (Modules(config, filters[i + 1]) is not { Count: > 0 } found)
                        return Refused($"%% no SSL proxy service '{filters[i + 1]}'");
                    owners = found;
                    break;
                case "client":
                    client = filters[i + 1];
                    break;
                default:
                    return Refused($"unknown filter '{filters[i]}'; write {ShowUsage}");
            }
        }

        var filter = new ConnectionsRequest(Client: client, Context: principal.Context);
        var (answers, silent) = await NodeConnectionsQuery.AskConnectionsAsync(
            h.System, new NodeStatsProtocol.GetNodeConnections(ConnectionsResponse.DefaultRows, filter), NodeTimeout);
        var rows = answers.SelectMany(a => a.Rows.Select(r => (a.Node, Row: r)))
            // Filtered here too: a member of an older version (a rolling upgrade) ignores the filter and sends every row.
            .Where(x => filter.Matches(x.Row.Owner, x.Row.Client))
            .Select(x => (x.Node, x.Row, Module: ConnectionsRequest.ModuleOf(x.Row.Owner)))
            .Where(x => (owners is null || owners.Contains(x.Module)) && principal.Sees(x.Module))
            .OrderByDescending(x => x.Row.AgeSeconds).ToList();
        var o = new StringBuilder();
        o.Append(CultureInfo.InvariantCulture, $"{rows.Count} open connection(s) on {answers.Count} node(s){(answers.Sum(a => a.Total) > answers.Sum(a => a.Rows.Count) ? $" (of {answers.Sum(a => a.Total)}: each node lists its oldest, at most {ConnectionsResponse.DefaultRows}; show connections takes a larger limit)" : "")}\n");
        foreach (var node in silent) o.Append("%% node ").Append(node).Append(" did not answer\n");
        if (rows.Count > 0)
        {
            var table = new List<string[]> { new[] { "Node", "Service", "Client", "Phase", "Age (s)", "Revision" } };
            table.AddRange(rows.Select(x => new[]
            {
                x.Node, x.Row.Owner, x.Row.Client ?? "-", x.Row.Phase, x.Row.AgeSeconds.ToString("0.0", CultureInfo.InvariantCulture),
                x.Row.Revision.ToString(CultureInfo.InvariantCulture),
            }));
            var widths = Enumerable.Range(0, 6).Select(i => table.Max(r => r[i].Length)).ToArray();
            foreach (var r in table) o.Append(string.Join("  ", r.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd()).Append('\n');
        }

        return Found(o.ToString());
    }

    private static async Task<ShowResponse> ClearAsync(SslClusterHandles h, IReadOnlyList<string> args, AdminPrincipal principal)
    {
        if (args.Count == 0 || !args[0].Equals("stats", StringComparison.OrdinalIgnoreCase)) return Refused($"write {ClearUsage}");
        string? category = null;
        string? module = null;
        for (var i = 1; i < args.Count; i++)
        {
            var word = args[i].ToLowerInvariant();
            if (SslProxyStats.ClearCategories.Contains(word) && category is null)
            {
                category = word;
            }
            else if (word == "service" && i + 1 < args.Count && module is null)
            {
                var found = Modules(Visible(await ConfigAsync(h), principal), args[++i]);
                if (found.Count == 0) return Refused($"%% no SSL proxy service '{args[i]}'");
                if (found.Count > 1) return Refused($"%% service '{args[i]}' is in several contexts; name one as {args[i]}@CONTEXT");
                module = found.Single();
            }
            else
            {
                return Refused(word == "app-if"
                    ? "app-if counters are made of the tcp and ssl ones: clear those"
                    : $"unknown: clear ssl-proxy {string.Join(' ', args)}; write {ClearUsage}");
            }
        }

        // The modules' entities first: they hold each node's last report, and a crashed member's totals wait there for the
        // node that inherits them. Then every node, heirs included, so that totals an heir took meanwhile are cleared too.
        var current = module is null ? await h.NodeRuntime.Ask<NodeRuntimeActor.CurrentModules>(NodeRuntimeActor.GetModules.Instance, NodeTimeout) : null;
        // With neither a service nor a context named, the clear-text rules' totals too, as on every node.
        var modules = current is null ? [module!]
            : current.Modules.Select(m => m.Name).Where(principal.Sees).Concat(principal.Context is null ? current.Rules.Select(FlowRegistry.RuleKey) : []).ToList();
        var entities = await Task.WhenAll(modules.Select(async name =>
        {
            try
            {
                await h.ModuleRegion.Ask<ModuleProtocol.ModuleFlowsCleared>(new ModuleProtocol.ClearModuleFlows(name, category), NodeTimeout);
                return null;
            }
            catch (AskTimeoutException)
            {
                return name;
            }
        }));
        var (answers, silent) = await NodeStatsActor.AskEveryNodeAsync<NodeStatsProtocol.NodeStatsCleared>(
            h.System, new NodeStatsProtocol.ClearNodeStats(module, category, module is null ? principal.Context : null), NodeTimeout);
        var o = new StringBuilder();
        var of = module is not null ? " of " + module : principal.Context is { } scope ? $" of context {scope}" : "";
        o.Append(CultureInfo.InvariantCulture, $"cleared {(category is null ? "all" : category)} counters{of} on {answers.Count} node(s); the open-connection gauges are running counts and stay\n");
        foreach (var node in silent) o.Append("%% node ").Append(node).Append(" did not answer: its counters were not cleared\n");
        var unanswered = entities.OfType<string>().ToList();
        foreach (var name in unanswered) o.Append("%% ").Append(FlowRegistry.Describe(name)).Append(" did not answer: the last reports it holds were not cleared\n");
        return silent.Count == 0 && unanswered.Count == 0 ? Found(o.ToString()) : new ShowResponse(false, o.ToString());
    }

    /// <summary>The module names of the SSLM services called <paramref name="name"/> (<c>NAME</c> in any context, or <c>NAME@CONTEXT</c>).</summary>
    private static HashSet<string> Modules(RunningConfig config, string name) =>
        SslmLowering.ServicesNamed(config, name).Select(x => SslmLowering.ModuleOf(x.Context.Name, x.Service.Name)).ToHashSet(StringComparer.Ordinal);

    private static Task<ConfigFollowerActor.CurrentCopy> CopyAsync(SslClusterHandles h) =>
        ConfigReads.AskAsync<ConfigFollowerActor.CurrentCopy>(h.ConfigFollower, ConfigFollowerActor.GetCopy.Instance, "this node's copy of the configuration", NodeTimeout);

    private static ShowResponse Found(string text) => new(true, text);

    private static ShowResponse Refused(string text) => new(false, text.StartsWith("%%", StringComparison.Ordinal) ? text + "\n" : "%% " + text + "\n");
}
