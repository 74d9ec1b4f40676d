using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using Xunit;

namespace SslCluster.Protocol.Tests.Distribution;

/// <summary>A node's copy takes revisions in as transfers and rebuilds only what changed.</summary>
public sealed class ConfigReplicaTests
{
    private static (string, byte[], StoredFileKind?) Section(string key, string text) => (key, Encoding.UTF8.GetBytes(text), null);

    private static (string, byte[], StoredFileKind?) File(string name, int size, byte fill) =>
        (StoreManifest.FileKey(name), Enumerable.Repeat(fill, size).ToArray(), StoredFileKind.Certificate);

    /// <summary>Runs a transfer against <paramref name="m"/> in memory, with a hook to tamper with the answers.</summary>
    private static (ReplicaUpdate Update, int Requests) Transfer(ConfigReplica replica, StoreManifest m, Func<BlobChunk, BlobChunk>? tamper = null)
    {
        var request = replica.Begin();
        var count = 0;
        var cache = new Dictionary<long, ChangeSet>();
        while (true)
        {
            count++;
            switch (request)
            {
                case PageRequest p:
                    var changes = cache.TryGetValue(p.Since, out var c) ? c : cache[p.Since] = m.ChangesSince(p.Since);
                    request = replica.Accept(m.Page(changes, p.From));
                    break;
                case BlobsRequest b:
                    var (chunks, missing) = m.Read(b.Blobs);
                    request = replica.Accept(tamper is null ? chunks : chunks.Select(tamper).ToList(), missing);
                    break;
                case TransferComplete:
                    return (replica.Complete(), count);
            }
        }
    }

    /// <summary>A file whose content differs from every other one (the store keeps equal contents once).</summary>
    private static (string, byte[], StoredFileKind?) UniqueFile(string name, int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return (StoreManifest.FileKey(name), bytes, StoredFileKind.Certificate);
    }

    [Fact]
    public void Transfer_NewNode_GetsEverySectionAndFile()
    {
        var m = StoreManifest.Empty.Commit(1, [Section("service/web", "service web\n  weight 3\n\n"), File("cert", 3_000, 7)], []);
        var replica = new ConfigReplica();

        var (update, _) = Transfer(replica, m);

        Assert.Equal(1, update.Revision);
        Assert.Equal(3, replica.Config.Services["web"].Weight);
        Assert.Equal(3_000, replica.Files["cert"].Content.Length);
        Assert.Equal(StoredFileKind.Certificate, replica.Files["cert"].Kind);
    }

    [Fact]
    public void Transfer_SmallChange_KeepsUnchangedFilesAsTheSameArrays()
    {
        var m = StoreManifest.Empty.Commit(1, Enumerable.Range(0, 50).Select(i => File($"f{i}", 1_000, (byte)i)), []);
        var replica = new ConfigReplica();
        Transfer(replica, m);
        var before = replica.Files["f3"].Content;

        var (update, requests) = Transfer(replica, m.Commit(2, [File("f7", 1_000, 99)], []));

        Assert.Same(before, replica.Files["f3"].Content);
        Assert.Equal(["file/f7"], update.ChangedKeys);
        Assert.Equal(99, replica.Files["f7"].Content[0]);
        Assert.Equal(2, requests);
    }

    [Fact]
    public void Transfer_ResetAfterBeingFarBehind_FetchesOnlyContentsNotHeldAndDropsWhatIsGone()
    {
        var m1 = StoreManifest.Empty.Commit(1, [File("keep", 40_000, 1), File("gone", 40_000, 2)], []);
        var replica = new ConfigReplica();
        Transfer(replica, m1);
        var keep = replica.Files["keep"].Content;
        var m2 = StoreManifest.Restore(5, 5, [(StoreManifest.FileKey("keep"), keep, StoredFileKind.Certificate, 1), (StoreManifest.FileKey("new"), new byte[100], StoredFileKind.Certificate, 5)], []);

        var (update, requests) = Transfer(replica, m2);

        Assert.Equal(["file/gone"], update.RemovedKeys);
        Assert.Equal(["file/new"], update.ChangedKeys);
        Assert.Same(keep, replica.Files["keep"].Content);
        Assert.Equal(3, requests);
    }

