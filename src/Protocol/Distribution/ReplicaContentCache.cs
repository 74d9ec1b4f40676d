using System.Text.Json;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Distribution;

/// <summary>
/// The contents of a node's configuration copy kept on disk by digest (<c>&lt;data-dir&gt;/replica/&lt;digest&gt;</c>), and
/// the index of the revision last taken in (<c>index</c>), so that a node started again asks the store only for what
/// changed after that revision and the contents it does not hold already, not every certificate and key of the store.
/// A content is named by its digest and checked against it when read: a damaged or foreign file is dropped and fetched
/// again, never used. The files hold what the store holds
/// (private keys only as the store keeps them, encrypted), with the node user's access only (directory 0700, files 0600).
/// Nothing here throws: a cache that cannot be read or written costs a full transfer, never the configuration, and its
/// failures go to <c>warn</c> (the first of each kind). Not thread-safe: the configuration follower owns it.
/// </summary>
public sealed class ReplicaContentCache
{
    private const int DigestLength = 64;
    private const string TempSuffix = ".tmp";
    private const string IndexName = "index";
    private static readonly JsonSerializerOptions IndexJson = new() { WriteIndented = false };

    private readonly string _directory;
    private readonly Action<string> _warn;
    private readonly HashSet<string> _onDisk = new(StringComparer.Ordinal);
    private bool _writeFailed;
    private bool _readFailed;

    /// <summary>Opens (and creates) the folder and lists the contents it holds; leftovers of an interrupted write are removed.</summary>
    public ReplicaContentCache(string directory, Action<string> warn)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(warn);
        _directory = directory;
        _warn = warn;
        try
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
            else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (var path in Directory.EnumerateFiles(directory))
            {
                var name = Path.GetFileName(path);
                if (IsDigest(name)) _onDisk.Add(name);
                else if (name.EndsWith(TempSuffix, StringComparison.Ordinal)) File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Disabled = true;
            warn($"the local copy of the configuration's contents in {directory} cannot be used ({e.Message}): every start fetches them all from the store");
        }
    }

    /// <summary>The folder could not be opened: nothing is read or written.</summary>
    public bool Disabled { get; }

    /// <summary>Contents held on disk.</summary>
    public int Count => _onDisk.Count;

    /// <summary>Contents read from disk (found and matching their digest) since the start, for the log and tests.</summary>
    public int Hits { get; private set; }

    /// <summary>The content of <paramref name="digest"/> when the folder holds it intact; null otherwise.</summary>
    public byte[]? TryRead(string digest)
    {
        if (Disabled || !_onDisk.Contains(digest)) return null;
        var path = Path.Combine(_directory, digest);
        try
        {
            var content = File.ReadAllBytes(path);
            if (ConfigSections.Digest(content) == digest)
            {
                Hits++;
                return content;
            }

            _warn($"the local copy of content {digest[..12]}... in {_directory} is damaged: dropped, and fetched from the store");
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!_readFailed) _warn($"the local copy of the configuration's contents in {_directory} cannot be read ({e.Message}): fetching from the store");
            _readFailed = true;
        }

        _onDisk.Remove(digest);
        return null;
    }

    /// <summary>Keeps <paramref name="content"/> under <paramref name="digest"/> (already checked by the caller) unless held.</summary>
    public void Write(string digest, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (Disabled || _onDisk.Contains(digest) || !IsDigest(digest)) return;
        if (WriteAside(digest, content)) _onDisk.Add(digest);
    }

    /// <summary>
    /// Keeps the index of the copy (its revision, fingerprint and every entry's key and digest) beside the contents, so
    /// that a node started again asks the store only for what changed after that revision.
    /// </summary>
    /// <returns>True when the index is on disk (flushed to it); false when the folder is disabled or the write failed.</returns>
    public bool WriteIndex(ReplicaIndex index)
    {
        ArgumentNullException.ThrowIfNull(index);
        return !Disabled && WriteAside(IndexName, JsonSerializer.SerializeToUtf8Bytes(index, IndexJson), flush: true);
    }

    /// <summary>The index written last; null when there is none or it cannot be read (then everything is fetched).</summary>
    public ReplicaIndex? ReadIndex()
    {
        if (Disabled) return null;
        var path = Path.Combine(_directory, IndexName);
        try
        {
            if (!File.Exists(path)) return null;
            var index = JsonSerializer.Deserialize<ReplicaIndex>(File.ReadAllBytes(path), IndexJson);
            if (index is { Format: ReplicaIndex.CurrentFormat, Entries: not null } && index.Entries.All(e => e is { Key: not null } && IsDigest(e.Digest ?? string.Empty))) return index;
            _warn($"the index of the local copy in {path} is of another format or damaged: ignored, everything is fetched from the store");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            _warn($"the index of the local copy in {path} cannot be read ({e.Message}): ignored, everything is fetched from the store");
        }

        return null;
    }

    /// <summary>Writes <paramref name="content"/> as <paramref name="name"/> in the folder: aside, then renamed, so a file is whole or absent.</summary>
    private bool WriteAside(string name, byte[] content, bool flush = false)
    {
        var path = Path.Combine(_directory, name);
        var temp = path + TempSuffix;
        try
        {
            // A crash leaves a .tmp, removed at start.
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var file = new FileStream(temp, options))
            {
                file.Write(content);
                // The index is renamed over the last one: on disk first, so that a power cut leaves one whole index.
                if (flush) file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!_writeFailed) _warn($"the local copy of the configuration's contents in {_directory} cannot be written ({e.Message}): the next start fetches what is missing from the store");
            _writeFailed = true;
            try
            {
                File.Delete(temp);
            }
            catch (Exception d) when (d is IOException or UnauthorizedAccessException)
            {
                // Removed at the next start.
            }

            return false;
        }
    }

    /// <summary>Removes the contents no entry of the copy names any more (<paramref name="used"/> holds the digests still named).</summary>
    public void Keep(IReadOnlySet<string> used)
    {
        ArgumentNullException.ThrowIfNull(used);
        if (Disabled) return;
        foreach (var digest in _onDisk.Where(d => !used.Contains(d)).ToList())
        {
            try
            {
                File.Delete(Path.Combine(_directory, digest));
                _onDisk.Remove(digest);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!_writeFailed) _warn($"the local copy of the configuration's contents in {_directory} cannot be pruned ({e.Message})");
                _writeFailed = true;
                return;
            }
        }
    }

    /// <summary>A file name that is a digest: 64 lower-case hexadecimal digits (nothing else in the folder is read).</summary>
    private static bool IsDigest(string name) =>
        name.Length == DigestLength && name.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}

/// <summary>
/// What a node's local copy held when it last took in a revision: the revision, its fingerprint and every entry (key,
/// digest, length, kind; contents are the folder's digest-named files).
/// </summary>
public sealed record ReplicaIndex(int Format, long Revision, ulong Fingerprint, IReadOnlyList<ChangedEntry> Entries)
{
    /// <summary>The format this build writes and reads; an index of another is ignored.</summary>
    public const int CurrentFormat = 1;
}
