using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.ConfigStore;

/// <summary>
/// One per node: this node's copy of the configuration store. Told of each new revision (a number), it fetches what
/// changed: pages of changed entries, then the contents it lacks, each message far below Akka's frame; a lost or
/// late answer starts the transfer again. Each finished revision goes to the node runtime; the admin endpoint reads
/// the configuration and the store files from here, so no query of any size crosses the network.
/// </summary>
public sealed class ConfigFollowerActor : ReceiveActor, IWithTimers
{
    public const string Name = "config-follower";

    /// <summary>Query: this node's copy (revision held, the store's revision as last heard, the model and files).</summary>
    public sealed record GetCopy
    {
        public static GetCopy Instance { get; } = new();
    }

    /// <summary>Query: answer with the copy once it holds <paramref name="Revision"/> or later, or when <paramref name="Timeout"/> has passed.</summary>
    public sealed record WaitForRevision(long Revision, TimeSpan Timeout);

    /// <param name="BehindSince">Since when the copy has been behind the store's revision; null when it is not.</param>
    public sealed record CurrentCopy(long Revision, long StoreRevision, DateTimeOffset? BehindSince, RunningConfig Config,
        ImmutableSortedDictionary<string, ReplicaFile> Files, bool StoreHeard);

    private sealed record Poll
    {
        public static Poll Instance { get; } = new();
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private sealed record TransferTimedOut(int Attempt);

    private sealed record Retry
    {
        public static Retry Instance { get; } = new();
    }

    private readonly IActorRef _storeProxy;
    private readonly IActorRef _runtime;
    private readonly SslClusterSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConfigReplica _replica;
    private readonly List<(IActorRef Asker, long Revision, DateTimeOffset Deadline)> _waiting = [];
    private IActorRef? _store;
    private long _storeRevision = -1;
    private ulong _storeFingerprint;
    private DateTimeOffset? _behindSince;
    private DateTimeOffset _lastLagLog = DateTimeOffset.MinValue;
    private int _attempt;
    private int _contentsFromDisk;
    private DateTimeOffset _started;
    private long _ticks;

