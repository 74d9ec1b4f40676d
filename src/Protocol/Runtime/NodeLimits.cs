using System.Collections.Concurrent;
using System.Net;

namespace SslCluster.Protocol.Runtime;

/// <summary>Why a new connection was refused.</summary>
public enum LimitRefusal
{
    None,

    /// <summary>The node holds <c>max-connections</c> connections.</summary>
    NodeConnections,

    /// <summary>The module holds its <c>max-conns</c> connections on this node.</summary>
    ModuleConnections,

    /// <summary>The SSLM context holds this node's share of its <c>maxconns</c>.</summary>
    ContextConnections,

    /// <summary>The node started <c>max-handshake-rate</c> TLS handshakes in the last second.</summary>
    HandshakeRate,

    /// <summary>This client address started <c>max-handshake-rate-per-source</c> TLS handshakes in the last second.</summary>
    HandshakeRatePerSource,
}

/// <summary>The node's limits (HAProxy's maxconn and maxsslrate are the model); 0 means no limit.</summary>
public sealed record LimitSettings
{
    public int MaxConnections { get; init; } = 65_536;

    public int MaxHandshakeRate { get; init; }

    public int MaxHandshakeRatePerSource { get; init; }

    /// <summary>At the node's connection limit or handshake rate: leave new connections in the listen backlog until there is room, rather than refuse them.</summary>
    public bool QueueWhenFull { get; init; }
}

/// <summary>
/// Admission of new connections on a node: a node-wide connection limit, a per-module one (<c>max-conns</c>), and
/// handshake rates in total and per client address (token buckets refilled every second). A refusal never touches an
/// open connection; each kind of refusal is counted. Thread-safe and lock-free on the accept path but for the
/// per-source buckets.
/// </summary>
public sealed class NodeLimits
{
    /// <summary>Client addresses tracked for the per-source rate; beyond it the idlest are forgotten.</summary>
    public const int MaxSources = 100_000;

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, StrongBoxCount> _modules = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBoxCount> _contexts = new(StringComparer.Ordinal);
    // One object, so a reader never sees a new member count with an old rank.
    private Membership _membership = new(0, 1);

    private sealed record Membership(int Rank, int Members);
    private readonly ConcurrentDictionary<IPAddress, Bucket> _sources = new();
    private readonly Bucket _rate;
    private readonly long[] _refused = new long[Enum.GetValues<LimitRefusal>().Length];
    private int _open;

    public NodeLimits(LimitSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        _time = time;
        _rate = new Bucket(time.GetTimestamp(), settings.MaxHandshakeRate);
    }

    public LimitSettings Settings { get; }

    /// <summary>Connections open on this node now (admitted and not yet ended).</summary>
    public int Open => Volatile.Read(ref _open);

    public long Refused(LimitRefusal why) => Interlocked.Read(ref _refused[(int)why]);

    /// <summary>Connections of SSLM context <paramref name="context"/> open on this node now.</summary>
    public int OpenOfContext(string context) => _contexts.TryGetValue(context, out var c) ? Volatile.Read(ref c.Value) : 0;

    /// <summary>
    /// The serving nodes of the cluster and this node's place among them (0-based, in address order; at or beyond
    /// <paramref name="members"/> when this node is not serving): a context's <c>maxconns</c> is divided by them.
    /// </summary>
    public void SetMembership(int rank, int members)
    {
        Volatile.Write(ref _membership, new Membership(rank, Math.Max(1, members)));
    }

    /// <summary>
    /// This node's share of a cluster-wide limit: the limit divided by the serving nodes, the remainder going one each
    /// to the first nodes in address order, so the shares add up to the limit exactly.
    /// </summary>
    public int ShareOf(int clusterMax)
    {
        var (rank, members) = Volatile.Read(ref _membership);
        return clusterMax / members + (rank >= 0 && rank < clusterMax % members ? 1 : 0);
    }

    /// <summary>Connections of <paramref name="module"/> open on this node now.</summary>
    public int OpenOf(string module) => _modules.TryGetValue(module, out var c) ? Volatile.Read(ref c.Value) : 0;

    /// <summary>
    /// Admits a new connection (<paramref name="module"/> null for a clear-text relay; <paramref name="tls"/> when it will
    /// handshake), or says why not. An admitted connection must be ended with <see cref="Ended"/>.
    /// </summary>
    public LimitRefusal TryAdmit(string? module, int moduleMax, bool tls, IPAddress? source) => TryAdmit(module, moduleMax, tls, source, count: true);

    /// <summary>
    /// As <see cref="TryAdmit(string?, int, bool, IPAddress?)"/>; with <paramref name="count"/> false a refusal is not counted (a queued
    /// connection that asks again).
    /// </summary>
    /// <param name="context">The SSLM context of the listener, or null.</param>
    /// <param name="contextMax">The context's <c>maxconns</c> for the whole cluster (0: none); this node admits its <see cref="ShareOf"/>.</param>
    public LimitRefusal TryAdmit(string? module, int moduleMax, bool tls, IPAddress? source, bool count, string? context = null, int contextMax = 0)
    {
        var refusal = Admit(module, moduleMax, tls, source, context, contextMax);
        if (refusal != LimitRefusal.None && count) Interlocked.Increment(ref _refused[(int)refusal]);
        return refusal;
    }

    /// <summary>Whether a refusal of this kind may wait in the queue (when-full = queue) rather than be refused.</summary>
    public bool Queues(LimitRefusal why) => Settings.QueueWhenFull && why is LimitRefusal.NodeConnections or LimitRefusal.HandshakeRate;

