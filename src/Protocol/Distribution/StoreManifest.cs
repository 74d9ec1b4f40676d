using System.Collections.Immutable;
using System.Text;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Distribution;

/// <summary>One entry of a revision: a configuration section or a store file, named by the digest of its content.</summary>
/// <param name="FileKind">The kind of store file; null for a configuration section.</param>
/// <param name="ChangedAt">The revision that last set this entry.</param>
public sealed record ManifestEntry(string Digest, int Length, StoredFileKind? FileKind, long ChangedAt);

/// <summary>An entry as a page of changes carries it, with its content when it is small enough to travel inline.</summary>
public sealed record ChangedEntry(string Key, string Digest, int Length, StoredFileKind? FileKind, byte[]? Content);

/// <summary>
/// One page of what changed after revision <paramref name="Since"/> up to <paramref name="Revision"/>. A
/// <paramref name="Reset"/> page lists every entry of the revision (the receiver drops what none of the pages
/// named); otherwise pages list changed entries and removed keys. <paramref name="Next"/> is where the next page
/// starts, null on the last one.
/// </summary>
public sealed record ChangesPage(long Since, long Revision, bool Reset, IReadOnlyList<ChangedEntry> Changed, IReadOnlyList<string> Removed, int? Next)
{
    /// <summary>The key index this page starts at (a receiver checks it is the page it asked for).</summary>
    public int From { get; init; }

    /// <summary>
    /// The fingerprint of every entry of <paramref name="Revision"/> (<see cref="StoreManifest.Fingerprint"/>): a receiver
    /// that applied the changes to its copy checks it got the store's revision, not changes laid on another store's copy.
    /// Zero from a store that does not send it.
    /// </summary>
    public ulong Fingerprint { get; init; }
}

/// <summary>A piece of one blob's content: <paramref name="Offset"/> into the <paramref name="Total"/> bytes of <paramref name="Digest"/>.</summary>
public sealed record BlobChunk(string Digest, int Offset, int Total, byte[] Bytes);

/// <summary>A request for the content of a blob from <paramref name="Offset"/> on.</summary>
public sealed record BlobRequest(string Digest, int Offset);

/// <summary>The keys that changed after a revision, in key order, as the pages of one transfer walk them.</summary>
public sealed record ChangeSet(long Since, long Revision, bool Reset, ImmutableArray<string> Keys);

/// <summary>
/// The configuration store's revisions as the cluster distributes them: every entry (configuration section
/// <c>kind/name</c>, store file <c>file/NAME</c>) with the digest of its content and the revision that last changed
/// it, the keys removed in recent revisions, and the content of every entry by digest. Immutable: a transfer that
/// pages through one revision keeps reading that revision while new ones are committed.
/// </summary>
/// <remarks>
/// A node that holds revision R asks for what changed after R and gets the changed entries and removed keys, in
/// pages far below Akka's frame; contents it lacks it fetches by digest in bounded chunks. When R is older than the
/// removals the manifest still remembers (<see cref="CompleteSince"/>), the node gets a reset: every entry's digest,
/// and it fetches only the contents it does not hold already.
/// </remarks>
public sealed class StoreManifest
{
    /// <summary>Entry keys of store files start with this.</summary>
    public const string FilePrefix = "file/";

    /// <summary>Removals remembered; past this the oldest half is forgotten and lagging nodes get a reset.</summary>
    public const int MaxRemovedKeys = 20_000;

    /// <summary>The estimated serialized size of one page or blob reply: far below Akka's 128,000-byte frame.</summary>
    public const int PageBudgetBytes = 60_000;

    /// <summary>Contents up to this size travel inside the page that names them.</summary>
    public const int InlineLimitBytes = 16 * 1024;

