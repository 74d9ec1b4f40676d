using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.ConfigStore;

/// <summary>
/// The single writer of the cluster's configuration and certificate store (a cluster singleton). Every accepted
/// change is one persisted event, written before anyone is told, so a crash at any point leaves either the old or
/// the new revision, never half of one. Subscribers (one follower per node) are told each new revision number and
/// fetch what changed in pages and chunks (<see cref="StoreManifest"/>); the revisions under transfer are kept for
/// the transfer's sake while newer ones are committed.
/// </summary>
public sealed class ConfigStoreActor : ReceivePersistentActor
{
    public const string PersistenceIdValue = "ssl-config-store";
    /// <summary>
    /// A snapshot is taken after at least this many events, and after at least a quarter as many events as the store
    /// has entries: a snapshot holds every entry, so its cost stays in proportion to the events it saves replaying
    /// (for 20,000 files, one every 5,000 events, not one every 500 that each re-serializes them all).
    /// </summary>
    private const int SnapshotAfterAtLeast = 500;

    private long _eventsSinceSnapshot;

    /// <summary>Older revisions kept for transfers that page through them; unused ones go after a minute.</summary>
    private const int RetainedRevisions = 32;

    private static readonly TimeSpan RetainFor = TimeSpan.FromMinutes(1);

    /// <summary>Text of an upload in parts; stale uploads are dropped.</summary>
    private const int MaxUploadChars = 32 * 1024 * 1024;

    private static readonly TimeSpan UploadExpiry = TimeSpan.FromMinutes(2);

    private readonly KeyCertificateCheck _check;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<IActorRef> _subscribers = [];
    private readonly Dictionary<long, (StoreManifest Manifest, DateTimeOffset Used)> _retained = [];
    private readonly Dictionary<(long Since, long Revision), ChangeSet> _changeSets = [];
    private readonly Dictionary<Guid, (StringBuilder Text, int Next, DateTimeOffset Used)> _uploads = [];
    private ConfigStoreState _state = ConfigStoreState.Empty;

    /// <summary>Who waits for the event being persisted, and how to tell them it was not (one persist at a time).</summary>
    private (IActorRef Sender, Func<string, object> Refusal)? _pending;

