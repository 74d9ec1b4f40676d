using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using Xunit;

namespace SslCluster.Protocol.Tests.Distribution;

/// <summary>Revisions become pages of changes and chunks of contents, every one of them bounded.</summary>
public sealed class StoreManifestTests
{
    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static (string, byte[], StoredFileKind?) Section(string key, string text) => (key, Bytes(text), null);

    private static (string, byte[], StoredFileKind?) File(string name, int size, byte fill) =>
        (StoreManifest.FileKey(name), Enumerable.Repeat(fill, size).ToArray(), StoredFileKind.Certificate);

    [Fact]
    public void ChangesSince_NodeOneRevisionBehind_ListsChangedAndRemovedKeysOnly()
    {
        var m = StoreManifest.Empty
            .Commit(1, [Section("service/a", "service a\n"), Section("service/b", "service b\n"), File("c", 10, 1)], [])
            .Commit(2, [Section("service/a", "service a\n  weight 2\n")], ["service/b"]);

        var changes = m.ChangesSince(1);

        Assert.False(changes.Reset);
        Assert.Equal(["service/a", "service/b"], changes.Keys.ToArray());
        var page = m.Page(changes, 0);
        Assert.Equal("service/a", Assert.Single(page.Changed).Key);
        Assert.Equal(["service/b"], page.Removed);
        Assert.NotNull(page.Changed[0].Content);
        Assert.Null(page.Next);
    }

    [Fact]
    public void Commit_SameContentAgain_IsNotAChange()
    {
        var m = StoreManifest.Empty.Commit(1, [File("c", 10, 1)], []).Commit(2, [File("c", 10, 1)], []);

        Assert.Empty(m.ChangesSince(1).Keys);
        Assert.Equal(1, m.Entries["file/c"].ChangedAt);
    }

    [Fact]
    public void ChangesSince_NewNodeOrOlderThanTheRemovalsRemembered_IsAResetOfEveryEntry()
    {
        var m = StoreManifest.Empty.Commit(1, [Section("service/a", "service a\n")], []).Commit(2, [Section("service/b", "service b\n")], []);

        var fresh = m.ChangesSince(0);
        var ahead = m.ChangesSince(9);

        Assert.True(fresh.Reset);
        Assert.Equal(["service/a", "service/b"], fresh.Keys.ToArray());
        Assert.True(ahead.Reset);
        Assert.All(m.Page(fresh, 0).Changed, c => Assert.Null(c.Content));
    }

    [Fact]
    public void Commit_MoreRemovalsThanRemembered_ForgetsTheOldestAndResetsNodesBehindThem()
    {
        var m = StoreManifest.Empty;
        var revision = 0L;
        for (var batch = 0; batch < 3; batch++)
        {
            var keys = Enumerable.Range(0, StoreManifest.MaxRemovedKeys / 2 + 10).Select(i => $"service/b{batch}-{i}").ToList();
            m = m.Commit(++revision, keys.Select(k => Section(k, "x")), []);
            m = m.Commit(++revision, [], keys);
        }

        Assert.True(m.Removed.Count <= StoreManifest.MaxRemovedKeys);
        Assert.True(m.CompleteSince > 0);
        Assert.True(m.ChangesSince(1).Reset);
        Assert.False(m.ChangesSince(revision - 1).Reset);
    }

    [Fact]
    public void Page_ThousandsOfChanges_SplitsIntoPagesUnderTheBudgetThatCoverEveryKey()
    {
        var m = StoreManifest.Empty.Commit(1, Enumerable.Range(0, 5_000).Select(i => File($"f{i:D5}", 2_500, (byte)i)), []);
        var changes = m.ChangesSince(0);
        var seen = new List<string>();
        int? from = 0;
        var pages = 0;

        while (from is { } f)
        {
            var page = m.Page(changes, f);
            pages++;
            seen.AddRange(page.Changed.Select(c => c.Key));
            Assert.True(page.Changed.Sum(c => c.Key.Length * 6 + 160) < StoreManifest.PageBudgetBytes);
            from = page.Next;
        }

        Assert.Equal(changes.Keys.ToArray(), seen);
        Assert.True(pages > 10, $"{pages} pages");
    }

    [Fact]
    public void Read_ContentLongerThanTheBudget_ComesInChunksThatReassemble()
    {
        var big = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7)).ToArray();
        var m = StoreManifest.Empty.Commit(1, [("file/big", big, StoredFileKind.Certificate)], []);
        var digest = m.Entries["file/big"].Digest;
        var got = new List<byte>();

        while (got.Count < big.Length)
        {
            var (chunks, missing) = m.Read([new BlobRequest(digest, got.Count)]);
            Assert.Empty(missing);
            var chunk = Assert.Single(chunks);
            Assert.True(chunk.Bytes.Length * 4 / 3 < StoreManifest.PageBudgetBytes);
            Assert.Equal(got.Count, chunk.Offset);
            got.AddRange(chunk.Bytes);
        }

        Assert.Equal(big, got.ToArray());
    }

    [Fact]
    public void Read_UnknownDigest_IsListedMissing()
    {
        var (chunks, missing) = StoreManifest.Empty.Read([new BlobRequest("00ff", 0)]);

        Assert.Empty(chunks);
        Assert.Equal(["00ff"], missing);
    }

    [Fact]
    public void Commit_ContentSharedByTwoEntries_IsHeldOnceAndKeptWhileOneUsesIt()
    {
        var m = StoreManifest.Empty.Commit(1, [File("a", 10, 1), File("b", 10, 1)], []);
        Assert.Equal(1, m.BlobCount);

        m = m.Commit(2, [], ["file/a"]);

        Assert.NotNull(m.Content(m.Entries["file/b"].Digest));
        m = m.Commit(3, [], ["file/b"]);
        Assert.Equal(0, m.BlobCount);
    }
}
