using System.Globalization;
using System.Text;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// The live counters of one module on one VIP and port, updated by the data path without locks. The three gauges
/// are those of the reference's <c>show ssl flows</c>: TCP proxy flows (connections open now, in any phase), active
/// SSL flows (handshake done, still open), SSL flows in handshake. Totals count since start.
/// </summary>
public sealed class FlowCounters
{
    private long _open;
    private long _active;
    private long _handshaking;
    private long _accepted;
    private long _handshakesDone;
    private long _handshakesFailed;
    private long _resumed;
    private long _bytesFromClients;
    private long _bytesToClients;
    private readonly long[] _outcomes = new long[Outcomes.Count];

    /// <summary>Client-authentication outcomes by result and by the revocation method that decided (index 0: none did).</summary>
    private readonly long[] _clientAuth = new long[ClientAuthResults.Count * RevocationSlots];

    private const int RevocationSlots = 4;

    /// <summary>Every client-authentication result, in enum order.</summary>
    public static IReadOnlyList<Tls.ClientAuthResult> ClientAuthResults { get; } = Enum.GetValues<Tls.ClientAuthResult>();

    /// <summary>
    /// Counts a client-authentication decision (a connection let through, or refused): its result, and which
    /// revocation method decided it (the SSLM could not tell OCSP from CRL, CSCei92116). Not-requested is not counted.
    /// </summary>
    public void ClientAuth(Tls.ClientAuthOutcome? outcome)
    {
        if (outcome is null || outcome.Result == Tls.ClientAuthResult.NotRequested) return;
        Interlocked.Increment(ref _clientAuth[(int)outcome.Result * RevocationSlots + Slot(outcome.Revocation)]);
    }

    /// <summary>Client-authentication decisions with <paramref name="result"/> that <paramref name="method"/> decided (null: no method did).</summary>
    public long ClientAuthCount(Tls.ClientAuthResult result, Config.RevocationMethod? method) =>
        Interlocked.Read(ref _clientAuth[(int)result * RevocationSlots + Slot(method)]);

    private static int Slot(Config.RevocationMethod? method) => method is { } m ? 1 + (int)m : 0;

    /// <summary>Every value a connection can end with, in enum order.</summary>
    public static IReadOnlyList<Net.ProxyError> Outcomes { get; } = Enum.GetValues<Net.ProxyError>();

    /// <summary>Connections that ended with <paramref name="outcome"/> since start.</summary>
    public long Ended(Net.ProxyError outcome) => Interlocked.Read(ref _outcomes[(int)outcome]);

    /// <summary>Counts how a connection ended (each <see cref="Net.ProxyError"/> value, None for a normal end).</summary>
    public void Outcome(Net.ProxyError outcome) => Interlocked.Increment(ref _outcomes[(int)outcome]);

    /// <summary>A clear-text connection was accepted (no handshake: it is relayed at once).</summary>
    public void AcceptRelay()
    {
        Interlocked.Increment(ref _accepted);
        Interlocked.Increment(ref _open);
    }

    /// <summary>A clear-text connection ended.</summary>
    public void ClosedRelay(long bytesFromClient, long bytesToClient)
    {
        Interlocked.Decrement(ref _open);
        Interlocked.Add(ref _bytesFromClients, bytesFromClient);
        Interlocked.Add(ref _bytesToClients, bytesToClient);
    }

    public long TcpProxyFlows => Interlocked.Read(ref _open);

    public long ActiveSslFlows => Interlocked.Read(ref _active);

    public long InHandshake => Interlocked.Read(ref _handshaking);

    public long Accepted => Interlocked.Read(ref _accepted);

    public long HandshakesCompleted => Interlocked.Read(ref _handshakesDone);

    public long HandshakesFailed => Interlocked.Read(ref _handshakesFailed);

    public long Resumed => Interlocked.Read(ref _resumed);

    public long BytesFromClients => Interlocked.Read(ref _bytesFromClients);

    public long BytesToClients => Interlocked.Read(ref _bytesToClients);

    /// <summary>
    /// True for the row of TLS legs towards real servers (re-encryption, SSL initiation): its connections are not
    /// clients' (<c>show ssl-proxy stats</c> counts them apart).
    /// </summary>
    public bool ServerLeg
    {
        get => Volatile.Read(ref _serverLeg);
        set => Volatile.Write(ref _serverLeg, value);
    }

    private bool _serverLeg;

