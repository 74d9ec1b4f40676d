using System.Globalization;
using System.Text;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Cli;

/// <summary>
/// How sslctl shows each read command's answer to a person: the tables of <see cref="Tables"/>, with the reference's
/// titles and column names where the command is the reference's (<c>show ssl flows</c>).
/// </summary>
internal static class Views
{
    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>show ssl flows</c>: the reference's table per module, slot order first.</summary>
    public static string Flows(IEnumerable<ModuleFlows> modules, bool terminal, IEnumerable<ModuleFlows>? rules = null)
    {
        ArgumentNullException.ThrowIfNull(modules);
        var o = new StringBuilder();
        Column[] columns = [new("Virtual"), new("Port", true), new("TCP Proxy Flows", true), new("Active SSL Flows", true), new("SSL Flows in Handshake", true)];
        foreach (var m in modules.OrderBy(m => m.Slot ?? int.MaxValue).ThenBy(m => m.Module, StringComparer.Ordinal))
        {
            var title = m.Slot is { } slot
                ? $"SSL Acceleration Flows for slot {slot.ToString(CultureInfo.InvariantCulture)} (module {m.Module})"
                : $"SSL Acceleration Flows for module {m.Module}";
            var rows = m.Rows.OrderBy(r => r.Virtual, StringComparer.Ordinal).ThenBy(r => r.Port)
                .Select(r => new[] { r.Virtual, N(r.Port), N(r.TcpProxyFlows), N(r.ActiveSslFlows), N(r.InHandshake) });
            o.Append(Tables.Render(columns, rows, terminal, title)).Append('\n');
        }

        var noModules = o.Length == 0;
        // After the reference's tables, so that they stay as it prints them: the clear-text rules' flows, summed alike.
        Column[] ruleColumns = [new("Virtual"), new("Port", true), new("Open Flows", true), new("Accepted", true), new("From Clients", true), new("To Clients", true)];
        foreach (var r in (rules ?? []).OrderBy(r => r.Module, StringComparer.Ordinal))
        {
            var rows = r.Rows.OrderBy(x => x.Virtual, StringComparer.Ordinal).ThenBy(x => x.Port)
                .Select(x => new[] { x.Virtual, N(x.Port), N(x.TcpProxyFlows), N(x.Accepted), Tables.Bytes(x.BytesFromClients), Tables.Bytes(x.BytesToClients) });
            o.Append(Tables.Render(ruleColumns, rows, terminal, $"Clear-text Flows for content rule {r.Module}")).Append('\n');
        }

        return o.Length == 0 ? "No SSL modules are configured.\n"
            : noModules ? "No SSL modules are configured.\n\n" + o : o.ToString();
    }

