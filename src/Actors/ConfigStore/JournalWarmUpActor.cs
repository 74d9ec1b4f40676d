using Akka.Actor;
using Akka.Persistence;

namespace SslCluster.Actors.ConfigStore;

/// <summary>
/// Reads an empty stream of the journal once when the node starts, then stops: the journal plugin, its connection pool
/// and its tables are ready before the configuration store singleton ever needs them here. When the store's node dies
/// and the store starts on this node, its recovery then costs the reading of its events only, not the set-up of the
/// plugin (seconds on PostgreSQL), so writes come back sooner. It never writes.
/// </summary>
public sealed class JournalWarmUpActor : ReceivePersistentActor
{
    public JournalWarmUpActor()
    {
        Recover<RecoveryCompleted>(_ => Context.Stop(Self));
        CommandAny(_ => { });
    }

    public override string PersistenceId => "sslcluster-journal-warm-up";

    public static Props Props() => Akka.Actor.Props.Create(() => new JournalWarmUpActor());
}
