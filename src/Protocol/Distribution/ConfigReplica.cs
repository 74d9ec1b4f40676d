using System.Collections.Immutable;
using System.Text;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Distribution;

/// <summary>A store file as a node holds it.</summary>
public sealed record ReplicaFile(string Name, StoredFileKind Kind, string Digest, byte[] Content);

/// <summary>A revision a node has just taken in: the model, the store files, and which entries changed.</summary>
public sealed record ReplicaUpdate(long Revision, RunningConfig Config, ImmutableSortedDictionary<string, ReplicaFile> Files,
    IReadOnlyList<string> ChangedKeys, IReadOnlyList<string> RemovedKeys);

/// <summary>What the node asks the store for next in a transfer.</summary>
public abstract record ReplicaRequest;

/// <summary>The page of changes after <paramref name="Since"/> starting at key index <paramref name="From"/>; revision null for the store's latest.</summary>
public sealed record PageRequest(long Transfer, long Since, long? Revision, int From) : ReplicaRequest;

/// <summary>Contents of revision <paramref name="Revision"/> the node lacks.</summary>
public sealed record BlobsRequest(long Transfer, long Revision, IReadOnlyList<BlobRequest> Blobs) : ReplicaRequest;

/// <summary>Everything is here: call <see cref="ConfigReplica.Complete"/>.</summary>
public sealed record TransferComplete(long Revision) : ReplicaRequest;

/// <summary>
/// A node's copy of the configuration store: the revision it holds, every entry's digest, the contents by digest, the
/// model built from the sections and the store files. It takes a new revision in as a transfer (pages of changes, then
/// the contents it lacks in bounded chunks) and rebuilds only what changed: a section parsed again only when its
/// digest changed, a file's bytes kept (same array) when its digest did not change, so everything cached per file
/// downstream (decoded certificates, credentials) stays valid. Not thread-safe: one actor owns it.
/// </summary>
public sealed class ConfigReplica
{
    /// <summary>Blob requests per message: each is a digest and an offset, so the request stays small.</summary>
    public const int MaxBlobRequests = 64;

