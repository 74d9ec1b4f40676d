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
    private static (ReplicaUpdate Update, List<string> Fetched, int Pages) Transfer(ConfigReplica replica, StoreManifest m) =>
        Transfer(replica, m, replica.Begin());

    private static (ReplicaUpdate Update, List<string> Fetched, int Pages) Transfer(ConfigReplica replica, StoreManifest m, ReplicaRequest request)
    {
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
        // Removed once an index that does not name them is on disk.
        Assert.True(File.Exists(Path.Combine(_dir, gone)));
        replica.SaveIndex();

        Assert.False(File.Exists(Path.Combine(_dir, gone)));
        Assert.False(File.Exists(Path.Combine(_dir, replaced)));
        Assert.True(File.Exists(Path.Combine(_dir, replica.Files["cert8"].Digest)));
        Assert.True(File.Exists(Path.Combine(_dir, replica.Files["cert100"].Digest)));
        Assert.Equal(300, Directory.GetFiles(_dir).Count(f => Path.GetFileName(f) != "index"));
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

    /// <summary>A node's first life: it takes <paramref name="store"/> in and writes its index (as it does every few seconds and when it stops).</summary>
    private void Saved(StoreManifest store)
    {
        var replica = new ConfigReplica(Cache());
        Transfer(replica, store);
        replica.SaveIndex();
    }

    [Fact]
    public void Restore_NodeStartedAgainAtTheStoresRevision_OnePageNoContentAndNothingReadableBefore()
    {
        var store = Store(3_000);
        Saved(store);

        var replica = new ConfigReplica(Cache());
        Assert.Equal(3_200, replica.Restore());

        // Read back but not confirmed: nothing of it is readable (or in force) until the store has answered.
        Assert.Equal(-1, replica.Revision);
        Assert.Equal(1, replica.RestoredRevision);
        Assert.Empty(replica.Files);
        Assert.Empty(replica.Config.Services);
        var (update, fetched, pages) = Transfer(replica, store);

        Assert.Equal(1, pages);
        Assert.Empty(fetched);
        Assert.Equal(1, update.Revision);
        Assert.Empty(update.ChangedKeys);
        Assert.Equal(3_000, update.Files.Count);
        Assert.Equal(200, update.Config.Services.Count);
        Assert.Equal(store.Fingerprint, replica.Fingerprint);
        Assert.Null(replica.RestoredRevision);
        Assert.Empty(_warnings);
    }

    [Fact]
    public void Restore_StoreMovedOnWhileTheNodeWasDown_OnlyTheChangesSinceAreAsked()
    {
        var store = Store(2_000);
        Saved(store);
        var next = store.Commit(2, [UniqueFile("cert5", 2_048, 20_005), UniqueFile("cert2000", 40_000, 22_000), Section("service/s3", "service s3\n  weight 7\n\n")],
            [StoreManifest.FileKey("cert9")]);

        var replica = new ConfigReplica(Cache());
        Assert.Equal(2_200, replica.Restore());
        var (update, fetched, pages) = Transfer(replica, next);

        Assert.Equal(1, pages);
        // The small changes travel inline with the page; the large file is the one content asked for.
        Assert.Equal([next.Entries[StoreManifest.FileKey("cert2000")].Digest], fetched);
        Assert.Equal(2, update.Revision);
        Assert.Equal(3, update.ChangedKeys.Count);
        Assert.Equal([StoreManifest.FileKey("cert9")], update.RemovedKeys);
        Assert.False(update.Files.ContainsKey("cert9"));
        Assert.Equal(2_000, update.Files.Count);
        Assert.Equal(next.Fingerprint, replica.Fingerprint);
    }

    [Fact]
    public void Restore_CopyOfAnotherStore_ChangesAreRefusedAndEverythingIsFetchedAgain()
    {
        // This node's folder holds revision 2 of store A; the cluster's journal is store B, at revision 3.
        var a = Store(300).Commit(2, [Section("service/a", "service a\n\n")], []);
        Saved(a);
        var b = StoreManifest.Empty.Commit(1, [Section("service/b1", "service b1\n\n")], [])
            .Commit(2, [UniqueFile("b-cert", 2_048, 99)], [])
            .Commit(3, [Section("service/b3", "service b3\n\n")], []);

        var replica = new ConfigReplica(Cache());
        Assert.Equal(501, replica.Restore());
        var error = Assert.Throws<InvalidDataException>(() => Transfer(replica, b));

        Assert.Contains("do not give the store's revision 3", error.Message, StringComparison.Ordinal);
        Assert.Equal(-1, replica.Revision);
        Assert.Empty(replica.Files);
        Assert.Null(replica.RestoredRevision);
        replica.Abandon();
        // The copy read back is forgotten: starting again (after a timeout, say) fetches everything, not since 2.
        var again = Assert.IsType<PageRequest>(replica.Begin());
        Assert.Equal(-1, again.Since);
        replica.Abandon();
        var (update, _, _) = Transfer(replica, b, replica.BeginReset());
        Assert.Equal(3, update.Revision);
        Assert.Equal(["b-cert"], update.Files.Keys);
        Assert.Equal(["b1", "b3"], update.Config.Services.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(b.Fingerprint, replica.Fingerprint);
    }

    [Fact]
    public void Restore_DamagedIndexOrAMissingContent_NothingRestoredAndTheTransferFetchesWhatIsMissing()
    {
        var store = Store(200);
        Saved(store);
        var index = Path.Combine(_dir, "index");
        var saved = File.ReadAllBytes(index);
        File.WriteAllText(index, "{\"Format\":1,\"Revision\":");

        Assert.Equal(0, new ConfigReplica(Cache()).Restore());
        Assert.Contains(_warnings, w => w.Contains("index of the local copy", StringComparison.Ordinal));

        File.WriteAllBytes(index, saved);
        var gone = store.Entries[StoreManifest.FileKey("cert3")].Digest;
        File.Delete(Path.Combine(_dir, gone));
        var replica = new ConfigReplica(Cache());
        Assert.Equal(0, replica.Restore());
        var (update, fetched, pages) = Transfer(replica, store);

        Assert.Equal([gone], fetched);
        Assert.True(pages > 1);
        Assert.Equal(store.Fingerprint, replica.Fingerprint);
        Assert.Equal(200, update.Files.Count);
    }

    [Fact]
    public void Restore_StoreOfAnOlderVersionWithoutFingerprints_CopyNotTakenOnTrustEverythingFetched()
    {
        var store = Store(100);
        Saved(store);
        var replica = new ConfigReplica(Cache());
        Assert.Equal(300, replica.Restore());

        // An older store's pages carry no fingerprint: the copy read back cannot be checked, so it is not used.
        var request = Assert.IsType<PageRequest>(replica.Begin());
        var page = store.Page(store.ChangesSince(request.Since), request.From) with { Fingerprint = 0 };
        Assert.IsType<TransferComplete>(replica.Accept(page));
        Assert.Throws<InvalidDataException>(replica.Complete);
        replica.Abandon();

        var (update, fetched, _) = Transfer(replica, store);
        Assert.Empty(fetched);
        Assert.Equal(100, update.Files.Count);
        Assert.Equal(store.Fingerprint, replica.Fingerprint);
    }

    [Fact]
    public void Restore_IndexNamingAWrongLengthOrKind_NothingRestored()
    {
        var store = Store(50);
        Saved(store);
        var index = Path.Combine(_dir, "index");
        var text = File.ReadAllText(index);
        var firstLength = System.Text.RegularExpressions.Regex.Match(text, "\"Length\":(\\d+)");
        File.WriteAllText(index, text.Remove(firstLength.Groups[1].Index, firstLength.Groups[1].Length).Insert(firstLength.Groups[1].Index, "7"));

        Assert.Equal(0, new ConfigReplica(Cache()).Restore());
    }
}
