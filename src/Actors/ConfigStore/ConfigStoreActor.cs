using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.ConfigStore;

/// <summary>
/// The single writer of the cluster's configuration and certificate store (a cluster singleton). Every accepted
/// change is one persisted event, written before anyone is told, so a crash at any point leaves either the old or
/// the new revision, never half of one. Subscribers (one runtime per node) get each whole revision.
/// </summary>
public sealed class ConfigStoreActor : ReceivePersistentActor
{
    public const string PersistenceIdValue = "ssl-config-store";
    private const int SnapshotEvery = 200;

    private readonly KeyCertificateCheck _check;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<IActorRef> _subscribers = [];
    private ConfigStoreState _state = ConfigStoreState.Empty;

    public ConfigStoreActor(KeyCertificateCheck check, TimeProvider time)
    {
        _check = check;
        _time = time;

        Recover<ConfigCommitted>(e => _state = _state.Apply(e));
        Recover<FileAdded>(e => _state = _state.Apply(e));
        Recover<FileRemoved>(e => _state = _state.Apply(e));
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is Snapshot s) _state = s.ToState();
        });

        Command<ApplyConfig>(cmd =>
        {
            var (e, diagnostics) = _state.Decide(cmd, _check, _time.GetUtcNow());
            if (e is null)
            {
                _log.Info("ConfigStore: rejected configuration from {0}: {1} error(s)", cmd.Source, diagnostics.Count(d => d.Severity == Protocol.Config.DiagnosticSeverity.Error));
                Sender.Tell(new ConfigRejected(diagnostics));
                return;
            }
            var sender = Sender;
            Persist(e, persisted =>
            {
                _state = _state.Apply(persisted);
                _log.Info("ConfigStore: revision {0} committed from {1}", persisted.Revision, persisted.Source);
                sender.Tell(new ConfigApplied(persisted.Revision, diagnostics));
                AfterChange();
            });
        });
        Command<StoreFile>(cmd =>
        {
            var (e, reason) = _state.Decide(cmd, _time.GetUtcNow());
            if (e is null)
            {
                Sender.Tell(new FileRejected(cmd.File.Name, reason!));
                return;
            }
            var sender = Sender;
            Persist(e, persisted =>
            {
                _state = _state.Apply(persisted);
                // The name only: file contents (sealed or not) never reach a log.
                _log.Info("ConfigStore: file '{0}' ({1}) stored at revision {2}", persisted.File.Name, persisted.File.Kind, persisted.Revision);
                sender.Tell(new FileStored(persisted.File.Name, persisted.Revision));
                AfterChange();
            });
        });
        Command<RemoveFile>(cmd =>
        {
            var (e, reason) = _state.Decide(cmd, _time.GetUtcNow());
            if (e is null)
            {
                Sender.Tell(new FileRejected(cmd.Name, reason!));
                return;
            }
            var sender = Sender;
            Persist(e, persisted =>
            {
                _state = _state.Apply(persisted);
                sender.Tell(new FileStored(persisted.Name, persisted.Revision));
                AfterChange();
            });
        });
        Command<GetRunningConfig>(_ => Sender.Tell(new CurrentRunningConfig(_state.Revision, _state.Text)));
        Command<GetFiles>(_ => Sender.Tell(new CurrentFiles(_state.Files.Values.ToList())));
        Command<GetFile>(q => Sender.Tell(new CurrentFile(_state.Files.GetValueOrDefault(q.Name))));
        Command<Subscribe>(s =>
        {
            if (_subscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            s.Subscriber.Tell(_state.Published());
        });
        Command<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Command<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _log.Warning("ConfigStore: snapshot failed ({0}); the journal still holds every event", f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("ConfigStore: could not trim the journal after a snapshot: {0}", f.Cause.Message));
    }

    public override string PersistenceId => PersistenceIdValue;

    public static Props Props(KeyCertificateCheck check, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new ConfigStoreActor(check, time));

    private void AfterChange()
    {
        var published = _state.Published();
        foreach (var s in _subscribers) s.Tell(published);
        if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(Snapshot.From(_state));
    }

    /// <summary>The snapshot form of the state: the printed configuration and the files.</summary>
    public sealed record Snapshot(long Revision, string Text, IReadOnlyList<StoredFile> Files) : Serialization.IClusterMessage
    {
        public static Snapshot From(ConfigStoreState s) => new(s.Revision, s.Text, s.Files.Values.ToList());

        public ConfigStoreState ToState() => ConfigStoreState.Empty with
        {
            Revision = Revision,
            Text = Text,
            Config = Protocol.Config.ConfigParser.Reload(Text),
            Files = Files.ToImmutableSortedDictionary(f => f.Name, f => f),
        };
    }
}