    public static StoreManifest Empty { get; } = new(0, 0, ImmutableSortedDictionary.Create<string, ManifestEntry>(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<string, long>(StringComparer.Ordinal), ImmutableDictionary.Create<string, Blob>(StringComparer.Ordinal), 0);

    private readonly ImmutableDictionary<string, Blob> _blobs;

    private StoreManifest(long revision, long completeSince, ImmutableSortedDictionary<string, ManifestEntry> entries,
        ImmutableSortedDictionary<string, long> removed, ImmutableDictionary<string, Blob> blobs, ulong fingerprint)
    {
        Fingerprint = fingerprint;
        Revision = revision;
        CompleteSince = completeSince;
        Entries = entries;
        Removed = removed;
        _blobs = blobs;
    }

    public long Revision { get; }

    /// <summary>
    /// A digest of every entry held (key and content digest), kept up to date change by change: a copy with the same
    /// revision number but another fingerprint came from another store (another journal) and must be reset.
    /// </summary>
    public ulong Fingerprint { get; }

    /// <summary>One entry's share of a fingerprint (fingerprints are the XOR of their entries' shares).</summary>
    public static ulong EntryHash(string key, string digest) =>
        BitConverter.ToUInt64(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key + "\n" + digest)), 0);

    /// <summary>Every removal after this revision is remembered: changes since it or later can be sent as a delta.</summary>
    public long CompleteSince { get; }

    public ImmutableSortedDictionary<string, ManifestEntry> Entries { get; }

    /// <summary>Keys removed, with the revision that removed them.</summary>
    public ImmutableSortedDictionary<string, long> Removed { get; }

    /// <summary>The number of distinct contents held (entries with equal content share one).</summary>
    public int BlobCount => _blobs.Count;

    public static string FileKey(string name) => FilePrefix + name;

    /// <summary>The content of a blob, or null when no entry of this revision has that digest.</summary>
    public byte[]? Content(string digest) => _blobs.TryGetValue(digest, out var b) ? b.Bytes : null;

    /// <summary>
    /// Revision <paramref name="revision"/>: sets the entries of <paramref name="set"/> (key, content, file kind or null
    /// for a section) and removes the keys of <paramref name="removed"/>.
    /// </summary>
    public StoreManifest Commit(long revision, IEnumerable<(string Key, byte[] Content, StoredFileKind? FileKind)> set, IEnumerable<string> removed)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(removed);
        if (revision <= Revision) throw new ArgumentOutOfRangeException(nameof(revision), $"revision {revision} does not follow {Revision}");
        var entries = Entries.ToBuilder();
        var gone = Removed.ToBuilder();
        var blobs = _blobs.ToBuilder();
        var fingerprint = Fingerprint;
        foreach (var key in removed)
        {
            if (!entries.TryGetValue(key, out var old)) continue;
            fingerprint ^= EntryHash(key, old.Digest);
            Unref(blobs, old.Digest);
            entries.Remove(key);
            gone[key] = revision;
        }
        foreach (var (key, content, kind) in set)
        {
            var digest = ConfigSections.Digest(content);
            if (entries.TryGetValue(key, out var old))
            {
                if (old.Digest == digest && old.FileKind == kind) continue;
                fingerprint ^= EntryHash(key, old.Digest);
                Unref(blobs, old.Digest);
            }
            fingerprint ^= EntryHash(key, digest);
            blobs[digest] = blobs.TryGetValue(digest, out var b) ? b with { Refs = b.Refs + 1 } : new Blob(content, 1);
            entries[key] = new ManifestEntry(digest, content.Length, kind, revision);
            gone.Remove(key);
        }
        var completeSince = CompleteSince;
        if (gone.Count > MaxRemovedKeys)
        {
            // Forget the oldest half of the removals: nodes further behind than that get a reset.
            var cutoff = gone.Values.Order().ElementAt(gone.Count / 2);
            foreach (var (key, at) in gone.ToList())
                if (at <= cutoff) gone.Remove(key);
            completeSince = Math.Max(completeSince, cutoff);
        }
        return new StoreManifest(revision, completeSince, entries.ToImmutable(), gone.ToImmutable(), blobs.ToImmutable(), fingerprint);
    }

    /// <summary>A manifest rebuilt from a snapshot: entries with their contents and revisions, and the removals remembered.</summary>
    public static StoreManifest Restore(long revision, long completeSince, IEnumerable<(string Key, byte[] Content, StoredFileKind? FileKind, long ChangedAt)> entries,
        IEnumerable<KeyValuePair<string, long>> removed)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(removed);
        var map = ImmutableSortedDictionary.CreateBuilder<string, ManifestEntry>(StringComparer.Ordinal);
        var blobs = ImmutableDictionary.CreateBuilder<string, Blob>(StringComparer.Ordinal);
        ulong fingerprint = 0;
        foreach (var (key, content, kind, changedAt) in entries)
        {
            var digest = ConfigSections.Digest(content);
            fingerprint ^= EntryHash(key, digest);
            blobs[digest] = blobs.TryGetValue(digest, out var b) ? b with { Refs = b.Refs + 1 } : new Blob(content, 1);
            map[key] = new ManifestEntry(digest, content.Length, kind, Math.Min(changedAt, revision));
        }
        return new StoreManifest(revision, completeSince, map.ToImmutable(), removed.ToImmutableSortedDictionary(StringComparer.Ordinal), blobs.ToImmutable(), fingerprint);
    }

    /// <summary>The keys a node holding revision <paramref name="since"/> must hear about, in key order.</summary>
    public ChangeSet ChangesSince(long since)
    {
        if (since < CompleteSince || since > Revision || since <= 0)
            return new ChangeSet(since, Revision, true, [.. Entries.Keys]);
        var keys = ImmutableArray.CreateBuilder<string>();
        // Merge the two sorted maps by key: changed entries and remembered removals.
        foreach (var (key, entry) in Entries)
            if (entry.ChangedAt > since) keys.Add(key);
        foreach (var (key, at) in Removed)
            if (at > since) keys.Add(key);
        keys.Sort(StringComparer.Ordinal);
        return new ChangeSet(since, Revision, false, keys.ToImmutable());
    }

    /// <summary>
    /// The page of <paramref name="changes"/> (which must be of this revision) starting at key index
    /// <paramref name="from"/>: as many keys as fit in <see cref="PageBudgetBytes"/>, at least one; contents inline while
    /// they fit (not on a reset, where the node most likely holds them already).
    /// </summary>
    public ChangesPage Page(ChangeSet changes, int from, int budget = PageBudgetBytes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Revision != Revision) throw new ArgumentException($"the change set is of revision {changes.Revision}, not {Revision}", nameof(changes));
        var changed = new List<ChangedEntry>();
        var removed = new List<string>();
        var used = 200;
        var i = Math.Max(0, from);
        for (; i < changes.Keys.Length; i++)
        {
            var key = changes.Keys[i];
            var cost = EstimatedSize(key) + 160;
            if (used + cost > budget && i > from) break;
            used += cost;
            if (!Entries.TryGetValue(key, out var entry))
            {
                removed.Add(key);
                continue;
            }
            byte[]? content = null;
            if (!changes.Reset && entry.Length <= InlineLimitBytes && used + Base64Size(entry.Length) <= budget)
            {
                content = _blobs[entry.Digest].Bytes;
                used += Base64Size(entry.Length);
            }
            changed.Add(new ChangedEntry(key, entry.Digest, entry.Length, entry.FileKind, content));
        }
        return new ChangesPage(changes.Since, Revision, changes.Reset, changed, removed, i < changes.Keys.Length ? i : null)
        {
            From = Math.Max(0, from),
            Fingerprint = Fingerprint,
        };
    }

    /// <summary>
    /// Content for <paramref name="requests"/>, in order, up to <paramref name="budget"/> bytes once serialized (at least
    /// one chunk); a blob longer than the budget comes in several chunks. Digests this revision does not hold are
    /// listed in <c>Missing</c>.
    /// </summary>
    public (IReadOnlyList<BlobChunk> Chunks, IReadOnlyList<string> Missing) Read(IEnumerable<BlobRequest> requests, int budget = PageBudgetBytes)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var chunks = new List<BlobChunk>();
        var missing = new List<string>();
        var room = budget * 3 / 4 - 1_000;
        foreach (var r in requests)
        {
            if (!_blobs.TryGetValue(r.Digest, out var blob))
            {
                missing.Add(r.Digest);
                continue;
            }
            var offset = Math.Clamp(r.Offset, 0, blob.Bytes.Length);
            var take = Math.Min(blob.Bytes.Length - offset, room);
            chunks.Add(new BlobChunk(r.Digest, offset, blob.Bytes.Length, blob.Bytes.AsSpan(offset, Math.Max(0, take)).ToArray()));
            room -= Math.Max(0, take) + 200;
            if (room <= 0) break;
        }
        return (chunks, missing);
    }

    /// <summary>Bytes of a key in JSON, at worst (every character escaped).</summary>
    private static int EstimatedSize(string key) => Encoding.UTF8.GetByteCount(key) * 6 + 2;

    private static int Base64Size(int length) => (length + 2) / 3 * 4 + 16;

    private static void Unref(ImmutableDictionary<string, Blob>.Builder blobs, string digest)
    {
        if (!blobs.TryGetValue(digest, out var b)) return;
        if (b.Refs <= 1) blobs.Remove(digest);
        else blobs[digest] = b with { Refs = b.Refs - 1 };
    }

    private sealed record Blob(byte[] Bytes, int Refs);
}