    private ImmutableSortedDictionary<string, ChangedEntry> _entries = ImmutableSortedDictionary.Create<string, ChangedEntry>(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _contents = new(StringComparer.Ordinal);
    private long _revision = -1;
    private ulong _fingerprint;
    private RunningConfig _config = RunningConfig.Empty;
    private ImmutableSortedDictionary<string, ReplicaFile> _files = ImmutableSortedDictionary.Create<string, ReplicaFile>(StringComparer.Ordinal);

    /// <summary>
    /// The copy was read back from the disk (<see cref="Restore"/>) and no transfer has confirmed it with the store yet:
    /// it is only the base the next transfer asks changes against, and the copy reads as empty until then.
    /// </summary>
    private bool _unconfirmed;

    /// <summary>A revision was taken in since the index on disk was last written (<see cref="SaveIndex"/>).</summary>
    private bool _indexDirty;
    private Transfer? _transfer;
    private long _transfers;
    private readonly ReplicaContentCache? _cache;

    /// <summary>
    /// A copy held in memory, and on disk too when <paramref name="cache"/> is given: a content the copy lacks is then read
    /// from there when it is held intact, and asked of the store only when it is not.
    /// </summary>
    public ConfigReplica(ReplicaContentCache? cache = null) => _cache = cache;

    /// <summary>Contents taken from the local copy on disk rather than the store, since the start.</summary>
    public int ContentsFromDisk => _cache?.Hits ?? 0;

    /// <summary>The id of the transfer under way: answers to requests of an earlier transfer must be dropped.</summary>
    public long TransferId => _transfer?.Id ?? 0;

    /// <summary>The fingerprint of the entries held (see <see cref="StoreManifest.Fingerprint"/>).</summary>
    public ulong Fingerprint => _unconfirmed ? 0 : _fingerprint;

    /// <summary>The revision held; -1 before the first transfer (revision 0 is the store's empty configuration).</summary>
    public long Revision => _unconfirmed ? -1 : _revision;

    public RunningConfig Config => _unconfirmed ? RunningConfig.Empty : _config;

    public ImmutableSortedDictionary<string, ReplicaFile> Files => _unconfirmed ? ImmutableSortedDictionary.Create<string, ReplicaFile>(StringComparer.Ordinal) : _files;

    /// <summary>The revision read back from the disk at the start and not yet confirmed by the store; null otherwise.</summary>
    public long? RestoredRevision => _unconfirmed ? _revision : null;

    /// <summary>
    /// Reads back the copy the disk holds (the index of the revision last taken in, and every content it names, each
    /// checked against its digest), as the base of the next transfer: the store is then asked only for what changed
    /// after that revision. Nothing is in force or readable from it until a transfer confirms it. Returns the entries
    /// read back; 0 when there is no usable copy (no index, a content missing or damaged, a section that does not
    /// parse, a fingerprint that does not match its entries), and then the first transfer fetches everything.
    /// </summary>
    public int Restore()
    {
        if (_cache?.ReadIndex() is not { } index || _revision >= 0 || _transfer is not null) return 0;
        var entries = ImmutableSortedDictionary.CreateBuilder<string, ChangedEntry>(StringComparer.Ordinal);
        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var files = ImmutableSortedDictionary.CreateBuilder<string, ReplicaFile>(StringComparer.Ordinal);
        var config = RunningConfig.Empty;
        ulong fingerprint = 0;
        try
        {
            foreach (var e in index.Entries)
            {
                if (entries.ContainsKey(e.Key)) return 0;
                if (!contents.TryGetValue(e.Digest, out var content))
                {
                    if (_cache.TryRead(e.Digest) is not { } held) return 0;
                    contents[e.Digest] = content = held;
                }
                var isFile = e.Key.StartsWith(StoreManifest.FilePrefix, StringComparison.Ordinal);
                if (content.Length != e.Length || (isFile ? e.Key.Length == StoreManifest.FilePrefix.Length || e.FileKind is not { } kind || !Enum.IsDefined(kind) : e.FileKind is not null))
                    return 0;
                Place(e, content, ref config, files);
                entries[e.Key] = e with { Content = null };
                fingerprint ^= StoreManifest.EntryHash(e.Key, e.Digest);
            }
        }
        catch (FormatException)
        {
            return 0;
        }
        if (fingerprint != index.Fingerprint) return 0;
        _entries = entries.ToImmutable();
        foreach (var (digest, content) in contents) _contents[digest] = content;
        _revision = index.Revision;
        _fingerprint = fingerprint;
        _config = config;
        _files = files.ToImmutable();
        _unconfirmed = true;
        return _entries.Count;
    }

    /// <summary>The entries held (sections and files), for tests and figures.</summary>
    public int EntryCount => _entries.Count;

    /// <summary>True while a transfer is under way.</summary>
    public bool Transferring => _transfer is not null;

    /// <summary>Pages and chunks taken in by the current transfer (for the log of a lagging node).</summary>
    public (int Pages, int Chunks, int MissingContents) Progress =>
        _transfer is { } t ? (t.Pages, t.Chunks, t.Needed.Count) : (0, 0, 0);

    /// <summary>Starts (or starts again) a transfer from the revision held (or read back from the disk): the first request to send.</summary>
    public ReplicaRequest Begin() => Begin(_revision);

    /// <summary>Starts a transfer of everything (a reset), whatever the revision held: the store is not the one this copy came from.</summary>
    public ReplicaRequest BeginReset() => Begin(-1);

    private ReplicaRequest Begin(long since)
    {
        _transfer = new Transfer(++_transfers, since);
        return new PageRequest(_transfer.Id, since, null, 0);
    }

    /// <summary>Drops a transfer (a request timed out, the store moved): the revision held stays as it was.</summary>
    public void Abandon() => _transfer = null;

    /// <summary>Takes in one page; the next request.</summary>
    /// <exception cref="InvalidDataException">The page does not belong to this transfer, or a content does not match its digest.</exception>
    public ReplicaRequest Accept(ChangesPage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        var t = _transfer ?? throw new InvalidDataException("a page of changes arrived with no transfer under way");
        if (page.Since != t.Since) throw new InvalidDataException($"a page of changes since revision {page.Since} arrived for a transfer since {t.Since}");
        if (page.From != t.NextFrom) throw new InvalidDataException($"a page of changes from key {page.From} arrived where key {t.NextFrom} was asked for");
        if (t.Target is { } target && page.Revision != target)
            throw new InvalidDataException($"a page of revision {page.Revision} arrived for a transfer of revision {target}");
        t.Target = page.Revision;
        t.Reset = page.Reset;
        t.Fingerprint = page.Fingerprint;
        t.Pages++;
        foreach (var e in page.Changed)
        {
            if (e.Content is { } inline) Take(t, e.Digest, inline);
            t.Changed[e.Key] = e with { Content = null };
            t.Removed.Remove(e.Key);
        }
        foreach (var key in page.Removed)
        {
            t.Removed.Add(key);
            t.Changed.Remove(key);
        }
        if (page.Next is { } next)
        {
            t.NextFrom = next;
            return new PageRequest(t.Id, t.Since, page.Revision, next);
        }
        t.NextFrom = -1;
        foreach (var e in t.Changed.Values)
        {
            if (_contents.ContainsKey(e.Digest) || t.Received.ContainsKey(e.Digest)) continue;
            // Read from the local copy on disk, checked against its digest there; asked of the store otherwise.
            if (_cache?.TryRead(e.Digest) is { } held) t.Received[e.Digest] = held;
            else t.Needed.Add(e.Digest);
        }
        return NextBlobs(t);
    }

    /// <summary>Takes in chunks of contents; the next request.</summary>
    /// <exception cref="InvalidDataException">The store no longer holds a content, or a content does not match its digest.</exception>
    public ReplicaRequest Accept(IReadOnlyList<BlobChunk> chunks, IReadOnlyList<string> missing)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        ArgumentNullException.ThrowIfNull(missing);
        var t = _transfer ?? throw new InvalidDataException("contents arrived with no transfer under way");
        if (missing.Count > 0)
            throw new InvalidDataException($"the store no longer holds {missing.Count} content(s) of revision {t.Target} (first {missing[0][..Math.Min(12, missing[0].Length)]}...)");
        foreach (var c in chunks)
        {
            if (!t.Needed.Contains(c.Digest)) continue;
            t.Chunks++;
            if (c.Offset == 0 && c.Bytes.Length == c.Total)
            {
                Take(t, c.Digest, c.Bytes);
                continue;
            }
            if (!t.Partial.TryGetValue(c.Digest, out var part))
            {
                if (c.Total < 0 || c.Total > 64 * 1024 * 1024) throw new InvalidDataException($"content {c.Digest} claims {c.Total} bytes");
                part = (new byte[c.Total], 0);
            }
            if (c.Offset != part.Filled || c.Offset + c.Bytes.Length > part.Buffer.Length)
                throw new InvalidDataException($"a chunk of {c.Digest} at offset {c.Offset} arrived out of order (expected {part.Filled})");
            c.Bytes.CopyTo(part.Buffer, c.Offset);
            part.Filled += c.Bytes.Length;
            if (part.Filled == part.Buffer.Length)
            {
                t.Partial.Remove(c.Digest);
                Take(t, c.Digest, part.Buffer);
            }
            else
            {
                t.Partial[c.Digest] = part;
            }
        }
        return NextBlobs(t);
    }

