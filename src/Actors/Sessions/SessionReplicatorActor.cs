using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using SslCluster.Actors.Serialization;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using static SslCluster.Actors.Sessions.SessionProtocol;

namespace SslCluster.Actors.Sessions;

/// <summary>
/// A node's end of the cluster-wide TLS session cache (one per node, at /user/tls-sessions). It copies every session
/// its node creates to the other nodes' replicators, keeps what they send, catches up from a peer when it joins, and
/// installs the ticket keys of the cluster's <see cref="TicketKeyOwnerActor"/>. Handshakes never wait for it: they
/// read and write the node's <see cref="ReplicatedTlsSessionStore"/> directly, and this actor works behind them.
/// When sessions are not shared (remoting without TLS), it only expires sessions and installs its own node's keys.
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

    private sealed record TrySync
    {
        public static TrySync Instance { get; } = new();
    }

    /// <summary>How long a catch-up request may go unanswered before another peer is asked.</summary>
    internal static readonly TimeSpan SyncRetry = TimeSpan.FromSeconds(3);

    private readonly ReplicatedTlsSessionStore _store;
    private readonly SessionTicketKeys? _tickets;
    private readonly ClusterSeal _ticketSeal;
    private readonly IActorRef _ticketOwner;
    private readonly int _capacity;
    private readonly bool _share;
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly HashSet<Address> _peers = [];
    private readonly List<SessionReplica> _pending = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _synced;
    private bool _selfUp;
    private int _syncAttempt;

    /// <param name="tickets">Null when session tickets are off.</param>
    /// <param name="ticketOwner">The ticket-key owner (the singleton's proxy when sessions are shared).</param>
    /// <param name="share">Copy sessions to and from the other nodes (only over remoting TLS, unless allowed in clear).</param>
    public SessionReplicatorActor(ReplicatedTlsSessionStore store, SessionTicketKeys? tickets, ClusterSeal ticketSeal,
        IActorRef ticketOwner, int capacity, bool share)
    {
        _store = store;
        _tickets = tickets;
        _ticketSeal = ticketSeal;
        _ticketOwner = ticketOwner;
        _capacity = capacity;
        _share = share;

        Receive<LocalSession>(s =>
        {
            _pending.Add(s.Replica);
            // Whatever else is queued arrives before this Flush: one message per burst, not one per session.
            if (_pending.Count == 1) Self.Tell(Flush.Instance);
        });
        Receive<Flush>(_ => FlushPending());
        Receive<SessionsReplicated>(r =>
        {
            if (!_share) return; // a node that shares with nobody takes from nobody
            foreach (var replica in r.Sessions) _store.Accept(replica);
        });
        Receive<SyncSessions>(s =>
        {
            if (!_share) return;
            var sessions = _store.Export(_capacity);
            foreach (var batch in Batches(sessions)) s.ReplyTo.Tell(new SessionsReplicated(batch));
            s.ReplyTo.Tell(new SessionsSynced(sessions.Count));
            _log.Info("tls sessions: sent {0} session(s) to {1}", sessions.Count, s.ReplyTo.Path.Address);
        });
        Receive<SessionsSynced>(s =>
        {
            if (_synced) return;
            _synced = true;
            Timers.Cancel("sync");
            _log.Info("tls sessions: caught up from {0}: {1} session(s)", Sender.Path.Address, s.Count);
        });
        Receive<TrySync>(_ => TrySyncFromPeer());
        Receive<TicketKeysPublished>(p =>
        {
            if (_tickets is null) return;
            // Unshared, only this node's own owner gives keys.
            if (!_share && !Sender.Path.Address.HasLocalScope) return;
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
        // A peer is told of new sessions from the moment it is seen joining, so that nothing created between its
        // catch-up and its MemberUp is missed.
        Receive<ClusterEvent.MemberJoined>(m => AddPeer(m.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(m => AddPeer(m.Member));
        Receive<ClusterEvent.MemberUp>(m =>
        {
            AddPeer(m.Member);
            if (m.Member.Address == _cluster.SelfAddress)
            {
                _selfUp = true;
                TrySyncFromPeer();
            }
        });
        Receive<ClusterEvent.MemberRemoved>(removed => _peers.Remove(removed.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ReplicatedTlsSessionStore store, SessionTicketKeys? tickets, ClusterSeal ticketSeal,
        IActorRef ticketOwner, int capacity, bool share) =>
        Akka.Actor.Props.Create(() => new SessionReplicatorActor(store, tickets, ticketSeal, ticketOwner, capacity, share));

    /// <summary>Splits sessions into messages of at most <see cref="MaxBatchBytes"/> of sealed bytes (at least one each).</summary>
    internal static IEnumerable<IReadOnlyList<SessionReplica>> Batches(IReadOnlyList<SessionReplica> sessions) =>
        FrameParts.Split(sessions, replica => replica.Sealed.Length + replica.Id.Length + replica.BindingKey.Length + 64, MaxBatchBytes);

    protected override void PreStart()
    {
        var self = Self;
        if (_share) _store.Replicate = replica => self.Tell(new LocalSession(replica));
        _cluster.Subscribe(Self, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(2));
        if (_tickets is not null) _ticketOwner.Tell(new GetTicketKeys(Self));
    }

    protected override void PostStop()
    {
        _store.Replicate = null;
        _cluster.Unsubscribe(Self);
    }

    private void AddPeer(Member member)
    {
        if (member.Address != _cluster.SelfAddress) _peers.Add(member.Address);
    }

    /// <summary>
    /// Once this node is up, asks one reachable peer (a different one on each retry) for the sessions it holds, until
    /// one answers to the end; alone, there is nothing to catch up.
    /// </summary>
    private void TrySyncFromPeer()
    {
        if (_synced || !_share || !_selfUp) return;
        var state = _cluster.State;
        var candidates = state.Members
            .Where(m => m.Address != _cluster.SelfAddress && m.Status == MemberStatus.Up && !state.Unreachable.Contains(m))
            .Select(m => m.Address).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();
        if (candidates.Count == 0)
        {
            _synced = true;
            return;
        }
        var peer = candidates[_syncAttempt++ % candidates.Count];
        Replicator(peer).Tell(new SyncSessions(Self));
        Timers.StartSingleTimer("sync", TrySync.Instance, SyncRetry);
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

    private ActorSelection Replicator(Address address) => NodeBroadcast.On(Context, address, Name);
}
