using System.Globalization;
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
    public const string ShardStats = "/v1/cluster/shard-stats";
    public const string ClusterJoin = "/v1/cluster/join";
    public const string Names = "/v1/names";
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

public sealed record FlowsResponse(IReadOnlyList<ModuleFlows> Modules)
{
    /// <summary>
    /// The clear-text content rules' flows summed over the cluster, each as <c>owner/rule</c> in <see cref="ModuleFlows.Module"/>
    /// (open flows in <see cref="FlowRow.TcpProxyFlows"/>); none for a token of one SSLM context.
    /// </summary>
    public IReadOnlyList<ModuleFlows> Rules { get; init; } = [];
}

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

/// <summary>
/// A member or cluster named by its address as <c>cluster show</c> prints it (<c>akka.tcp://sslcluster@HOST:PORT</c>): the
/// member to drain or to mark down, or the cluster this node is to join.
/// </summary>
public sealed record ClusterMemberRequest(string Node);

/// <summary><c>cluster join ADDRESS</c> accepted: this node joins the cluster of the member at <paramref name="Node"/>.</summary>
public sealed record ClusterJoinResponse(string Self, string Node);

/// <summary>The member marked down (<c>cluster down ADDRESS</c>): the leader removes it; its shards and singletons start elsewhere.</summary>
public sealed record ClusterDownResponse(string Node);

public sealed record ClusterResponse(IReadOnlyList<ClusterMemberInfo> Members, string? Leader);

/// <summary>A drain started: this node stops accepting, hands its shards off, waits up to the timeout, then leaves.</summary>
public sealed record DrainResponse(string Node, bool AlreadyDraining, int OpenConnections, int DrainTimeoutSeconds);

/// <summary>Where the shards of one sharded entity type live: per node, the shards and entities it hosts.</summary>
public sealed record ShardRegionInfo(string TypeName, string Address, int Shards, int Entities);

public sealed record ShardsResponse(IReadOnlyList<ShardRegionInfo> Regions);

/// <summary>One shard of a sharded entity type: the node that hosts it and how many entities it runs.</summary>
public sealed record ShardInfo(string ShardId, string Address, int Entities);

/// <summary>
/// <c>cluster-sharding shard-stats TYPE</c>: every shard of one entity type, and the shards that did not answer in time
/// (<c>shard ID on NODE</c>).
/// </summary>
public sealed record ShardStatsResponse(string TypeName, IReadOnlyList<ShardInfo> Shards, IReadOnlyList<string> Silent);

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

/// <summary>
/// The names an operator types after a command, for completion (the shell's tab, bash completion): the members, the
/// sharded entity types, and the configuration's objects as this token sees them (a context token: its context's only).
/// </summary>
public sealed record NamesResponse(
    IReadOnlyList<string> Members,
    IReadOnlyList<string> EntityTypes,
    IReadOnlyList<string> Services,
    IReadOnlyList<string> ContentRules,
    IReadOnlyList<string> ProxyLists,
    IReadOnlyList<string> Keepalives,
    IReadOnlyList<string> SslProxyServices)
{
    public static NamesResponse None { get; } = new([], [], [], [], [], [], []);

    /// <summary>The modules the SSLM proxy services run as (<c>SERVICE@CONTEXT</c>), as <c>show connections module</c> takes them.</summary>
    public IReadOnlyList<string> SslProxyModules { get; init; } = [];
}

/// <summary>
/// One open connection on a node: its module or clear-text rule, revision, client, phase and age; the listener it came
/// in on, the back end it relays to, and the bytes that crossed the client side each way (TLS records included).
/// </summary>
public sealed record ConnectionRow(string Owner, long Revision, string? Client, string Phase, double AgeSeconds)
{
    public string? Vip { get; init; }

    public string? Backend { get; init; }

    public long BytesFromClient { get; init; }

    public long BytesToClient { get; init; }
}

/// <summary>The open connections of one node: the first <c>Rows.Count</c> of <paramref name="Total"/> that match, oldest first.</summary>
public sealed record NodeConnectionRows(string Node, int Total, IReadOnlyList<ConnectionRow> Rows);

/// <summary>
/// <c>show connections</c>: which connections to list, every filter optional. <paramref name="Module"/> matches the
/// module or the rule (the part after OWNER/), <paramref name="Client"/> the client's address with or without its port,
/// <paramref name="Node"/> a member's address as <c>cluster show</c> prints it; <paramref name="Context"/>, set by the
/// node for a token of one SSLM context, the modules of that context alone.
/// </summary>
public sealed record ConnectionsRequest(string? Module = null, string? Client = null, string? Node = null, string? Context = null)
{
    /// <summary>Whether a connection of <paramref name="owner"/> from <paramref name="client"/> is one to list.</summary>
    public bool Matches(string owner, string? client)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (Context is { } context && !Config.SslmLowering.InContext(ModuleOf(owner), context)) return false;
        if (Module is { } module && ModuleOf(owner) != module && owner != module) return false;
        return Client is not { } wanted || client is { } c
            && (c == wanted || c.StartsWith(wanted + ":", StringComparison.Ordinal) || c.StartsWith("[" + wanted + "]:", StringComparison.Ordinal));
    }

    /// <summary>A relayed connection (a clear-text rule, an SSLM client service) is owned by OWNER/RULE: its rule names it.</summary>
    public static string ModuleOf(string owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        return owner[(owner.LastIndexOf('/') + 1)..];
    }
}

/// <summary>
/// The open connections of every node that answered (each lists its oldest that match, at most <see cref="Limit"/>), and
/// the members that did not answer in time.
/// </summary>
public sealed record ConnectionsResponse(IReadOnlyList<NodeConnectionRows> Nodes, IReadOnlyList<string> Silent)
{
    /// <summary>Rows a node sends at most when the request names no limit.</summary>
    public const int DefaultRows = 1_000;

    /// <summary>
    /// The largest limit a request may name: rows a node sends at most. About 2.5 MB of rows in some forty parts per node,
    /// which share the remoting connection with the cluster's heartbeats; past it, filters narrow the list.
    /// </summary>
    public const int MostRows = 10_000;

    /// <summary>The limit the rows were cut at, per node (<see cref="DefaultRows"/> from a node that did not say).</summary>
    public int Limit { get; init; } = DefaultRows;

    /// <summary>Null when <paramref name="limit"/> is a limit a request may name, else why not.</summary>
    public static string? LimitError(int limit) =>
        limit is >= 1 and <= MostRows ? null : string.Create(CultureInfo.InvariantCulture, $"limit must be from 1 to {MostRows:N0} connections per node, not {limit}");

    /// <summary>The limit a request's text names (null: the default), or why it names none.</summary>
    public static (int Limit, string? Error) ParseLimit(string? text)
    {
        if (text is null) return (DefaultRows, null);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit))
            return (0, $"limit takes a number of connections per node, not '{text}'");
        return (limit, LimitError(limit));
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