    /// <summary>Applies the finished transfer: the new revision, model and files.</summary>
    /// <exception cref="FormatException">A section does not parse (a store of another version, or damage).</exception>
    /// <exception cref="InvalidDataException">
    /// The changes, laid on the copy held, do not give the store's fingerprint: the copy came from another store (or a
    /// journal started again); nothing changes, and the caller fetches everything (<see cref="BeginReset"/>).
    /// </exception>
    public ReplicaUpdate Complete()
    {
        var t = _transfer ?? throw new InvalidOperationException("no transfer to complete");
        if (t.Target is not { } target || t.Needed.Count > 0) throw new InvalidOperationException("the transfer is not complete");
        if (t.NextFrom >= 0) throw new InvalidOperationException("the transfer has pages still to come");
        var removed = t.Reset ? _entries.Keys.Where(k => !t.Changed.ContainsKey(k)).ToList() : t.Removed.Where(_entries.ContainsKey).ToList();
        var changed = t.Changed.Values.Where(e => !_entries.TryGetValue(e.Key, out var old) || old.Digest != e.Digest || old.FileKind != e.FileKind).ToList();

        // Build everything first: a section that fails to parse leaves the replica on its old revision.
        var config = _config;
        var files = _files.ToBuilder();
        var entries = _entries.ToBuilder();
        foreach (var key in removed)
        {
            if (key.StartsWith(StoreManifest.FilePrefix, StringComparison.Ordinal)) files.Remove(key[StoreManifest.FilePrefix.Length..]);
            else config = ConfigSections.With(config, key, null);
            entries.Remove(key);
        }
        foreach (var e in changed)
        {
            Place(e, t.Received.TryGetValue(e.Digest, out var r) ? r : _contents[e.Digest], ref config, files);
            entries[e.Key] = e;
        }

        var fingerprint = _fingerprint;
        foreach (var key in removed) fingerprint ^= StoreManifest.EntryHash(key, _entries[key].Digest);
        foreach (var e in changed)
        {
            if (_entries.TryGetValue(e.Key, out var old)) fingerprint ^= StoreManifest.EntryHash(e.Key, old.Digest);
            fingerprint ^= StoreManifest.EntryHash(e.Key, e.Digest);
        }
        // A reset lists the store's every entry, so its fingerprint can only differ if the two sides hash differently
        // (another version): nothing better can be fetched, and the copy is the store's.
        if (!t.Reset && t.Fingerprint != 0 && fingerprint != t.Fingerprint)
        {
            DropRestored();
            throw new InvalidDataException($"the changes after revision {t.Since} do not give the store's revision {target} on this node's copy " +
                $"(fingerprint {fingerprint:x16}, the store's {t.Fingerprint:x16})");
        }
        // A copy read back from the disk is only taken as a base when the store can say it got its revision.
        if (!t.Reset && t.Fingerprint == 0 && _unconfirmed)
        {
            DropRestored();
            throw new InvalidDataException($"the store does not say the fingerprint of revision {target} (an older version), so the copy this node read back cannot be checked");
        }
        _fingerprint = fingerprint;
        _entries = entries.ToImmutable();
        foreach (var (digest, content) in t.Received)
        {
            _contents[digest] = content;
            // A content read from the disk is held there already: Write skips it.
            _cache?.Write(digest, content);
        }
        // Contents no entry names any more are dropped here, and on disk once the index names them no more (SaveIndex).
        var used = _entries.Values.Select(e => e.Digest).ToHashSet(StringComparer.Ordinal);
        foreach (var digest in _contents.Keys.Where(d => !used.Contains(d)).ToList()) _contents.Remove(digest);
        _revision = target;
        _config = config;
        _files = files.ToImmutable();
        _unconfirmed = false;
        _indexDirty = true;
        _transfer = null;
        return new ReplicaUpdate(target, config, _files, changed.Select(e => e.Key).ToList(), removed);
    }

