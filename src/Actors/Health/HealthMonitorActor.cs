using Akka.Actor;
using Akka.Event;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;

namespace SslCluster.Actors.Health;

/// <summary>
/// One per node (at /user/health): keeps the node's <see cref="ServiceHealthTable"/> current for each configuration
/// revision. Alone (no owner region), it runs one child per probed service or global keepalive; a new revision
/// restarts only the children whose resolved target changed, so the state and counters of the others survive
/// unrelated edits. In a cluster, each target's keepalive is owned by its sharded <see cref="BackendServerEntity"/>
/// wherever sharding puts it: one probe per target for the whole cluster and one verdict that every node applies;
/// this actor then only asks for the entities and applies what they report. A thin shell: timing and verdicts live
/// in <see cref="KeepaliveRunner"/> and <see cref="KeepaliveState"/>.
/// </summary>
public sealed class HealthMonitorActor : ReceiveActor, IWithTimers
{
    public const string Name = "health";

    /// <summary>How often a node asks again for the entity of every target (recreating those lost with a node).</summary>
    public static readonly TimeSpan EnsureInterval = TimeSpan.FromSeconds(5);

    /// <summary>A configuration revision to run the keepalives of.</summary>
    public sealed record ApplyConfig(RunningConfig Config, long Revision = 0);

    /// <summary>Local: an entity on this node asks for its target as this node's revision resolves it.</summary>
    public sealed record GetTarget(KeepaliveKey Key);

    /// <summary>Local answer: the target (null when the revision has no such keepalive) and how to probe it from here.</summary>
    public sealed record TargetOf(KeepaliveKey Key, long Revision, KeepaliveTarget? Target, KeepaliveEnvironment Environment);

    private sealed record EnsureAll
    {
        public static EnsureAll Instance { get; } = new();
    }

    /// <summary>Query: the health of every keepalive, for <c>show service</c> and <c>show keepalive</c>.</summary>
    public sealed record GetHealth
    {
        public static GetHealth Instance { get; } = new();
    }

    /// <summary>The answer to <see cref="GetHealth"/>: the configuration the snapshot belongs to, and the snapshot.</summary>
    public sealed record CurrentHealth(RunningConfig Config, HealthSnapshot Health);

    private readonly ServiceHealthTable _table;
    private readonly KeepaliveEnvironment _environment;
    private readonly TimeProvider _time;
    private readonly IActorRef? _owners;
    private readonly Dictionary<KeepaliveKey, (KeepaliveTarget Target, IActorRef Child)> _children = [];
    private Dictionary<KeepaliveKey, KeepaliveTarget> _targets = [];
    private RunningConfig _config = RunningConfig.Empty;
    private long _revision;
    private long _generation;

    public HealthMonitorActor(ServiceHealthTable table, KeepaliveEnvironment environment, TimeProvider time, IActorRef? owners)
    {
        _table = table;
        _environment = environment;
        _time = time;
        _owners = owners;
        Receive<ApplyConfig>(a =>
        {
            _config = a.Config;
            _revision = a.Revision;
            var plan = KeepalivePlan.Build(a.Config);
            _targets = plan.Targets.ToDictionary(t => t.Key);
            if (_owners is null) RunHere(plan);
            else Delegate(plan);
        });
        Receive<GetHealth>(_ => Sender.Tell(new CurrentHealth(_config, _table.Snapshot)));
        Receive<GetTarget>(g => Sender.Tell(new TargetOf(g.Key, _revision, _targets.GetValueOrDefault(g.Key), _environment)));
        Receive<EnsureAll>(_ => Ensure());
        Receive<BackendServerProtocol.KeepaliveReported>(r =>
        {
            // A report for a keepalive this revision no longer has is late: its target was removed.
            if (BackendServerProtocol.Parse(r.Key) is { } key && _targets.ContainsKey(key)) _table.Publish(key, r.State);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// <paramref name="environment"/> gives the address map, TLS connector and scripts folder; its Health is replaced
    /// by <paramref name="table"/> so that the kal-service-check script reads this node's states.
    /// </summary>
    /// <param name="owners">The BackendServer shard region (cluster mode); null runs every keepalive on this node.</param>
    public static Props Props(ServiceHealthTable table, KeepaliveEnvironment environment, TimeProvider time, IActorRef? owners = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var withTable = environment with { Health = table };
        return Akka.Actor.Props.Create(() => new HealthMonitorActor(table, withTable, time, owners));
    }

    protected override void PreStart()
    {
        if (_owners is not null) Timers.StartPeriodicTimer("ensure", EnsureAll.Instance, EnsureInterval);
    }

    private void Delegate(KeepalivePlan plan)
    {
        _table.Configure(plan);
        Ensure();
    }

    private void Ensure()
    {
        foreach (var key in _targets.Keys) _owners!.Tell(new BackendServerProtocol.EnsureKeepalive(BackendServerProtocol.KeyOf(key), _revision));
    }

    private void RunHere(KeepalivePlan plan)
    {
        foreach (var (key, (target, child)) in _children.ToList())
        {
            if (_targets.TryGetValue(key, out var now) && now == target) continue;
            Context.Stop(child);
            _children.Remove(key);
        }
        // Forget removed keepalives before new children publish, so a changed one starts afresh (Alive, new counters).
        _table.Configure(plan with { Targets = new ValueList<KeepaliveTarget>(plan.Targets.Where(t => _children.ContainsKey(t.Key))) });
        _table.Configure(plan);
        foreach (var target in plan.Targets)
        {
            if (_children.ContainsKey(target.Key)) continue;
            var child = Context.ActorOf(KeepaliveActor.Props(target, _table, _environment, _time), $"kal-{++_generation}");
            _children[target.Key] = (target, child);
        }
    }
}

/// <summary>Runs one <see cref="KeepaliveRunner"/> for its lifetime and logs its state changes at Info (on the node that probes).</summary>
internal sealed class KeepaliveActor : ReceiveActor
{
    private readonly KeepaliveTarget _target;
    private readonly IKeepaliveSink _sink;
    private readonly KeepaliveEnvironment _environment;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stop = new();

    public KeepaliveActor(KeepaliveTarget target, IKeepaliveSink sink, KeepaliveEnvironment environment, TimeProvider time)
    {
        _target = target;
        _sink = sink;
        _environment = environment;
        _time = time;
        Receive<KeepaliveTransition>(t => _log.Info("{0}: {1} -> {2} ({3})", t.Name, t.From, t.To, t.Detail));
        Receive<string>(notice => _log.Warning(notice));
    }

    public static Props Props(KeepaliveTarget target, IKeepaliveSink sink, KeepaliveEnvironment environment, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new KeepaliveActor(target, sink, environment, time));

    protected override void PreStart()
    {
        var self = Self;
        var environment = _environment with { Notice = notice => self.Tell(notice) };
        var runner = new KeepaliveRunner(_target, KeepaliveProbes.Create(_target, environment), _sink, _time, t => self.Tell(t));
        // The runner's loop is plain async code on the thread pool; only its transitions come back as messages.
        _ = Task.Run(() => runner.RunAsync(_stop.Token));
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