    public ConfigStoreActor(KeyCertificateCheck check, TimeProvider time)
    {
        _check = check;
        _time = time;

        Recover<ConfigChanged>(e => Recovered(_state.Apply(e)));
        Recover<ConfigCommitted>(e => Recovered(_state.Apply(e)));
        Recover<FileAdded>(e => Recovered(_state.Apply(e)));
        Recover<FileRemoved>(e => Recovered(_state.Apply(e)));
        Recover<SnapshotOffer>(offer =>
        {
            _eventsSinceSnapshot = 0;
            _state = offer.Snapshot switch
            {
                StoreSnapshot s => s.ToState(),
                Snapshot legacy => legacy.ToState(),
                _ => throw new InvalidOperationException($"ConfigStore: unknown snapshot {offer.Snapshot.GetType().Name}"),
            };
        });
        Recover<RecoveryCompleted>(_ => _log.Info("ConfigStore: recovered revision {0} ({1} section(s) and file(s))", _state.Revision, _state.Manifest.Entries.Count));

        Command<ConfigTextPart>(OnPart);
        Command<ApplyConfig>(cmd =>
        {
            string text;
            if (cmd.UploadId is { } id)
            {
                if (!_uploads.Remove(id, out var upload))
                {
                    Sender.Tell(new ConfigRejected([new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null,
                        "the configuration text arrived in parts and the earlier parts are gone (the store moved or the upload took over 2 minutes); send it again")]));
                    return;
                }
                text = upload.Text.Append(cmd.Text).ToString();
            }
            else
            {
                text = cmd.Text;
            }
            var (e, diagnostics) = _state.Decide(cmd, text, _check, _time.GetUtcNow());
            if (e is null)
            {
                _log.Info("ConfigStore: rejected configuration from {0}: {1} error(s)", cmd.Source, diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error));
                Sender.Tell(new ConfigRejected(Bounded(diagnostics)));
                return;
            }
            var sender = Sender;
            _pending = (sender, reason => new ConfigRejected([new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null, reason)]));
            Persist(e, persisted =>
            {
                _pending = null;
                _state = _state.Apply(persisted);
                _log.Info("ConfigStore: revision {0} committed from {1} ({2} section(s) set, {3} removed)", persisted.Revision, persisted.Source,
                    persisted.Sections.Count, persisted.Removed.Count);
                sender.Tell(new ConfigApplied(persisted.Revision, Bounded(diagnostics)));
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
            _pending = (sender, reason => new FileRejected(cmd.File.Name, reason));
            Persist(e, persisted =>
            {
                _pending = null;
                _state = _state.Apply(persisted);
                // The name only: file contents (sealed or not) never reach a log.
                _log.Debug("ConfigStore: file '{0}' ({1}) stored at revision {2}", persisted.File.Name, persisted.File.Kind, persisted.Revision);
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
            _pending = (sender, reason => new FileRejected(cmd.Name, reason));
            Persist(e, persisted =>
            {
                _pending = null;
                _state = _state.Apply(persisted);
                sender.Tell(new FileStored(persisted.Name, persisted.Revision));
                AfterChange();
            });
        });
        Command<GetRevision>(_ => Sender.Tell(Available()));
        Command<Subscribe>(s =>
        {
            if (_subscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            s.Subscriber.Tell(Available());
        });
        Command<GetChanges>(OnGetChanges);
        Command<GetContents>(q =>
        {
            // The pinned revision holds every content its pages named; once it is no longer kept, the current one may
            // still hold them, and what it lacks is reported missing (the follower then starts again).
            var manifest = Retained(q.Revision) ?? _state.Manifest;
            var (chunks, missing) = manifest.Read(q.Requests);
            Sender.Tell(new Contents(q.Transfer, chunks, missing));
        });
        Command<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Command<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _log.Warning("ConfigStore: snapshot failed ({0}); the journal still holds every event", f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("ConfigStore: could not trim the journal after a snapshot: {0}", f.Cause.Message));
    }

    public override string PersistenceId => PersistenceIdValue;

    /// <summary>
    /// The journal refused the event: most often another copy of the store (the other side of a partition, or one
    /// started before this one was known dead) wrote that sequence number first. The journal's unique sequence numbers
    /// are what keep two writers from both committing; this copy tells the waiting client, and stops (its supervisor
    /// starts it again, and it recovers what the other wrote before it takes the next command).
    /// </summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        var revision = @event switch
        {
            ConfigChanged c => c.Revision,
            FileAdded f => f.Revision,
            FileRemoved f => f.Revision,
            _ => sequenceNr,
        };
        _log.Error("ConfigStore: the journal refused revision {0} (event {1}): {2}. Another copy of the store may have written it first; " +
            "this copy restarts and recovers before the next change", revision, sequenceNr, cause.Message);
        if (_pending is { } p)
            p.Sender.Tell(p.Refusal($"the journal refused revision {revision}: another copy of the configuration store wrote it first or the database failed " +
                $"({cause.GetBaseException().Message}); nothing of this change was applied. The store recovers the latest revision: look at 'show running-config' and apply again"));
        _pending = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    public static Props Props(KeyCertificateCheck check, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new ConfigStoreActor(check, time));

    private void OnPart(ConfigTextPart part)
    {
        var now = _time.GetUtcNow();
        foreach (var stale in _uploads.Where(u => now - u.Value.Used > UploadExpiry).Select(u => u.Key).ToList()) _uploads.Remove(stale);
        _uploads.TryGetValue(part.UploadId, out var upload);
        upload.Text ??= new StringBuilder();
        if (part.Index != upload.Next)
        {
            Sender.Tell(new ConfigRejected([new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null, $"part {part.Index} of the configuration text arrived where part {upload.Next} was expected; send it again")]));
            _uploads.Remove(part.UploadId);
            return;
        }
        if (upload.Text.Length + part.Text.Length > MaxUploadChars || _uploads.Sum(u => u.Value.Text.Length) + part.Text.Length > 2 * MaxUploadChars)
        {
            Sender.Tell(new ConfigRejected([new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null, $"the configuration text is longer than {MaxUploadChars / (1024 * 1024)} MiB; apply it in several files")]));
            _uploads.Remove(part.UploadId);
            return;
        }
        upload.Text.Append(part.Text);
        _uploads[part.UploadId] = (upload.Text, part.Index + 1, now);
        Sender.Tell(new ConfigTextPartReceived(part.UploadId, part.Index));
    }

    private void OnGetChanges(GetChanges q)
    {
        var manifest = q.Revision is { } pinned ? Retained(pinned) : _state.Manifest;
        if (manifest is null)
        {
            Sender.Tell(new ChangesUnavailable(q.Transfer, q.Revision!.Value, _state.Revision));
            return;
        }
        Retain(manifest);
        var key = (q.Since, manifest.Revision);
        if (!_changeSets.TryGetValue(key, out var changes))
        {
            changes = manifest.ChangesSince(q.Since);
            if (_changeSets.Count >= 16) _changeSets.Remove(_changeSets.Keys.MinBy(k => k.Revision));
            _changeSets[key] = changes;
        }
        var page = manifest.Page(changes, q.From);
        if (page.Next is null) _changeSets.Remove(key);
        Sender.Tell(new Changes(q.Transfer, page));
    }