    /// <summary>
    /// Writes the index of the revision held to the disk, then removes the contents it does not name. The owner calls it
    /// every few seconds and when it stops, not at every revision: an import of thousands of files is thousands of
    /// revisions, and the index names every entry. An index some revisions old is a good base still (the next start
    /// asks for what changed since), and its contents stay on disk until a newer index is written.
    /// </summary>
    public void SaveIndex()
    {
        if (_cache is null || !_indexDirty || _unconfirmed || _revision < 0) return;
        _indexDirty = false;
        if (!_cache.WriteIndex(new ReplicaIndex(ReplicaIndex.CurrentFormat, _revision, _fingerprint, [.. _entries.Values]))) return;
        _cache.Keep(_entries.Values.Select(e => e.Digest).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>Forgets a copy read back from the disk that the store's answer showed to be another store's.</summary>
    private void DropRestored()
    {
        if (!_unconfirmed) return;
        _entries = ImmutableSortedDictionary.Create<string, ChangedEntry>(StringComparer.Ordinal);
        _revision = -1;
        _fingerprint = 0;
        _config = RunningConfig.Empty;
        _files = ImmutableSortedDictionary.Create<string, ReplicaFile>(StringComparer.Ordinal);
        _unconfirmed = false;
    }

    /// <summary>Puts one entry's content in the model (a section) or among the store files.</summary>
    /// <exception cref="FormatException">A section does not parse, or a file has no kind.</exception>
    private static void Place(ChangedEntry e, byte[] content, ref RunningConfig config, ImmutableSortedDictionary<string, ReplicaFile>.Builder files)
    {
        if (e.Key.StartsWith(StoreManifest.FilePrefix, StringComparison.Ordinal))
        {
            if (e.FileKind is not { } kind) throw new FormatException($"entry '{e.Key}' is a file without a kind");
            var name = e.Key[StoreManifest.FilePrefix.Length..];
            files[name] = new ReplicaFile(name, kind, e.Digest, content);
        }
        else
        {
            config = ConfigSections.With(config, e.Key, Encoding.UTF8.GetString(content));
        }
    }

    private static ReplicaRequest NextBlobs(Transfer t)
    {
        if (t.Needed.Count == 0) return new TransferComplete(t.Target!.Value);
        var requests = t.Needed.Take(MaxBlobRequests)
            .Select(d => new BlobRequest(d, t.Partial.TryGetValue(d, out var p) ? p.Filled : 0)).ToList();
        return new BlobsRequest(t.Id, t.Target!.Value, requests);
    }

    private static void Take(Transfer t, string digest, byte[] content)
    {
        if (ConfigSections.Digest(content) != digest)
            throw new InvalidDataException($"content received for {digest} does not match its digest");
        t.Received[digest] = content;
        t.Needed.Remove(digest);
    }

    private sealed class Transfer(long id, long since)
    {
        public long Id { get; } = id;

        public long Since { get; } = since;

        /// <summary>The key index the next page must start at; -1 once the last page arrived.</summary>
        public int NextFrom { get; set; }

        public long? Target { get; set; }

        public bool Reset { get; set; }

        public ulong Fingerprint { get; set; }

        public int Pages { get; set; }

        public int Chunks { get; set; }

        public Dictionary<string, ChangedEntry> Changed { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Removed { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, byte[]> Received { get; } = new(StringComparer.Ordinal);

        public SortedSet<string> Needed { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, (byte[] Buffer, int Filled)> Partial { get; } = new(StringComparer.Ordinal);
    }
}