    /// <summary>Connections that waited in a listener's queue since start, and that wait now.</summary>
    public long Queued => Interlocked.Read(ref _queued);

    public int Waiting => Volatile.Read(ref _waiting);

    private long _queued;
    private int _waiting;

    /// <summary>A connection starts waiting in a queue.</summary>
    public void Enqueued()
    {
        Interlocked.Increment(ref _queued);
        Interlocked.Increment(ref _waiting);
    }

    /// <summary>A waiting connection left the queue (admitted, given up or timed out).</summary>
    public void Dequeued() => Interlocked.Decrement(ref _waiting);

    /// <summary>Counts a refusal decided outside (a queue that is full, a wait that timed out).</summary>
    public void Refused(LimitRefusal why, int times) => Interlocked.Add(ref _refused[(int)why], times);

    private LimitRefusal Admit(string? module, int moduleMax, bool tls, IPAddress? source, string? context, int contextMax)
    {
        if (Settings.MaxConnections > 0 && Interlocked.Increment(ref _open) > Settings.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            return LimitRefusal.NodeConnections;
        }
        if (Settings.MaxConnections <= 0) Interlocked.Increment(ref _open);
        StrongBoxCount? moduleCount = null;
        if (module is not null)
        {
            moduleCount = _modules.GetOrAdd(module, _ => new StrongBoxCount());
            if (Interlocked.Increment(ref moduleCount.Value) > moduleMax && moduleMax > 0)
            {
                Interlocked.Decrement(ref moduleCount.Value);
                Interlocked.Decrement(ref _open);
                return LimitRefusal.ModuleConnections;
            }
        }
        StrongBoxCount? contextCount = null;
        var why = LimitRefusal.None;
        if (context is not null)
        {
            contextCount = _contexts.GetOrAdd(context, _ => new StrongBoxCount());
            if (Interlocked.Increment(ref contextCount.Value) > ShareOf(contextMax) && contextMax > 0) why = LimitRefusal.ContextConnections;
        }

        if (why == LimitRefusal.None && tls) why = TakeHandshake(source);
        if (why == LimitRefusal.None) return LimitRefusal.None;
        if (contextCount is not null) Interlocked.Decrement(ref contextCount.Value);
        if (moduleCount is not null) Interlocked.Decrement(ref moduleCount.Value);
        Interlocked.Decrement(ref _open);
        return why;
    }

    /// <summary>An admitted connection ended.</summary>
    public void Ended(string? module, string? context = null)
    {
        Interlocked.Decrement(ref _open);
        if (module is not null && _modules.TryGetValue(module, out var c)) Interlocked.Decrement(ref c.Value);
        if (context is not null && _contexts.TryGetValue(context, out var x)) Interlocked.Decrement(ref x.Value);
    }

    /// <summary>
    /// The total rate first (a refusal there may queue, and must not spend the client's own tokens), then the client's;
    /// a client over its own rate gives the total token back.
    /// </summary>
    private LimitRefusal TakeHandshake(IPAddress? source)
    {
        var total = Settings.MaxHandshakeRate > 0;
        if (total && !_rate.TryTake(_time)) return LimitRefusal.HandshakeRate;
        if (Settings.MaxHandshakeRatePerSource > 0 && source is not null)
        {
            if (_sources.Count >= MaxSources) Forget();
            var bucket = _sources.GetOrAdd(source, _ => new Bucket(_time.GetTimestamp(), Settings.MaxHandshakeRatePerSource));
            if (!bucket.TryTake(_time))
            {
                if (total) _rate.GiveBack();
                return LimitRefusal.HandshakeRatePerSource;
            }
        }
        return LimitRefusal.None;
    }

    /// <summary>Forgets sources whose bucket is full again (not seen for a second or more), or half of them when all are busy.</summary>
    private void Forget()
    {
        foreach (var (address, bucket) in _sources)
            if (bucket.Peek(_time) && bucket.IdleFor(_time) > TimeSpan.FromSeconds(1)) _sources.TryRemove(address, out _);
        if (_sources.Count < MaxSources) return;
        foreach (var address in _sources.Keys.Take(_sources.Count / 2)) _sources.TryRemove(address, out _);
    }

    private sealed class StrongBoxCount
    {
        public int Value;
    }

    /// <summary>A token bucket of <c>perSecond</c> tokens, full at the start.</summary>
    private sealed class Bucket(long now, int perSecond)
    {
        private readonly Lock _gate = new();
        private double _tokens = perSecond;
        private long _last = now;
        private long _lastUse = now;

        public bool TryTake(TimeProvider time)
        {
            lock (_gate)
            {
                Refill(time);
                _lastUse = _last;
                if (_tokens < 1) return false;
                _tokens -= 1;
                return true;
            }
        }

        /// <summary>Returns a token taken for a connection that was refused for another reason.</summary>
        public void GiveBack()
        {
            lock (_gate) _tokens = Math.Min(perSecond, _tokens + 1);
        }

        public bool Peek(TimeProvider time)
        {
            lock (_gate)
            {
                Refill(time);
                return _tokens >= 1;
            }
        }

        /// <summary>Since the source last asked for a handshake.</summary>
        public TimeSpan IdleFor(TimeProvider time)
        {
            lock (_gate) return time.GetElapsedTime(_lastUse);
        }

        private void Refill(TimeProvider time)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(perSecond, _tokens + time.GetElapsedTime(_last, now).TotalSeconds * perSecond);
            _last = now;
        }
    }
}
