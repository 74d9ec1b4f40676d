using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using static SslCluster.Actors.Sessions.SessionProtocol;

namespace SslCluster.Actors.Sessions;

/// <summary>
/// The pure state of the ticket-key owner: the keys it made, newest first. A rotation adds a fresh random key and
/// drops the keys no ticket can still use.
/// </summary>
public sealed record TicketKeyRing(ImmutableList<TicketKey> Keys)
{
    public static TicketKeyRing Empty { get; } = new(ImmutableList<TicketKey>.Empty);

    /// <summary>
    /// A new key current for two rotation periods (the next rotation replaces it after one: the overlap means a late
    /// rotation never leaves the nodes without a key), and the retired keys dropped.
    /// </summary>
    public TicketKeyRing Rotate(DateTimeOffset now, TimeSpan rotation) =>
        new(Keys.Where(k => k.AcceptUntil > now).Prepend(TicketKey.Create(now, rotation * 2)).ToImmutableList());

    /// <summary>Takes over keys an earlier owner made (the ones this node holds), newest first, the retired dropped.</summary>
    public TicketKeyRing Adopt(IEnumerable<TicketKey> keys, DateTimeOffset now) =>
        new(Keys.Concat(keys).Distinct().Where(k => k.AcceptUntil > now)
            .OrderByDescending(k => k.CreatedAt).ToImmutableList());
}

/// <summary>
/// The cluster singleton that makes and rotates the TLS ticket keys and gives them to every node's
/// <see cref="SessionReplicatorActor"/> (or, when sessions are not shared, a plain actor that gives them to its own
/// node's replicator only). It keeps them in memory only; should it move to another node, the new owner takes over
/// the keys that node holds and adds a fresh one, so tickets issued before the move still open everywhere, on nodes
/// that join later too.
/// </summary>
public sealed class TicketKeyOwnerActor : ReceiveActor, IWithTimers
{
    private sealed record Rotate
    {
        public static Rotate Instance { get; } = new();
    }

    private readonly ClusterSeal _seal;
    private readonly TimeSpan _rotation;
    private readonly TimeProvider _time;
    private readonly bool _localOnly;
    private readonly SessionTicketKeys? _heldHere;
    private TicketKeyRing _ring = TicketKeyRing.Empty;

    /// <param name="heldHere">This node's keys: what an earlier owner gave it, taken over when this owner starts.</param>
    public TicketKeyOwnerActor(ClusterSeal seal, TimeSpan rotation, TimeProvider time, bool localOnly, SessionTicketKeys? heldHere)
    {
        _heldHere = heldHere;
        _seal = seal;
        _localOnly = localOnly;
        _rotation = rotation;
        _time = time;
        Receive<Rotate>(_ =>
        {
            _ring = _ring.Rotate(_time.GetUtcNow(), _rotation);
            PublishToAll();
        });
        Receive<GetTicketKeys>(g => g.ReplyTo.Tell(Published()));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ClusterSeal seal, TimeSpan rotation, TimeProvider time, bool localOnly = false, SessionTicketKeys? heldHere = null) =>
        Akka.Actor.Props.Create(() => new TicketKeyOwnerActor(seal, rotation, time, localOnly, heldHere));

    protected override void PreStart()
    {
        var now = _time.GetUtcNow();
        if (_heldHere is not null) _ring = _ring.Adopt(_heldHere.Keys, now);
        _ring = _ring.Rotate(now, _rotation);
        Timers.StartPeriodicTimer("rotate", Rotate.Instance, _rotation);
        PublishToAll();
    }

    private TicketKeysPublished Published() => new(_ring.Keys.Select(k => k.SealWith(_seal)).ToList());

    private void PublishToAll()
    {
        if (_localOnly) Context.ActorSelection("/user/" + SessionReplicatorActor.Name).Tell(Published());
        else NodeBroadcast.ToEveryNode(Context, SessionReplicatorActor.Name, Published());
        Context.GetLogger().Info("tls tickets: key {0} is current; {1} key(s) held", _ring.Keys[0].NameHex, _ring.Keys.Count);
    }
}