    /// <summary>
    /// True for the row of an SSLM client service: clear-text clients' connections whose handshakes are the TLS legs
    /// towards the server (SSL initiation).
    /// </summary>
    public bool Initiation
    {
        get => Volatile.Read(ref _initiation);
        set => Volatile.Write(ref _initiation, value);
    }

    private bool _initiation;

    /// <summary>The TLS leg of a relayed connection counted on this (relay) row starts its handshake.</summary>
    public void TlsLegStarted() => Interlocked.Increment(ref _handshaking);

    /// <summary>The TLS leg of a relayed connection counted on this row ended (the relay counts the connection itself).</summary>
    public void TlsLegEnded(bool handshakeDone)
    {
        if (handshakeDone)
        {
            Interlocked.Decrement(ref _active);
        }
        else
        {
            Interlocked.Decrement(ref _handshaking);
            Interlocked.Increment(ref _handshakesFailed);
        }
    }

    public void Accept()
    {
        Interlocked.Increment(ref _accepted);
        Interlocked.Increment(ref _open);
        Interlocked.Increment(ref _handshaking);
    }

    public void HandshakeCompleted(bool resumed)
    {
        Interlocked.Decrement(ref _handshaking);
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _handshakesDone);
        if (resumed) Interlocked.Increment(ref _resumed);
    }

    /// <summary>
    /// A connection ended; <paramref name="handshakeDone"/> says which gauge it leaves. One that ends without its
    /// handshake is a failed handshake, unless the client never sent a byte (<paramref name="empty"/>, a port check):
    /// that one attempted nothing.
    /// </summary>
    public void Closed(bool handshakeDone, long bytesFromClient, long bytesToClient, bool empty = false)
    {
        if (handshakeDone)
        {
            Interlocked.Decrement(ref _active);
        }
        else
        {
            Interlocked.Decrement(ref _handshaking);
            if (!empty) Interlocked.Increment(ref _handshakesFailed);
        }
        Interlocked.Decrement(ref _open);
        Interlocked.Add(ref _bytesFromClients, bytesFromClient);
        Interlocked.Add(ref _bytesToClients, bytesToClient);
    }

    /// <summary>What header insertion did on this row.</summary>
    public Http.HeaderInsertionCounters Headers { get; } = new();

    /// <summary>
    /// <c>clear ssl-proxy stats</c>: every total back to zero. The gauges (open, active, in handshake) are running
    /// counts of what is open now and stay, as the reference keeps its running counters (CSCeh70549).
    /// </summary>
    /// <param name="category">One of <see cref="SslProxyStats.ClearCategories"/> (its totals only), or null for all.</param>
    public void Clear(string? category = null)
    {
        if (category is null or "tcp")
        {
            Interlocked.Exchange(ref _accepted, 0);
            Interlocked.Exchange(ref _bytesFromClients, 0);
            Interlocked.Exchange(ref _bytesToClients, 0);
        }

        if (category is null or "ssl")
        {
            Interlocked.Exchange(ref _handshakesDone, 0);
            Interlocked.Exchange(ref _handshakesFailed, 0);
            Interlocked.Exchange(ref _resumed, 0);
        }

        for (var i = 0; i < _outcomes.Length; i++)
        {
            var tcp = StatNames.IsTcp((Net.ProxyError)i);
            if (category is null || (category == "tcp" && tcp) || (category == "ssl" && !tcp))
                Interlocked.Exchange(ref _outcomes[i], 0);
        }

        if (category is null or "pki")
        {
            for (var i = 0; i < _clientAuth.Length; i++) Interlocked.Exchange(ref _clientAuth[i], 0);
        }

        if (category is null or "hdr") Headers.Clear();
    }

    public FlowRow Snapshot(string vip, int port) =>
        new(vip, port, TcpProxyFlows, ActiveSslFlows, InHandshake, Accepted, HandshakesCompleted, HandshakesFailed, Resumed, BytesFromClients, BytesToClients)
        {
            Totals = NamedTotals(),
            ServerLeg = ServerLeg,
            Initiation = Initiation,
        };

    /// <summary>
    /// The totals beside the row's columns, by name (only those above zero, to keep reports small): <c>ended.OUTCOME</c>
    /// per way a connection ended, <c>auth.RESULT.METHOD</c> per client-authentication decision and the revocation
    /// method that made it (<c>none</c> for <c>revocation-check none</c>, <c>none_decided</c> when no method did),
    /// <c>hdr.requests|removed|refused</c> for header insertion.
    /// </summary>
    private SortedDictionary<string, long>? NamedTotals()
    {
        SortedDictionary<string, long>? totals = null;
        void Add(string name, long value)
        {
            if (value > 0) (totals ??= new SortedDictionary<string, long>(StringComparer.Ordinal))[name] = value;
        }

        foreach (var outcome in Outcomes) Add(StatNames.Ended(outcome), Ended(outcome));
        foreach (var result in ClientAuthResults)
        {
            Add(StatNames.Auth(result, null), ClientAuthCount(result, null));
            foreach (var method in Enum.GetValues<Config.RevocationMethod>()) Add(StatNames.Auth(result, method), ClientAuthCount(result, method));
        }

        Add(StatNames.HeaderRequests, Headers.Requests);
        Add(StatNames.HeaderRemoved, Headers.Removed);
        Add(StatNames.HeaderRefused, Headers.Refused);
        return totals;
    }
}