    /// <summary><c>show ssl sessions</c>: one node's session cache and ticket keys (names and times, never a secret).</summary>
    public static string Sessions(SessionCacheResponse s, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(s);
        var o = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        o.Append(c, $"TLS 1.2 sessions on this node: {s.Held} of {s.Capacity} ");
        o.Append(s.Shared
            ? "(shared: every node holds the sessions of all nodes, and the ticket keys are the cluster's)\n"
            : "(kept on this node: remoting runs without TLS, see sslcluster.tls.share-sessions-without-remoting-tls)\n");
        o.Append(c, $"  created here: {s.Created}   taken from other nodes: {s.FromPeers}   refused copies: {s.Refused}\n");
        if (!s.TicketsEnabled) return o.Append("Session tickets: off (sslcluster.tls.session-tickets)\n").ToString();
        o.Append(c, $"Session tickets: issued here: {s.TicketsIssued}   opened here: {s.TicketsOpened}   refused: {s.TicketsRefused}\n");
        if (s.TicketKeys.Count == 0)
            return o.Append("  no ticket key yet: the cluster's ticket-key owner has not answered; no tickets are offered meanwhile\n").ToString();
        static string Utc(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        return o.Append(Tables.Render(
            [new("Key name"), new("Created (UTC)"), new("Encrypts until"), new("Opens until"), new("")],
            s.TicketKeys.Select(k => new[] { k.Name, Utc(k.CreatedAt), Utc(k.EncryptUntil), Utc(k.AcceptUntil), k.Current ? "current" : "" }),
            terminal)).ToString();
    }

    /// <summary><c>show ssl files</c>: the certificate store, keys by name and kind only.</summary>
    public static string Files(FilesResponse files, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(files);
        return files.Files.Count == 0 ? "The certificate store is empty.\n"
            : Tables.Render([new("Name"), new("Kind"), new("Summary")], files.Files.Select(f => new[] { f.Name, f.Kind, f.Summary }), terminal);
    }

    /// <summary><c>cluster show</c>: every member, its status, the revision it holds, and which is the leader and this node.</summary>
    public static string Members(ClusterResponse cluster, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return Tables.Render([new("Address"), new("Status"), new("Serving"), new("Configuration"), new("")],
            cluster.Members.Select(m => new[]
            {
                m.Address, m.Status, m.Serving switch { true => "yes", false => "no", null => "?" }, SslCtl.RevisionText(m),
                string.Join(' ', new[] { m.Address == cluster.Leader ? "leader" : null, m.Age == 0 ? "oldest" : null, m.IsSelf ? "(this node)" : null }.OfType<string>()),
            }), terminal);
    }

    /// <summary><c>cluster-sharding region-stats</c>: per entity type and node, the shards and entities hosted.</summary>
    public static string Regions(ShardsResponse shards, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(shards);
        return Tables.Render([new("Entity type"), new("Node"), new("Shards", true), new("Entities", true)],
            shards.Regions.Select(r => new[] { r.TypeName, r.Address, N(r.Shards), N(r.Entities) }), terminal);
    }

    /// <summary><c>cluster-sharding shard-stats TYPE</c>: every shard of one entity type, where it lives and its entities.</summary>
    public static string ShardStats(ShardStatsResponse stats, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(stats);
        var o = new StringBuilder();
        o.Append(CultureInfo.InvariantCulture, $"{stats.TypeName}: {stats.Shards.Count} shard(s), {stats.Shards.Sum(s => s.Entities)} entit{(stats.Shards.Sum(s => s.Entities) == 1 ? "y" : "ies")}\n");
        foreach (var shard in stats.Silent) o.Append(CultureInfo.InvariantCulture, $"%% {shard} did not answer in time\n");
        if (stats.Shards.Count > 0)
        {
            o.Append(Tables.Render([new("Shard"), new("Node"), new("Entities", true)],
                stats.Shards.OrderBy(s => s.Address, StringComparer.Ordinal).ThenBy(s => s.ShardId, StringComparer.Ordinal)
                    .Select(s => new[] { s.ShardId, s.Address, N(s.Entities) }), terminal));
        }

        return o.ToString();
    }

    /// <summary>
    /// <c>show connections</c>: the open connections of every node, oldest first: who, where, how far, how much each way,
    /// and to which back end.
    /// </summary>
    public static string Connections(ConnectionsResponse answer, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var o = new StringBuilder();
        var rows = answer.Nodes.SelectMany(n => n.Rows.Select(r => (n.Node, Row: r))).OrderByDescending(x => x.Row.AgeSeconds).ToList();
        var total = answer.Nodes.Sum(n => n.Total);
        o.Append(CultureInfo.InvariantCulture, $"{total} open connection(s) on {answer.Nodes.Count} node(s)");
        if (rows.Count < total) o.Append(CultureInfo.InvariantCulture, $", the oldest {rows.Count} shown (each node lists its oldest {answer.Limit:N0}: filter by module, client or node, or raise the limit, for the rest)");
        o.Append('\n');
        foreach (var node in answer.Silent) o.Append(CultureInfo.InvariantCulture, $"%% {node} did not answer in time\n");
        if (rows.Count == 0) return o.ToString();
        return o.Append(Tables.Render(
            [new("Node"), new("Client"), new("VIP"), new("Module or rule"), new("Phase"), new("From client", true), new("To client", true), new("Age", true), new("Back end"), new("Revision", true)],
            rows.Select(x => new[]
            {
                x.Node, x.Row.Client ?? "-", x.Row.Vip ?? "-", x.Row.Owner, x.Row.Phase, Tables.Bytes(x.Row.BytesFromClient), Tables.Bytes(x.Row.BytesToClient),
                Tables.Age(x.Row.AgeSeconds), x.Row.Backend ?? "-", N(x.Row.Revision),
            }), terminal)).ToString();
    }
}
