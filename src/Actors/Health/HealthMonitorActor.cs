using Akka.Actor;
using Akka.Event;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;

namespace SslCluster.Actors.Health;

/// <summary>
/// One per node: runs the keepalives of each configuration revision and keeps the node's <see cref="ServiceHealthTable"/>
/// current. One child per probed service or global keepalive; a new revision restarts only the children whose
/// resolved target changed, so the state and counters of the others survive unrelated edits. A thin shell: timing
/// and verdicts live in <see cref="KeepaliveRunner"/> and <see cref="KeepaliveState"/>.
/// </summary>
public sealed class HealthMonitorActor : ReceiveActor
{
    /// <summary>A configuration revision to run the keepalives of.</summary>
    public sealed record ApplyConfig(RunningConfig Config);

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
    private readonly Dictionary<KeepaliveKey, (KeepaliveTarget Target, IActorRef Child)> _children = [];
    private RunningConfig _config = RunningConfig.Empty;
    private long _generation;

    public HealthMonitorActor(ServiceHealthTable table, KeepaliveEnvironment environment, TimeProvider time)
    {
        _table = table;
        _environment = environment;
        _time = time;
        Receive<ApplyConfig>(OnApply);
        Receive<GetHealth>(_ => Sender.Tell(new CurrentHealth(_config, _table.Snapshot)));
    }

    /// <summary>
    /// <paramref name="environment"/> gives the address map, TLS connector and scripts folder; its Health is replaced
    /// by <paramref name="table"/> so that the kal-service-check script reads this node's states.
    /// </summary>
    public static Props Props(ServiceHealthTable table, KeepaliveEnvironment environment, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var withTable = environment with { Health = table };
        return Akka.Actor.Props.Create(() => new HealthMonitorActor(table, withTable, time));
    }

    private void OnApply(ApplyConfig message)
    {
        _config = message.Config;
        var plan = KeepalivePlan.Build(message.Config);
        var wanted = plan.Targets.ToDictionary(t => t.Key);
        foreach (var (key, (target, child)) in _children.ToList())
        {
            if (wanted.TryGetValue(key, out var now) && now == target) continue;
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

/// <summary>Runs one <see cref="KeepaliveRunner"/> for its lifetime and logs its state changes at Info.</summary>
internal sealed class KeepaliveActor : ReceiveActor
{
    private readonly KeepaliveTarget _target;
    private readonly ServiceHealthTable _table;
    private readonly KeepaliveEnvironment _environment;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stop = new();

    public KeepaliveActor(KeepaliveTarget target, ServiceHealthTable table, KeepaliveEnvironment environment, TimeProvider time)
    {
        _target = target;
        _table = table;
        _environment = environment;
        _time = time;
        Receive<KeepaliveTransition>(t => _log.Info("{0}: {1} -> {2} ({3})", t.Name, t.From, t.To, t.Detail));
        Receive<string>(notice => _log.Warning(notice));
    }

    public static Props Props(KeepaliveTarget target, ServiceHealthTable table, KeepaliveEnvironment environment, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new KeepaliveActor(target, table, environment, time));

    protected override void PreStart()
    {
        var self = Self;
        var environment = _environment with { Notice = notice => self.Tell(notice) };
        var runner = new KeepaliveRunner(_target, KeepaliveProbes.Create(_target, environment), _table, _time, t => self.Tell(t));
        // The runner's loop is plain async code on the thread pool; only its transitions come back as messages.
        _ = Task.Run(() => runner.RunAsync(_stop.Token));
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