/// <summary>The names of the totals a <see cref="FlowRow"/> carries beside its columns.</summary>
public static class StatNames
{
    public const string HeaderRequests = "hdr.requests";
    public const string HeaderRemoved = "hdr.removed";
    public const string HeaderRefused = "hdr.refused";

    public static string Ended(Net.ProxyError outcome) => "ended." + outcome;

    private static readonly Dictionary<string, bool> EndedIsTcp =
        Enum.GetValues<Net.ProxyError>().ToDictionary(Ended, IsTcp, StringComparer.Ordinal);

    /// <summary>Whether <c>clear ssl-proxy stats CATEGORY</c> (null: all) zeroes the named total <paramref name="name"/>.</summary>
    public static bool ClearedBy(string name, string? category) => category switch
    {
        null => true,
        "tcp" => EndedIsTcp.TryGetValue(name, out var tcp) && tcp,
        "ssl" => EndedIsTcp.TryGetValue(name, out var tcp) && !tcp,
        "pki" => name.StartsWith("auth.", StringComparison.Ordinal),
        "hdr" => name.StartsWith("hdr.", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>Whether an outcome is a TCP statistic (the others are SSL ones): a normal close, resets, timeouts, connects.</summary>
    public static bool IsTcp(Net.ProxyError outcome) => outcome is Net.ProxyError.None or Net.ProxyError.ClientReset or Net.ProxyError.IdleTimeout
        or Net.ProxyError.Aborted or Net.ProxyError.BackendConnectFailed or Net.ProxyError.BackendConnectTimeout or Net.ProxyError.BackendReset
        or Net.ProxyError.InternalError or Net.ProxyError.ClientClosedEmpty;

    /// <summary>The total of one client-authentication result under the revocation method that decided it (null: none did, named <c>none_decided</c> as in /metrics).</summary>
    public static string Auth(Tls.ClientAuthResult result, Config.RevocationMethod? method) =>
        $"auth.{result}.{(method is { } m ? m.ToString().ToLowerInvariant() : "none_decided")}";
}

/// <summary>One row of <c>show ssl flows</c>, with the totals kept beside the reference's three gauges.</summary>
public sealed record FlowRow(
    string Virtual, int Port, long TcpProxyFlows, long ActiveSslFlows, long InHandshake,
    long Accepted = 0, long HandshakesCompleted = 0, long HandshakesFailed = 0, long Resumed = 0,
    long BytesFromClients = 0, long BytesToClients = 0)
{
    /// <summary>True for a row of TLS legs towards real servers (see <see cref="FlowCounters.ServerLeg"/>).</summary>
    public bool ServerLeg { get; init; }

    /// <summary>True for the row of an SSLM client service (see <see cref="FlowCounters.Initiation"/>).</summary>
    public bool Initiation { get; init; }

    /// <summary>The named totals of <see cref="StatNames"/> above zero; null when there are none.</summary>
    public IReadOnlyDictionary<string, long>? Totals { get; init; }

    /// <summary>A named total (zero when absent).</summary>
    public long Total(string name) => Totals is { } t && t.TryGetValue(name, out var v) ? v : 0;

    /// <summary>Adds another node's row for the same VIP and port.</summary>
    public FlowRow Plus(FlowRow other)
    {
        ArgumentNullException.ThrowIfNull(other);
        SortedDictionary<string, long>? totals = null;
        if (Totals is not null || other.Totals is not null)
        {
            totals = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var (name, value) in (Totals ?? Empty).Concat(other.Totals ?? Empty))
                totals[name] = totals.GetValueOrDefault(name) + value;
        }

        return this with
        {
            Totals = totals,
            TcpProxyFlows = TcpProxyFlows + other.TcpProxyFlows,
            ActiveSslFlows = ActiveSslFlows + other.ActiveSslFlows,
            InHandshake = InHandshake + other.InHandshake,
            Accepted = Accepted + other.Accepted,
            HandshakesCompleted = HandshakesCompleted + other.HandshakesCompleted,
            HandshakesFailed = HandshakesFailed + other.HandshakesFailed,
            Resumed = Resumed + other.Resumed,
            BytesFromClients = BytesFromClients + other.BytesFromClients,
            BytesToClients = BytesToClients + other.BytesToClients,
        };
    }

    /// <summary>The row's totals alone: what a node that left hands over (its open connections are gone).</summary>
    public FlowRow Retired() => this with { TcpProxyFlows = 0, ActiveSslFlows = 0, InHandshake = 0 };

    /// <summary>
    /// The row with the totals of <paramref name="category"/> (one of <see cref="SslProxyStats.ClearCategories"/>, or
    /// null for all) back to zero, as <see cref="FlowCounters.Clear"/> does to live counters.
    /// </summary>
    public FlowRow Cleared(string? category)
    {
        var tcp = category is null or "tcp";
        var ssl = category is null or "ssl";
        var kept = Totals?.Where(t => !StatNames.ClearedBy(t.Key, category)).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        return this with
        {
            Accepted = tcp ? 0 : Accepted,
            BytesFromClients = tcp ? 0 : BytesFromClients,
            BytesToClients = tcp ? 0 : BytesToClients,
            HandshakesCompleted = ssl ? 0 : HandshakesCompleted,
            HandshakesFailed = ssl ? 0 : HandshakesFailed,
            Resumed = ssl ? 0 : Resumed,
            Totals = kept is { Count: > 0 } ? kept : null,
        };
    }

    private static readonly IReadOnlyDictionary<string, long> Empty = new Dictionary<string, long>();
}

/// <summary>The flows of one module (a service of type ssl-accel), summed over every node.</summary>
public sealed record ModuleFlows(string Module, int? Slot, IReadOnlyList<FlowRow> Rows)
{
    /// <summary>The nodes whose reports the rows sum.</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];
}

/// <summary>
/// Every module's counters on this node, one <see cref="FlowCounters"/> per (module, virtual address, port) row:
/// the front-end VIP rows and the backend-server rows (<c>ip address</c>, <c>port</c>) of re-encrypted and
/// initiated flows. Shared by the data path (which counts) and the module agents (which report). Thread-safe.
/// </summary>
public sealed class FlowRegistry
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Module, string Vip, int Port), FlowCounters> _rows = new();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Rule, string Vip, int Port), FlowCounters> _relays = new();

    /// <summary>What a clear-text rule's rows are reported, handed over and inherited under: no configured name has '|'.</summary>
    private const string RulePrefix = "rule|";

    /// <summary>
    /// The key a clear-text rule's counters are reported under (its entity's id) for its <c>owner/rule</c>: never a
    /// module's name, since configured names hold no '|' (a service may be called <c>o/plain</c>).
    /// </summary>
    public static string RuleKey(string rule) => RulePrefix + rule;

    /// <summary>A report key as a person reads it: <c>module NAME</c> or <c>content rule OWNER/RULE</c>.</summary>
    public static string Describe(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.StartsWith(RulePrefix, StringComparison.Ordinal) ? "content rule " + key[RulePrefix.Length..] : "module " + key;
    }

    /// <summary>Totals that nodes which left handed to this one (<see cref="Inherit"/>), by module row.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Module, string Vip, int Port, bool ServerLeg, bool Initiation), FlowRow> _inherited = new();

    /// <summary>
    /// Keeps the totals of a module row that a node leaving the cluster handed over, so that the cluster's figures
    /// (<c>show ssl flows</c>, <c>show ssl-proxy</c>) survive a drain or a rolling restart. They are reported with this
    /// node's own rows and cleared with them, but stay out of this node's metrics, which are its own.
    /// </summary>
    public void Inherit(string module, FlowRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var retired = row.Retired();
        _inherited.AddOrUpdate((module, row.Virtual, row.Port, row.ServerLeg, row.Initiation), retired, (_, held) => held.Plus(retired));
    }

    /// <summary>
    /// Takes a draining member's hand-over (<paramref name="rows"/>, one part of them) and names it retired, together: a
    /// report read meanwhile never has its rows without naming it, which would count them twice for a report interval.
    /// </summary>
    public void InheritFrom(string node, long uid, IEnumerable<(string Module, FlowRow Row)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        lock (_adoption)
        {
            foreach (var (module, row) in rows) Inherit(module, row);
            RecordRetired(node, uid);
        }
    }

    private volatile bool _handedOver;

    /// <summary>The last members whose totals this node inherited, as (address, incarnation); see <see cref="Retired"/>.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<RetiredNode> _retired = new();

    /// <summary>Members gone without a hand-over whose totals of one module this node took (the module entity asked), by module.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentQueue<RetiredNode>> _adopted = new(StringComparer.Ordinal);

    /// <summary>
    /// Records that the member <paramref name="node"/> (incarnation <paramref name="uid"/>) handed its totals to this
    /// node: all of them (a drain's hand-over), or those of <paramref name="module"/> only (a member that died, whose
    /// last report that module's entity gave here). This node's reports name it from then on, so that the modules drop
    /// the last report that member made and count its totals once, here. Only the last 16 are kept (per module for the
    /// second kind): a member that handed over never reports again.
    /// </summary>
    public void RecordRetired(string node, long uid, string? module = null)
    {
        var queue = module is null ? _retired : _adopted.GetOrAdd(module, _ => new());
        queue.Enqueue(new RetiredNode(node, uid));
        while (queue.Count > 16) queue.TryDequeue(out _);
    }

    /// <summary>The members whose totals this node holds (at most the last 16).</summary>
    public IReadOnlyList<RetiredNode> Retired => [.. _retired];

    /// <summary>The members whose totals of <paramref name="module"/> this node holds: <see cref="Retired"/> and those it took for that module alone.</summary>
    public IReadOnlyList<RetiredNode> RetiredFor(string module) =>
        _adopted.TryGetValue(module, out var adopted) && !adopted.IsEmpty ? [.. _retired, .. adopted] : Retired;

    // Taken by an adoption and by a module's report, so that a report never has a dead member's rows without naming it,
    // nor names it without its rows. The data path never takes it.
    private readonly Lock _adoption = new();

    /// <summary>
    /// Takes one module's totals of a member that died (the module's entity sends them: <paramref name="rows"/>, in
    /// parts); with the <paramref name="last"/> part the member is named retired in that module's reports.
    /// </summary>
    public void Adopt(string module, IEnumerable<FlowRow> rows, string node, long uid, bool last)
    {
        ArgumentNullException.ThrowIfNull(rows);
        lock (_adoption)
        {
            foreach (var row in rows) Inherit(module, row);
            if (last) RecordRetired(node, uid, module);
        }
    }

    /// <summary>What this node reports for <paramref name="module"/>: its rows and the members it holds the totals of, read together.</summary>
    public (IReadOnlyList<FlowRow> Rows, IReadOnlyList<RetiredNode> Retired) ReportOf(string module)
    {
        lock (_adoption)
        {
            return (RowsOf(module), RetiredFor(module));
        }
    }

    /// <summary>
    /// What this node hands over when it leaves, once its connections have ended: the totals of every module's and every
    /// clear-text rule's rows (a rule under its <see cref="RuleKey"/>), its own and those it inherited. From then on it reports
    /// no rows, so that the cluster does not count them twice.
    /// </summary>
    public IReadOnlyList<(string Module, FlowRow Row)> HandOver()
    {
        _handedOver = true;
        return [.. _rows.Select(r => (r.Key.Module, r.Value.Snapshot(r.Key.Vip, r.Key.Port).Retired())),
            .. _relays.Select(r => (RuleKey(r.Key.Rule), r.Value.Snapshot(r.Key.Vip, r.Key.Port).Retired())),
            .. _inherited.Select(r => (r.Key.Module, r.Value))];
    }

    public FlowCounters For(string module, string vip, int port) => _rows.GetOrAdd((module, vip, port), _ => new FlowCounters());

    /// <summary>The counters of a clear-text content rule (<c>owner/rule</c>) on its VIP and port.</summary>
    public FlowCounters ForRule(string rule, string vip, int port) => _relays.GetOrAdd((rule, vip, port), _ => new FlowCounters());

    /// <summary><c>clear ssl-proxy stats</c> on this node: the totals of every row (of <paramref name="module"/> only, when named) back to zero.</summary>
    /// <param name="category">One of <see cref="SslProxyStats.ClearCategories"/>, or null for all.</param>
    /// <returns>How many rows were cleared.</returns>
    /// <param name="context">With no module: only the modules of this SSLM context (named <c>NAME@CONTEXT</c>).</param>
    public int Clear(string? module = null, string? category = null, string? context = null)
    {
        var cleared = 0;
        foreach (var (key, counters) in _rows)
        {
            if (module is not null && key.Module != module) continue;
            if (context is not null && !Config.SslmLowering.InContext(key.Module, context)) continue;
            counters.Clear(category);
            cleared++;
        }

        foreach (var (key, row) in _inherited)
        {
            if (module is not null && key.Module != module) continue;
            if (context is not null && !Config.SslmLowering.InContext(key.Module, context)) continue;
            _inherited[key] = row.Cleared(category);
        }

        if (module is not null || context is not null) return cleared;
        foreach (var counters in _relays.Values)
        {
            counters.Clear(category);
            cleared++;
        }

        return cleared;
    }

    /// <summary>
    /// The rows this node reports for <paramref name="module"/> (a module's name, or a clear-text rule's
    /// <see cref="RuleKey"/>): its own, then those it inherited.
    /// </summary>
    public IReadOnlyList<FlowRow> RowsOf(string module)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (_handedOver) return [];
        var rule = module.StartsWith(RulePrefix, StringComparison.Ordinal) ? module[RulePrefix.Length..] : null;
        return [.. _rows.Where(r => r.Key.Module == module).Select(r => r.Value.Snapshot(r.Key.Vip, r.Key.Port)),
            .. _relays.Where(r => rule is not null && r.Key.Rule == rule).Select(r => r.Value.Snapshot(r.Key.Vip, r.Key.Port)),
            .. _inherited.Where(r => r.Key.Module == module).Select(r => r.Value)];
    }

    /// <summary>Every module row on this node, with its live counters (for this node's metrics).</summary>
    public IReadOnlyList<(string Module, string Vip, int Port, FlowCounters Counters)> ModuleRows() =>
        [.. _rows.Select(r => (r.Key.Module, r.Key.Vip, r.Key.Port, r.Value)).OrderBy(r => r.Module, StringComparer.Ordinal).ThenBy(r => r.Vip, StringComparer.Ordinal).ThenBy(r => r.Port)];

    /// <summary>Every clear-text rule row on this node, with its live counters.</summary>
    public IReadOnlyList<(string Rule, string Vip, int Port, FlowCounters Counters)> RuleRows() =>
        [.. _relays.Select(r => (r.Key.Rule, r.Key.Vip, r.Key.Port, r.Value)).OrderBy(r => r.Rule, StringComparer.Ordinal).ThenBy(r => r.Vip, StringComparer.Ordinal).ThenBy(r => r.Port)];
}

/// <summary>A member that left and handed its totals on: its address and its incarnation.</summary>
public sealed record RetiredNode(string Node, long Uid);

/// <summary>Open and total connections per service on this node: least-connections balancing and <c>show service</c>.</summary>
public sealed class ServiceGauges
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Gauge> _gauges = new(StringComparer.Ordinal);

    public long Current(string service) => _gauges.TryGetValue(service, out var g) ? Interlocked.Read(ref g.Current) : 0;

    public void Opened(string service)
    {
        var g = _gauges.GetOrAdd(service, _ => new Gauge());
        Interlocked.Increment(ref g.Current);
        Interlocked.Increment(ref g.Total);
    }

    public void Closed(string service)
    {
        if (_gauges.TryGetValue(service, out var g)) Interlocked.Decrement(ref g.Current);
    }

    /// <summary>Service name to its connections (total since start, open now).</summary>
    public IReadOnlyDictionary<string, Health.ServiceConnections> Snapshot() =>
        _gauges.ToDictionary(g => g.Key, g => new Health.ServiceConnections(Interlocked.Read(ref g.Value.Total), Interlocked.Read(ref g.Value.Current)), StringComparer.Ordinal);

    private sealed class Gauge
    {
        public long Current;
        public long Total;
    }
}