    public ConfigFollowerActor(IActorRef storeProxy, IActorRef runtime, SslClusterSettings settings, TimeProvider time)
    {
        _storeProxy = storeProxy;
        _runtime = runtime;
        _settings = settings;
        _time = time;
        var log = _log;
        _replica = new ConfigReplica(settings.ConfigLocalCopy
            ? new ReplicaContentCache(Path.Combine(settings.DataDir, "replica"), message => log.Warning("ConfigFollower: {0}", message))
            : null);
        // The copy this node held when it stopped is the base of its first transfer; nothing of it is in force or
        // readable until the store has answered and the changes since are taken in.
        try
        {
            if (_replica.Restore() is > 0 and var restored)
                _log.Info("ConfigFollower: this node's local copy holds revision {0} ({1} entries): only what changed since is asked of the store", _replica.RestoredRevision, restored);
        }
        catch (Exception e)
        {
            // Reading the copy back is a saving, never a condition of starting: the replica is left empty.
            _log.Warning("ConfigFollower: this node's local copy cannot be read back ({0}: {1}): everything is asked of the store", e.GetType().Name, e.Message);
        }

        Receive<RevisionAvailable>(OnRevision);
        // Answers to an abandoned transfer (a timeout started another) are dropped: their pages would not fit.
        Receive<Changes>(c => Step(c.Transfer, () => _replica.Accept(c.Page)));
        Receive<Contents>(c => Step(c.Transfer, () => _replica.Accept(c.Chunks, c.Missing)));
        Receive<ChangesUnavailable>(u =>
        {
            if (u.Transfer != _replica.TransferId) return;
            _log.Info("ConfigFollower: revision {0} is no longer kept by the store (now {1}); fetching the latest", u.Revision, u.Latest);
            _replica.Abandon();
            Start();
        });
        Receive<TransferTimedOut>(t =>
        {
            if (t.Attempt != _attempt || !_replica.Transferring) return;
            var (pages, chunks, missing) = _replica.Progress;
            _log.Warning("ConfigFollower: the store did not answer within {0} (transfer of revision {1} after {2} page(s), {3} chunk(s), {4} content(s) still missing); starting again",
                _settings.ConfigTransferTimeout, _storeRevision, pages, chunks, missing);
            _replica.Abandon();
            // The store may have moved: ask again through the singleton proxy.
            _store = null;
            _storeProxy.Tell(new Subscribe(Self));
            Timers.StartSingleTimer("retry", Retry.Instance, TimeSpan.FromSeconds(1));
        });
        Receive<Retry>(_ => Start());
        Receive<Poll>(_ => _storeProxy.Tell(new Subscribe(Self)));
        Receive<Tick>(_ => OnTick());
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_store)) return;
            if (CoordinatedShutdown.Get(Context.System).ShutdownReason is null)
                _log.Info("ConfigFollower: the configuration store stopped where it ran; subscribing to where it starts next");
            _store = null;
            _replica.Abandon();
            Timers.StartPeriodicTimer("subscribe", Poll.Instance, TimeSpan.FromSeconds(1));
        });
        Receive<GetCopy>(_ => Sender.Tell(Copy()));
        Receive<GetNodeRevision>(_ => Sender.Tell(new NodeRevision(_replica.Revision, _storeRevision,
            _behindSince is { } since ? (long)(_time.GetUtcNow() - since).TotalMilliseconds : 0)));
        Receive<WaitForRevision>(w =>
        {
            if (_replica.Revision >= w.Revision) Sender.Tell(Copy());
            else _waiting.Add((Sender, w.Revision, _time.GetUtcNow() + w.Timeout));
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef storeProxy, IActorRef runtime, SslClusterSettings settings, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new ConfigFollowerActor(storeProxy, runtime, settings, time));

    protected override void PreStart()
    {
        _started = _time.GetUtcNow();
        // Until the store first answers, ask every second (it may still be starting); afterwards the store tells of
        // every revision and the slow poll only covers a lost notice.
        Timers.StartPeriodicTimer("subscribe", Poll.Instance, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Timers.StartPeriodicTimer("poll", Poll.Instance, _settings.ConfigRevisionPoll, _settings.ConfigRevisionPoll);
        Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>The index of the local copy is written at the ticks and when the follower stops (a drain, a shutdown).</summary>
    protected override void PostStop() => _replica.SaveIndex();

    private CurrentCopy Copy() => new(_replica.Revision, _storeRevision, _behindSince, _replica.Config, _replica.Files, _storeRevision >= 0);

    private void OnRevision(RevisionAvailable r)
    {
        if (!Sender.IsNobody() && !Sender.Equals(_store) && Sender.Path.Name != "deadLetters")
        {
            if (_store is not null) Context.Unwatch(_store);
            _store = Sender;
            Context.Watch(_store);
            Timers.Cancel("subscribe");
        }
        _storeRevision = r.Revision;
        _storeFingerprint = r.Fingerprint;
        if (_replica.Revision == r.Revision && (r.Fingerprint == 0 || r.Fingerprint == _replica.Fingerprint))
        {
            _behindSince = null;
            return;
        }
        _behindSince ??= _time.GetUtcNow();
        Start();
    }

    /// <summary>
    /// Starts a transfer unless one is under way or the copy is current. A copy at the store's revision number (or
    /// ahead of it) that does not match the store's fingerprint came from another store: everything is fetched again.
    /// </summary>
    private void Start()
    {
        if (_replica.Transferring || _storeRevision < 0) return;
        var current = _replica.Revision == _storeRevision;
        var matches = _storeFingerprint == 0 || _storeFingerprint == _replica.Fingerprint;
        if (current && matches) return;
        Timers.Cancel("retry");
        if ((current || _replica.Revision > _storeRevision) && !matches)
        {
            _log.Warning("ConfigFollower: this node's copy (revision {0}) does not match the store's revision {1}: it was copied from another store " +
                "(another journal?); fetching everything again", _replica.Revision, _storeRevision);
            Send(_replica.BeginReset());
            return;
        }
        Send(_replica.Begin());
    }

    /// <summary>Runs one step of the transfer; a damaged or foreign answer abandons it and tries again shortly.</summary>
    private void Step(long transfer, Func<ReplicaRequest> step)
    {
        if (!_replica.Transferring || transfer != _replica.TransferId) return;
        ReplicaRequest next;
        try
        {
            next = step();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            _log.Error("ConfigFollower: transfer of revision {0} failed: {1}; starting again in 1 s", _storeRevision, e.Message);
            _replica.Abandon();
            Timers.StartSingleTimer("retry", Retry.Instance, TimeSpan.FromSeconds(1));
            return;
        }
        Send(next);
    }

    private void Send(ReplicaRequest request)
    {
        _attempt++;
        var to = _store ?? _storeProxy;
        switch (request)
        {
            case PageRequest p:
                to.Tell(new GetChanges(p.Transfer, p.Since, p.Revision, p.From));
                break;
            case BlobsRequest b:
                to.Tell(new GetContents(b.Transfer, b.Revision, b.Blobs));
                break;
            case TransferComplete:
                Timers.Cancel("transfer");
                Complete();
                return;
        }
        Timers.StartSingleTimer("transfer", new TransferTimedOut(_attempt), _settings.ConfigTransferTimeout);
    }

    private void Complete()
    {
        ReplicaUpdate update;
        // The revision read back from the disk this transfer was asked against, if any (Complete confirms it).
        var restoredFrom = _replica.RestoredRevision;
        try
        {
            update = _replica.Complete();
        }
        catch (FormatException e)
        {
            _log.Error("ConfigFollower: a section of revision {0} does not parse ({1}); this node keeps revision {2} and tries again in 5 s",
                _storeRevision, e.Message, _replica.Revision);
            _replica.Abandon();
            Timers.StartSingleTimer("retry", Retry.Instance, TimeSpan.FromSeconds(5));
            return;
        }
        catch (InvalidDataException e)
        {
            _log.Warning("ConfigFollower: {0}: this node's copy came from another store (another journal?); fetching everything again", e.Message);
            _replica.Abandon();
            Send(_replica.BeginReset());
            return;
        }
        if (_replica.ContentsFromDisk > _contentsFromDisk)
        {
            _log.Info("ConfigFollower: revision {0} taken in with {1} content(s) read from this node's local copy rather than fetched{2}",
                _replica.Revision, _replica.ContentsFromDisk - _contentsFromDisk,
                restoredFrom is { } restored ? $" (only what changed after revision {restored}, which it held, was asked of the store)" : string.Empty);
            _contentsFromDisk = _replica.ContentsFromDisk;
        }
        _runtime.Tell(new Dispatch.NodeRuntimeActor.ApplyRevision(update));
        if (_replica.Revision >= _storeRevision && (_storeFingerprint == 0 || _storeFingerprint == _replica.Fingerprint))
        {
            if (_behindSince is { } since && _time.GetUtcNow() - since > _settings.ConfigMaxLag)
                _log.Info("ConfigFollower: caught up with the store at revision {0} after {1:0.0} s behind", _replica.Revision, (_time.GetUtcNow() - since).TotalSeconds);
            _behindSince = null;
        }
        else
        {
            Start();
        }
        AnswerWaiting();
    }

    private void AnswerWaiting()
    {
        var now = _time.GetUtcNow();
        for (var i = _waiting.Count - 1; i >= 0; i--)
        {
            var (asker, revision, deadline) = _waiting[i];
            if (_replica.Revision < revision && now < deadline) continue;
            asker.Tell(Copy());
            _waiting.RemoveAt(i);
        }
    }

    private void OnTick()
    {
        AnswerWaiting();
        // Every 5 s at most: the index names every entry, and an import of thousands of files is as many revisions.
        if (++_ticks % 5 == 0) _replica.SaveIndex();
        var now = _time.GetUtcNow();
        if (_storeRevision < 0 && now - _started > TimeSpan.FromSeconds(30) && now - _lastLagLog >= TimeSpan.FromSeconds(30))
        {
            _lastLagLog = now;
            _log.Warning("ConfigFollower: the configuration store has not answered for {0:0} s since this node started: is the cluster formed " +
                "(seed nodes reachable, a majority of the nodes up)? This node serves nothing until it holds a revision", (now - _started).TotalSeconds);
        }
        if (_behindSince is not { } since) return;
        if (now - since <= _settings.ConfigMaxLag || now - _lastLagLog < TimeSpan.FromSeconds(30)) return;
        _lastLagLog = now;
        var (pages, chunks, missing) = _replica.Progress;
        _log.Warning("ConfigFollower: this node runs revision {0} while the store has {1}, for {2:0} s ({3})", _replica.Revision, _storeRevision, (now - since).TotalSeconds,
            _replica.Transferring ? $"fetching: {pages} page(s), {chunks} chunk(s) in, {missing} content(s) to go" : "waiting to fetch again");
    }
}
