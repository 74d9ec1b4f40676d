using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace SslCluster.Protocol.Distribution;

/// <summary>
/// The store files of a revision as the data plane reads them (name to encoded file), over the replica's map without
/// copying it: the same byte arrays, so per-file caches (decoded certificates, credentials) hit across revisions.
/// </summary>
public sealed class ReplicaFileContents(ImmutableSortedDictionary<string, ReplicaFile> files) : IReadOnlyDictionary<string, byte[]>
{
    public ImmutableSortedDictionary<string, ReplicaFile> Files { get; } = files ?? throw new ArgumentNullException(nameof(files));

    public byte[] this[string key] => Files[key].Content;

    public IEnumerable<string> Keys => Files.Keys;

    public IEnumerable<byte[]> Values => Files.Values.Select(f => f.Content);

    public int Count => Files.Count;

    public bool ContainsKey(string key) => Files.ContainsKey(key);

    /// <summary>The digest of a file, or null when the revision has no such file.</summary>
    public string? DigestOf(string name) => Files.TryGetValue(name, out var f) ? f.Digest : null;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out byte[] value)
    {
        if (Files.TryGetValue(key, out var f))
        {
            value = f.Content;
            return true;
        }
        value = null;
        return false;
    }

    public IEnumerator<KeyValuePair<string, byte[]>> GetEnumerator() =>
        Files.Select(f => new KeyValuePair<string, byte[]>(f.Key, f.Value.Content)).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