    private RevisionAvailable Available() => new(_state.Revision, _state.Manifest.Fingerprint);

    private StoreManifest? Retained(long revision)
    {
        if (revision == _state.Revision) return _state.Manifest;
        if (!_retained.TryGetValue(revision, out var r)) return null;
        _retained[revision] = (r.Manifest, _time.GetUtcNow());
        return r.Manifest;
    }

    private void Retain(StoreManifest manifest)
    {
        var now = _time.GetUtcNow();
        _retained[manifest.Revision] = (manifest, now);
        foreach (var old in _retained.Where(r => now - r.Value.Used > RetainFor && r.Key != _state.Revision).Select(r => r.Key).ToList()) _retained.Remove(old);
        while (_retained.Count > RetainedRevisions) _retained.Remove(_retained.MinBy(r => r.Value.Used).Key);
    }

    private void Recovered(ConfigStoreState state)
    {
        _state = state;
        _eventsSinceSnapshot++;
    }

    private void AfterChange()
    {
        var available = Available();
        foreach (var s in _subscribers) s.Tell(available);
        if (++_eventsSinceSnapshot >= Math.Max(SnapshotAfterAtLeast, _state.Manifest.Entries.Count / 4))
        {
            _eventsSinceSnapshot = 0;
            SaveSnapshot(StoreSnapshot.From(_state));
        }
    }

    /// <summary>The snapshot of the state: every section and file with the revision that last changed it, and the removals remembered.</summary>
    public sealed record StoreSnapshot(long Revision, long CompleteSince, IReadOnlyList<SnapshotSection> Sections, IReadOnlyList<SnapshotFile> Files,
        IReadOnlyList<SnapshotRemoval> Removed) : Serialization.IClusterMessage
    {
        public static StoreSnapshot From(ConfigStoreState s)
        {
            var m = s.Manifest;
            var sections = m.Entries.Where(e => e.Value.FileKind is null)
                .Select(e => new SnapshotSection(e.Key, Encoding.UTF8.GetString(m.Content(e.Value.Digest)!), e.Value.ChangedAt)).ToList();
            var files = s.Files.Values.Select(f => new SnapshotFile(f, m.Entries[StoreManifest.FileKey(f.Name)].ChangedAt)).ToList();
            return new StoreSnapshot(s.Revision, m.CompleteSince, sections, files, m.Removed.Select(r => new SnapshotRemoval(r.Key, r.Value)).ToList());
        }

        public ConfigStoreState ToState()
        {
            var config = RunningConfig.Empty;
            foreach (var s in Sections) config = ConfigSections.With(config, s.Key, s.Text);
            var entries = Sections.Select(s => (s.Key, Encoding.UTF8.GetBytes(s.Text), (StoredFileKind?)null, s.ChangedAt))
                .Concat(Files.Select(f => (StoreManifest.FileKey(f.File.Name), f.File.Payload, (StoredFileKind?)f.File.Kind, f.ChangedAt)));
            return ConfigStoreState.Empty with
            {
                Revision = Revision,
                Config = config,
                Files = Files.ToImmutableSortedDictionary(f => f.File.Name, f => f.File, StringComparer.Ordinal),
                Manifest = StoreManifest.Restore(Revision, CompleteSince, entries, Removed.Select(r => new KeyValuePair<string, long>(r.Key, r.Revision))),
            };
        }
    }

    public sealed record SnapshotSection(string Key, string Text, long ChangedAt);

    public sealed record SnapshotFile(StoredFile File, long ChangedAt);

    public sealed record SnapshotRemoval(string Key, long Revision);

    /// <summary>The snapshot of the older journal format: the printed configuration and the files.</summary>
    public sealed record Snapshot(long Revision, string Text, IReadOnlyList<StoredFile> Files) : Serialization.IClusterMessage
    {
        public ConfigStoreState ToState()
        {
            var config = ConfigParser.Reload(Text);
            // What changed when is not known: every entry counts as set at this revision, so nodes behind it get a reset.
            var entries = ConfigSections.Split(config).Select(s => (s.Key, Encoding.UTF8.GetBytes(s.Value), (StoredFileKind?)null, Revision))
                .Concat(Files.Select(f => (StoreManifest.FileKey(f.Name), f.Payload, (StoredFileKind?)f.Kind, Revision)));
            return ConfigStoreState.Empty with
            {
                Revision = Revision,
                Config = config,
                Files = Files.ToImmutableSortedDictionary(f => f.Name, f => f, StringComparer.Ordinal),
                Manifest = StoreManifest.Restore(Revision, Revision, entries, []),
            };
        }
    }
}
