using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// The mailbox of the connection actors (<c>sslcluster.connection-mailbox</c>): unbounded, FIFO, and about 150 bytes
/// while empty instead of Akka's default, whose concurrent queue starts with a 32-slot segment (about 1 KiB).
/// </summary>
/// <remarks>
/// There is one connection actor per open client connection, and an idle TLS connection must cost little
/// (docs/benchmarks.md, "What an idle connection holds"): with tens of thousands open, the default mailbox alone
/// was a tenth of the managed memory each held. A connection actor gets a handful of messages in its life (its
/// start, a drain, the end of its data path, a stats question), never a stream, so a lock around a small queue
/// costs nothing measurable and the queue's array starts empty and grows by doubling only if it is ever needed.
/// </remarks>
public sealed class CompactMailbox : MailboxType, IProducesMessageQueue<CompactMessageQueue>
{
    /// <summary>The configuration path of the mailbox, for <c>Props.WithMailbox</c>.</summary>
    public const string Path = "sslcluster.connection-mailbox";

    public CompactMailbox(Akka.Actor.Settings settings, Config config) : base(settings, config)
    {
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new CompactMessageQueue();
}

/// <summary>An unbounded FIFO message queue under a lock, empty until its first message (see <see cref="CompactMailbox"/>).</summary>
public sealed class CompactMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
{
    // Also the lock (a monitor on this private queue): one connection actor's mailbox, and a Lock object of its own
    // would be 40 bytes more per connection for a lock that is never contended for long.
    private readonly Queue<Envelope> _queue = new();
    private volatile int _count;

    // Read without the lock by the dispatcher deciding whether to schedule the mailbox: the count is written under
    // the lock and published by the volatile write, so a reader sees a message at the latest once Enqueue returned.
    public bool HasMessages => _count > 0;

    public int Count => _count;

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (_queue)
        {
            _queue.Enqueue(envelope);
            _count = _queue.Count;
        }
    }

    public bool TryDequeue(out Envelope envelope)
    {
        if (_count == 0)
        {
            envelope = default;
            return false;
        }

        lock (_queue)
        {
            var taken = _queue.TryDequeue(out envelope);
            _count = _queue.Count;
            return taken;
        }
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        ArgumentNullException.ThrowIfNull(deadletters);
        while (TryDequeue(out var envelope))
        {
            deadletters.Enqueue(owner, envelope);
        }
    }
}