    [Fact]
    public void Transfer_ContentThatDoesNotMatchItsDigest_IsRefusedAndTheRevisionStays()
    {
        var replica = new ConfigReplica();
        Transfer(replica, StoreManifest.Empty.Commit(1, [File("a", 10, 1)], []));
        var m = StoreManifest.Empty.Commit(1, [File("a", 10, 1)], []).Commit(2, [File("b", 50_000, 3)], []);

        Assert.Throws<InvalidDataException>(() => Transfer(replica, m, c => c with { Bytes = [.. c.Bytes.Select(b => (byte)(b ^ 1))] }));

        Assert.Equal(1, replica.Revision);
        Assert.False(replica.Files.ContainsKey("b"));
    }

    [Fact]
    public void Transfer_SectionThatDoesNotParse_LeavesTheReplicaOnItsRevision()
    {
        var replica = new ConfigReplica();
        Transfer(replica, StoreManifest.Empty.Commit(1, [Section("service/web", "service web\n\n")], []));

        Assert.ThrowsAny<FormatException>(() => Transfer(replica, StoreManifest.Empty.Commit(1, [Section("service/web", "service web\n\n")], [])
            .Commit(2, [Section("service/web", "service web\n  frobnicate\n")], [])));

        Assert.Equal(1, replica.Revision);
        Assert.True(replica.Config.Services.ContainsKey("web"));
    }

    [Fact]
    public void Accept_LatePageOfAnAbandonedTransfer_RefusedSoNoPageIsSkipped()
    {
        var m = StoreManifest.Empty.Commit(1, Enumerable.Range(0, 2_000).Select(i => UniqueFile($"f{i:D4}", 2_000, i)), []);
        var replica = new ConfigReplica();
        var changes = m.ChangesSince(-1);
        var first = (PageRequest)replica.Begin();
        var second = (PageRequest)replica.Accept(m.Page(changes, first.From));
        var lastPageOfTheOldChain = m.Page(changes, changes.Keys.Length - 1);

        replica.Abandon();
        replica.Begin();

        Assert.Throws<InvalidDataException>(() => replica.Accept(lastPageOfTheOldChain));
        Assert.True(second.From > 0);
    }

    [Fact]
    public void Fingerprint_AfterTransfers_EqualsTheStoresFingerprint()
    {
        var m1 = StoreManifest.Empty.Commit(1, [Section("service/a", "service a\n\n"), File("x", 10, 1)], []);
        var m2 = m1.Commit(2, [Section("service/b", "service b\n\n"), File("x", 10, 2)], ["service/a"]);
        var replica = new ConfigReplica();

        Transfer(replica, m1);
        Assert.Equal(m1.Fingerprint, replica.Fingerprint);
        Transfer(replica, m2);

        Assert.Equal(m2.Fingerprint, replica.Fingerprint);
        Assert.NotEqual(m1.Fingerprint, m2.Fingerprint);
    }

    [Fact]
    public void Transfer_ThousandsOfEntries_ArrivesWhole()
    {
        var m = StoreManifest.Empty.Commit(1, Enumerable.Range(0, 4_000).Select(i => UniqueFile($"f{i:D4}", 2_600, i))
            .Concat(Enumerable.Range(0, 1_000).Select(i => Section($"service/s{i}", $"service s{i}\n  weight {i % 9 + 1}\n\n"))), []);
        var replica = new ConfigReplica();

        var (update, requests) = Transfer(replica, m);

        Assert.Equal(4_000, replica.Files.Count);
        Assert.Equal(1_000, replica.Config.Services.Count);
        Assert.Equal(5_000, update.ChangedKeys.Count);
        Assert.True(requests > 100, $"{requests} requests");
    }
}
