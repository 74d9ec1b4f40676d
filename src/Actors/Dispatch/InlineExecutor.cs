using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace SslCluster.Actors.Dispatch;

/// <summary>
/// The executor of <c>sslcluster.connection-dispatcher</c>. Where the socket engine's thread gives work to a
/// connection's actors (the accept loop telling the listener's dispatcher, a data path that ended telling its
/// connection actor: <see cref="Inline"/>), the mailbox runs at once on that thread, and what it tells the next actor of
/// the way runs nested, instead of each being a thread-pool work item: several context switches per connection on a
/// busy core (docs/benchmarks.md, "Connections without thread-pool hops"). Everything else goes to the thread pool as
/// with Akka's default executor: messages from timers (Akka's one scheduler thread must not run actors), from other
/// actors, a mailbox scheduled again after its throughput, and runs nested deeper than <see cref="MaxDepth"/>.
/// </summary>
public sealed class InlineExecutor(string id, EventStream? events = null) : ExecutorService(id)
{
    /// <summary>The dispatcher (reference.conf) of the listener dispatchers, flow agents and connection actors.</summary>
    public const string Dispatcher = "sslcluster.connection-dispatcher";

    /// <summary>How many mailboxes may run nested on one thread's stack before the next is queued.</summary>
    public const int MaxDepth = 3;

    [ThreadStatic]
    private static int _depth;

    [ThreadStatic]
    private static bool _allowed;

    [ThreadStatic]
    private static IRunnable? _running;

    /// <summary>Lets the mailboxes this thread schedules until the scope ends run on it.</summary>
    public static InlineScope Inline()
    {
        var before = _allowed;
        _allowed = true;
        return new InlineScope(before);
    }

    public override void Execute(IRunnable run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (!_allowed || _depth >= MaxDepth || ReferenceEquals(run, _running))
        {
            ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
            return;
        }
        var outer = _running;
        _depth++;
        _running = run;
        try
        {
            run.Run();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Akka's mailbox handles an actor's own failures; what escapes it must not end the caller (an accept loop).
            events?.Publish(new Error(e, Id, typeof(InlineExecutor), "a mailbox run inline failed"));
        }
        finally
        {
            _running = outer;
            _depth--;
        }
    }

    public override void Shutdown()
    {
        // No threads of its own: inline runs end with their callers, queued ones with the thread pool's items.
    }

    /// <summary>Ends an <see cref="Inline"/> scope.</summary>
    public readonly struct InlineScope(bool before) : IDisposable
    {
        public void Dispose() => _allowed = before;
    }
}

/// <summary>Makes <see cref="InlineExecutor"/>s for a dispatcher whose <c>executor</c> names this type.</summary>
public sealed class InlineExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites) : ExecutorServiceConfigurator(config, prerequisites)
{
    public override ExecutorService Produce(string id) => new InlineExecutor(id, Prerequisites.EventStream);
}
