using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using static SslCluster.Actors.Sessions.SessionProtocol;

namespace SslCluster.Actors.Sessions;

/// <summary>
/// A node's end of the cluster-wide TLS session cache (one per node, at /user/tls-sessions). It copies every session
/// its node creates to the other nodes' replicators, keeps what they send, gives a joining node what it holds, and
/// installs the ticket keys of the cluster's <see cref="TicketKeyOwnerActor"/>. Handshakes never wait for it: they
/// read and write the node's <see cref="ReplicatedTlsSessionStore"/> directly, and this actor works behind them.
/// </summary>
public sealed class SessionReplicatorActor : ReceiveActor, IWithTimers
{
    public const string Name = "tls-sessions";

    /// <summary>Bytes of sealed sessions per message, well under Akka remoting's 128,000-byte frame.</summary>
    internal const int MaxBatchBytes = 64 * 1024;

    private sealed record LocalSession(SessionReplica Replica);

    private sealed record Flush
    {
        public static Flush Instance { get; } = new();
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private readonly ReplicatedTlsSessionStore _store;
    private readonly SessionTicketKeys? _tickets;
    private readonly ClusterSeal _ticketSeal;
    private readonly IActorRef _ticketOwner;
    private readonly int _capacity;
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly HashSet<Address> _peers = [];
    private readonly List<SessionReplica> _pending = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _synced;

    /// <param name="tickets">Null when session tickets are off.</param>
    /// <param name="ticketOwner">The proxy of the ticket-key owner singleton.</param>
    public SessionReplicatorActor(ReplicatedTlsSessionStore store, SessionTicketKeys? tickets, ClusterSeal ticketSeal,
        IActorRef ticketOwner, int capacity)
    {
        _store = store;
        _tickets = tickets;
        _ticketSeal = ticketSeal;
        _ticketOwner = ticketOwner;
        _capacity = capacity;

        Receive<LocalSession>(s =>
        {
            _pending.Add(s.Replica);
            // Whatever else is queued arrives before this Flush: one message per burst, not one per session.
            if (_pending.Count == 1) Self.Tell(Flush.Instance);
        });
        Receive<Flush>(_ => FlushPending());
        Receive<SessionsReplicated>(r =>
        {
            foreach (var replica in r.Sessions) _store.Accept(replica);
        });
        Receive<SyncSessions>(s =>
        {
            var sessions = _store.Export(_capacity);
            foreach (var batch in Batches(sessions)) s.ReplyTo.Tell(new SessionsReplicated(batch));
            _log.Info("tls sessions: sent {0} session(s) to {1}", sessions.Count, s.ReplyTo.Path.Address);
        });
        Receive<TicketKeysPublished>(p =>
        {
            if (_tickets is null) return;
            var keys = p.Keys.Select(k => TicketKey.Open(_ticketSeal, k)).ToList();
            if (keys.Any(k => k is null))
            {
                _log.Warning("tls tickets: refused {0} key(s) that do not open with this node's master key (is every node's SSLCLUSTER_MASTER_KEY the same?)",
                    keys.Count(k => k is null));
            }
            int added = _tickets.Install(keys.OfType<TicketKey>());
            if (added > 0) _log.Info("tls tickets: installed {0} new key(s)", added);
        });
        Receive<Tick>(_ =>
        {
            _store.RemoveExpired();
            if (_tickets is { CanIssue: false }) _ticketOwner.Tell(new GetTicketKeys(Self));
        });
        Receive<ClusterEvent.MemberUp>(up => MemberUp(up.Member));
        Receive<ClusterEvent.MemberRemoved>(removed => _peers.Remove(removed.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ReplicatedTlsSessionStore store, SessionTicketKeys? tickets, ClusterSeal ticketSeal,
        IActorRef ticketOwner, int capacity) =>
        Akka.Actor.Props.Create(() => new SessionReplicatorActor(store, tickets, ticketSeal, ticketOwner, capacity));

    /// <summary>Splits sessions into messages of at most <see cref="MaxBatchBytes"/> of sealed bytes (at least one each).</summary>
    internal static IEnumerable<IReadOnlyList<SessionReplica>> Batches(IReadOnlyList<SessionReplica> sessions)
    {
        var batch = new List<SessionReplica>();
        int bytes = 0;
        foreach (var replica in sessions)
        {
            int size = replica.Sealed.Length + replica.Id.Length + replica.BindingKey.Length + 64;
            if (batch.Count > 0 && bytes + size > MaxBatchBytes)
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }
            batch.Add(replica);
            bytes += size;
        }
        if (batch.Count > 0) yield return batch;
    }

    protected override void PreStart()
    {
        var self = Self;
        _store.Replicate = replica => self.Tell(new LocalSession(replica));
        _cluster.Subscribe(Self, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(2));
        if (_tickets is not null) _ticketOwner.Tell(new GetTicketKeys(Self));
    }

    protected override void PostStop()
    {
        _store.Replicate = null;
        _cluster.Unsubscribe(Self);
    }

    private void MemberUp(Member member)
    {
        if (member.Address == _cluster.SelfAddress) return;
        _peers.Add(member.Address);
        if (!_synced)
        {
            // Catch up once, from the first peer seen up: every node holds every session.
            _synced = true;
            Replicator(member.Address).Tell(new SyncSessions(Self));
        }
    }

    private void FlushPending()
    {
        if (_pending.Count == 0) return;
        // Alone, nobody is told: a node that joins later catches up with SyncSessions.
        foreach (var batch in Batches(_pending))
        {
            var message = new SessionsReplicated(batch);
            foreach (var peer in _peers) Replicator(peer).Tell(message);
        }
        _pending.Clear();
    }

    private ActorSelection Replicator(Address address) =>
        Context.ActorSelection(new RootActorPath(address) / "user" / Name);
}
