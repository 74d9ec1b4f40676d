using Akka.Actor;
using Akka.Cluster.Sharding;
using SslCluster.Protocol.Health;
using static SslCluster.Actors.Health.BackendServerProtocol;

namespace SslCluster.Actors.Health;

/// <summary>
/// The sharded entity of one probed target (a service's keepalive, or a global keepalive): it runs that keepalive
/// on the node sharding put it on, and sends every state the keepalive reaches to every node's
/// <see cref="HealthMonitorActor"/>. So a real server sees one keepalive per interval from the whole cluster, not
/// one per node, and every node balances on the same verdict. When the entity moves (rebalance, drain, node loss)
/// the keepalive starts again where it lands, from Alive, as the CSS does after a reboot; meanwhile every node
/// keeps the last state it was told.
/// </summary>
public sealed class BackendServerEntity : ReceiveActor, IWithTimers
{
    public const string TypeName = "backend-server";

    private sealed record Reported(KeepaliveState State);

    private sealed record AskAgain
    {
        public static AskAgain Instance { get; } = new();
    }

    /// <summary>Hands the runner's states to the entity (the runner calls from the thread pool).</summary>
    private sealed class ToEntity(IActorRef entity) : IKeepaliveSink
    {
        // The entity runs one keepalive: its id already names the key.
        public void Publish(KeepaliveKey key, KeepaliveState state) => entity.Tell(new Reported(state));
    }

    private readonly string _id;
    private readonly KeepaliveKey? _key;
    private readonly TimeProvider _time;
    private long _wanted;
    private KeepaliveTarget? _target;
    private IActorRef? _runner;
    private long _generation;

    public BackendServerEntity(string id, TimeProvider time)
    {
        _id = id;
        _key = Parse(id);
        _time = time;
        Receive<EnsureKeepalive>(e =>
        {
            if (e.Revision <= _wanted && _runner is not null) return;
            _wanted = Math.Max(_wanted, e.Revision);
            AskTarget();
        });
        Receive<AskAgain>(_ => AskTarget());
        Receive<HealthMonitorActor.TargetOf>(OnTarget);
        Receive<Reported>(r =>
        {
            NodeBroadcast.ToEveryNode(Context, HealthMonitorActor.Name, new KeepaliveReported(_id, r.State));
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string id, TimeProvider time) => Akka.Actor.Props.Create(() => new BackendServerEntity(id, time));

    private void AskTarget()
    {
        if (_key is null) return;
        Context.ActorSelection("/user/" + HealthMonitorActor.Name).Tell(new HealthMonitorActor.GetTarget(_key));
    }

    private void OnTarget(HealthMonitorActor.TargetOf t)
    {
        // This node has not applied the revision that woke the entity yet: ask again shortly.
        if (t.Revision < _wanted) Timers.StartSingleTimer("ask", AskAgain.Instance, TimeSpan.FromMilliseconds(250));
        if (t.Target is null)
        {
            if (t.Revision < _wanted) return;
            // The keepalive is gone from the configuration: stop probing and leave.
            if (_runner is not null) Context.Stop(_runner);
            _runner = null;
            Context.Parent.Tell(new Passivate(PoisonPill.Instance));
            return;
        }
        if (_runner is not null && t.Target == _target) return;
        if (_runner is not null) Context.Stop(_runner);
        _target = t.Target;
        _runner = Context.ActorOf(KeepaliveActor.Props(t.Target, new ToEntity(Self), t.Environment, _time), $"kal-{++_generation}");
    }
}
