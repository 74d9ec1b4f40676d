using Akka.Actor;
using Akka.Persistence;

namespace SslCluster.Actors.ConfigStore;

/// <summary>
/// Reads an empty stream of the journal once when the node starts, then stops: the journal plugin, its connection pool
/// and its tables are ready before the configuration store singleton ever needs them here. When the store's node dies
/// and the store starts on this node, its recovery then costs the reading of its events only, not the set-up of the
/// plugin (seconds on PostgreSQL), so writes come back sooner. It never writes. <paramref name="ready"/> ends when it
/// stops, recovered or not: the journal plugin has started (and created its tables) by then, or failed to.
/// </summary>
public sealed class JournalWarmUpActor : ReceivePersistentActor
{
    private readonly TaskCompletionSource<bool>? _ready;

    public JournalWarmUpActor(TaskCompletionSource<bool>? ready)
    {
        _ready = ready;
        Recover<RecoveryCompleted>(_ =>
        {
            _ready?.TrySetResult(true);
            Context.Stop(Self);
        });
        CommandAny(_ => { });
    }

    public override string PersistenceId => "sslcluster-journal-warm-up";

    public static Props Props(TaskCompletionSource<bool>? ready = null) => Akka.Actor.Props.Create(() => new JournalWarmUpActor(ready));

    protected override void PostStop()
    {
        // A failed recovery stops the actor: the journal did not start.
        _ready?.TrySetResult(false);
        base.PostStop();
    }

    // Not restarted (it stops on failure), but a restart must not report a journal that did not start.
    protected override void PreRestart(Exception reason, object message)
    {
    }
}
