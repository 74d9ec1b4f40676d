using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using Xunit;

namespace SslCluster.Protocol.Tests.Distribution;

/// <summary>A node keeps its copy's contents on disk by digest, so that a start fetches only what it does not hold.</summary>
public sealed class ReplicaContentCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "replica-cache-" + Guid.NewGuid().ToString("N"));
    private readonly List<string> _warnings = [];

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private ReplicaContentCache Cache() => new(_dir, _warnings.Add);

    private static (string, byte[], StoredFileKind?) Section(string key, string text) => (key, Encoding.UTF8.GetBytes(text), null);

    private static (string, byte[], StoredFileKind?) UniqueFile(string name, int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return (StoreManifest.FileKey(name), bytes, StoredFileKind.Certificate);
    }

    /// <summary>A store of <paramref name="files"/> distinct 2 KiB files and 200 sections, as a chassis of ssl-servers has.</summary>
    private static StoreManifest Store(int files) =>
        StoreManifest.Empty.Commit(1, Enumerable.Range(0, files).Select(i => UniqueFile($"cert{i}", 2_048, i))
            .Concat(Enumerable.Range(0, 200).Select(i => Section($"service/s{i}", $"service s{i}\n  weight {1 + i % 9}\n\n"))), []);

    /// <summary>Runs a transfer in memory: the update, and every digest asked of the store.</summary>
    private static (ReplicaUpdate Update, List<string> Fetched, int Pages) Transfer(ConfigReplica replica, StoreManifest m)
    {
        var request = replica.Begin();
        var fetched = new List<string>();
        var pages = 0;
        ChangeSet? changes = null;
        while (true)
        {
            switch (request)
            {
                case PageRequest p:
                    pages++;
                    changes ??= m.ChangesSince(p.Since);
                    request = replica.Accept(m.Page(changes, p.From));
                    break;
                case BlobsRequest b:
                    fetched.AddRange(b.Blobs.Select(x => x.Digest));
                    var (chunks, missing) = m.Read(b.Blobs);
                    request = replica.Accept(chunks, missing);
                    break;
                case TransferComplete:
                    return (replica.Complete(), fetched, pages);
            }
        }
    }

    [Fact]
    public void Transfer_NodeStartedAgainWithItsLocalCopy_FetchesNoContent()
    {
        var store = Store(3_000);
        var (_, firstFetched, _) = Transfer(new ConfigReplica(Cache()), store);
        Assert.Equal(3_200, firstFetched.Distinct().Count());

        // The node starts again: a new copy in memory, the same folder.
        var cache = Cache();
        Assert.Equal(3_200, cache.Count);
        var replica = new ConfigReplica(cache);
        var (update, fetched, pages) = Transfer(replica, store);

        Assert.Empty(fetched);
        Assert.Equal(3_200, replica.ContentsFromDisk);
        Assert.Equal(1, update.Revision);
        Assert.Equal(3_000, replica.Files.Count);
        Assert.Equal(200, replica.Config.Services.Count);
        Assert.Equal(store.Fingerprint, replica.Fingerprint);
        Assert.True(pages > 1, $"{pages} page(s): the keys and digests still come from the store");
        Assert.Empty(_warnings);
    }

    [Fact]
    public void Transfer_DamagedOrMissingLocalFiles_AreFetchedAgainAndWrittenBack()
    {
        var store = Store(500);
        Transfer(new ConfigReplica(Cache()), store);
        var files = Directory.GetFiles(_dir).OrderBy(f => f, StringComparer.Ordinal).ToList();
        var damaged = files[10];
        File.WriteAllBytes(damaged, Encoding.ASCII.GetBytes("not what the digest says"));
        File.Delete(files[20]);

        var replica = new ConfigReplica(Cache());
        var (_, fetched, _) = Transfer(replica, store);

        Assert.Equal([Path.GetFileName(damaged), Path.GetFileName(files[20])], fetched.Order(StringComparer.Ordinal));
        Assert.Equal(Path.GetFileName(damaged), ConfigSections.Digest(File.ReadAllBytes(damaged)));
        Assert.True(File.Exists(files[20]));
        Assert.Contains(_warnings, w => w.Contains("damaged", StringComparison.Ordinal));
        Assert.Equal(store.Fingerprint, replica.Fingerprint);
    }

    [Fact]
    public void Complete_ContentsNoLongerNamed_AreRemovedFromDisk()
    {
        var store = Store(100);
        var replica = new ConfigReplica(Cache());
        Transfer(replica, store);
        var gone = replica.Files["cert7"].Digest;
        Assert.True(File.Exists(Path.Combine(_dir, gone)));

        var replaced = replica.Files["cert8"].Digest;
        var next = store.Commit(2, [UniqueFile("cert8", 2_048, 10_008), UniqueFile("cert100", 2_048, 10_100)], [StoreManifest.FileKey("cert7")]);
        Transfer(replica, next);

        Assert.False(File.Exists(Path.Combine(_dir, gone)));
        Assert.False(File.Exists(Path.Combine(_dir, replaced)));
        Assert.True(File.Exists(Path.Combine(_dir, replica.Files["cert8"].Digest)));
        Assert.True(File.Exists(Path.Combine(_dir, replica.Files["cert100"].Digest)));
        Assert.Equal(300, Directory.GetFiles(_dir).Length);
    }

    [Fact]
    public void Open_FolderWithLeftovers_RemovesInterruptedWritesAndReadsNothingElse()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, new string('a', 64) + ".tmp"), "half");
        File.WriteAllText(Path.Combine(_dir, "notes.txt"), "not a content");
        File.WriteAllText(Path.Combine(_dir, new string('A', 64)), "upper case is not a digest name");

        var cache = Cache();

        Assert.Equal(0, cache.Count);
        Assert.False(File.Exists(Path.Combine(_dir, new string('a', 64) + ".tmp")));
        Assert.True(File.Exists(Path.Combine(_dir, "notes.txt")));
        Assert.Null(cache.TryRead(new string('A', 64)));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Write_NewContent_OnlyTheNodeUserMayReadIt()
    {
        var cache = Cache();
        var content = Encoding.UTF8.GetBytes("-----BEGIN ENCRYPTED PRIVATE KEY-----\n");
        var digest = ConfigSections.Digest(content);

        cache.Write(digest, content);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, digest)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        Assert.Equal(content, cache.TryRead(digest));
    }

    [Fact]
    public void Transfer_FolderThatCannotBeCreated_FetchesEverythingAndSaysWhy()
    {
        // A file where the folder should be.
        File.WriteAllText(_dir, "in the way");
        try
        {
            var cache = Cache();
            var replica = new ConfigReplica(cache);
            var (update, fetched, _) = Transfer(replica, Store(50));

            Assert.True(cache.Disabled);
            Assert.Equal(250, fetched.Distinct().Count());
            Assert.Equal(1, update.Revision);
            Assert.Single(_warnings);
            Assert.Contains("cannot be used", _warnings[0], StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(_dir);
        }
    }
}
