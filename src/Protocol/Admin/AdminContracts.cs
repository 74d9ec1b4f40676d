using System.Text.Json;
using System.Text.Json.Serialization;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Protocol.Admin;

/// <summary>
/// The wire contract between sslctl and a node's admin endpoint: HTTP/1.1 with a bearer token, JSON bodies.
/// Both sides use these records, so the CLI depends on Protocol only.
/// </summary>
public static class AdminPaths
{
    public const string Configure = "/v1/configure";
    public const string RunningConfig = "/v1/running-config";
    public const string SslFlows = "/v1/ssl-flows";
    public const string SslCommand = "/v1/ssl";
    public const string Files = "/v1/files";
    public const string Cluster = "/v1/cluster";
    public const string Show = "/v1/show";
    public const string Drain = "/v1/node/drain";
    public const string ClusterDrain = "/v1/cluster/drain";
    public const string ClusterDown = "/v1/cluster/down";
    public const string Sessions = "/v1/ssl/sessions";
    public const string Shards = "/v1/cluster/shards";
    public const string Connections = "/v1/connections";
    public const string SslProxy = "/v1/ssl-proxy";
    public const string Health = "/healthz";
    public const string Ready = "/readyz";
    public const string Metrics = "/metrics";

    /// <summary>The token file a node writes in its data folder and the CLI reads.</summary>
    public const string TokenFileName = "admin.token";
}

public sealed record ConfigureRequest(string Text, bool StrictCiphers = false, string Source = "sslctl");

public sealed record ConfigureResponse(bool Applied, long Revision, IReadOnlyList<ConfigDiagnostic> Diagnostics);

public sealed record RunningConfigResponse(long Revision, string Text);

public sealed record FlowsResponse(IReadOnlyList<ModuleFlows> Modules);

/// <summary><c>show service|keepalive|content|ssl-proxy-list [NAME]</c>: the object kind and an optional name.</summary>
public sealed record ShowRequest(string What, string? Name);

/// <summary>
/// The SSLM statistics palette: <c>show ssl-proxy stats|service|conn ...</c>, or with <paramref name="Clear"/>
/// <c>clear ssl-proxy stats ...</c>; <paramref name="Args"/> are the words after <c>ssl-proxy</c>.
/// </summary>
public sealed record SslProxyRequest(bool Clear, IReadOnlyList<string> Args);

/// <summary>The text the node printed; Found is false when a named object does not exist.</summary>
public sealed record ShowResponse(bool Found, string Text);

/// <summary>
/// One exec command of the <c>ssl</c> palette, as typed (<c>ssl genrsa k1 2048 "pw"</c>, <c>ssl gencsr k1 ...</c>,
/// <c>copy ssl file:/tmp/x.pem import ...</c>): the node parses it so that CLI and node agree on one grammar.
/// </summary>
public sealed record SslCommandRequest(IReadOnlyList<string> Words);

/// <summary>The outcome of an exec command: text to show (a CSR, a confirmation) and whether it succeeded.</summary>
public sealed record SslCommandResponse(bool Succeeded, string Output);

public sealed record StoreFileInfo(string Name, string Kind, string Summary);

public sealed record FilesResponse(IReadOnlyList<StoreFileInfo> Files);

public sealed record ClusterMemberInfo(string Address, string Status, IReadOnlyList<string> Roles, bool IsSelf)
{
    /// <summary>The configuration revision the member holds; null when it did not answer.</summary>
    public long? Revision { get; init; }

    /// <summary>The store's revision as the member last heard it.</summary>
    public long? StoreRevision { get; init; }

    /// <summary>How long the member has been behind the store's revision (0 when it is not).</summary>
    public double? BehindSeconds { get; init; }

    /// <summary>The member's incarnation: a node started again at the same address has a new one.</summary>
    public long Uid { get; init; }

    /// <summary>The member's place by age among those up, 0 for the oldest (which hosts the singletons); -1 when not up.</summary>
    public int Age { get; init; } = -1;

    /// <summary>Whether the member accepts connections with every listener of its revision bound; null when it did not answer.</summary>
    public bool? Serving { get; init; }
}

/// <summary>Drain the member at <paramref name="Node"/> (its address as <c>cluster show</c> prints it), through any node.</summary>
public sealed record ClusterDrainRequest(string Node);

/// <summary>The member marked down (<c>cluster down ADDRESS</c>): the leader removes it; its shards and singletons start elsewhere.</summary>
public sealed record ClusterDownResponse(string Node);

public sealed record ClusterResponse(IReadOnlyList<ClusterMemberInfo> Members, string? Leader);

/// <summary>A drain started: this node stops accepting, hands its shards off, waits up to the timeout, then leaves.</summary>
public sealed record DrainResponse(string Node, bool AlreadyDraining, int OpenConnections, int DrainTimeoutSeconds);

/// <summary>Where the shards of one sharded entity type live: per node, the shards and entities it hosts.</summary>
public sealed record ShardRegionInfo(string TypeName, string Address, int Shards, int Entities);

public sealed record ShardsResponse(IReadOnlyList<ShardRegionInfo> Regions);

/// <summary>One ticket key as an operator sees it: its public name and times, never its secret.</summary>
public sealed record TicketKeyInfo(string Name, DateTimeOffset CreatedAt, DateTimeOffset EncryptUntil, DateTimeOffset AcceptUntil, bool Current);

/// <summary>
/// <c>show ssl sessions</c>: this node's view of the cluster-wide TLS session cache (sessions held, created here,
/// taken from other nodes, refused) and of the ticket keys (tickets issued, opened and refused here).
/// </summary>
public sealed record SessionCacheResponse(
    int Held, int Capacity, bool Shared, long Created, long FromPeers, long Refused,
    bool TicketsEnabled, long TicketsIssued, long TicketsOpened, long TicketsRefused, IReadOnlyList<TicketKeyInfo> TicketKeys);

public sealed record ErrorResponse(string Error);

/// <summary>One open connection on a node: its module or clear-text rule, revision, client, phase and age.</summary>
public sealed record ConnectionRow(string Owner, long Revision, string? Client, string Phase, double AgeSeconds);

/// <summary>The open connections of a node (the first <c>Rows.Count</c> of <paramref name="Total"/>, oldest first).</summary>
public sealed record ConnectionsResponse(int Total, IReadOnlyList<ConnectionRow> Rows)
{
    /// <summary>Rows a node sends at most.</summary>
    public const int MaxRows = 1_000;

    /// <summary>The table <c>show connections</c> prints.</summary>
    public string Print()
    {
        var o = new System.Text.StringBuilder();
        if (Total == 0) return "No open connections on this node.\n";
        o.Append(System.Globalization.CultureInfo.InvariantCulture, $"{"Module or rule",-28} {"Revision",8} {"Phase",-10} {"Age",8}  Client\n");
        foreach (var r in Rows)
            o.Append(System.Globalization.CultureInfo.InvariantCulture, $"{r.Owner,-28} {r.Revision,8} {r.Phase,-10} {r.AgeSeconds,7:0.0}s  {r.Client}\n");
        if (Rows.Count < Total) o.Append(System.Globalization.CultureInfo.InvariantCulture, $"... and {Total - Rows.Count} more\n");
        o.Append(System.Globalization.CultureInfo.InvariantCulture, $"{Total} open connection(s)\n");
        return o.ToString();
    }
}

/// <summary>JSON settings both sides use; enums travel as their names so the wire is readable.</summary>
public static class AdminJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };
}
