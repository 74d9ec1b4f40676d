using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using Xunit;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.Tests;

/// <summary>Drives a node's replica against the store actor, as the follower does, recording every reply.</summary>
internal static class ReplicaSync
{
    public static async Task<ReplicaUpdate> RunAsync(IActorRef store, ConfigReplica replica, Action<object>? seen = null)
    {
        var request = replica.Begin();
        while (true)
        {
            switch (request)
            {
                case PageRequest p:
                    var changes = await store.Ask<Changes>(new GetChanges(p.Transfer, p.Since, p.Revision, p.From), TimeSpan.FromSeconds(10));
                    seen?.Invoke(changes);
                    request = replica.Accept(changes.Page);
                    break;
                case BlobsRequest b:
                    var contents = await store.Ask<Contents>(new GetContents(b.Transfer, b.Revision, b.Blobs), TimeSpan.FromSeconds(10));
                    seen?.Invoke(contents);
                    request = replica.Accept(contents.Chunks, contents.Missing);
                    break;
                case TransferComplete:
                    return replica.Complete();
            }
        }
    }
}

/// <summary>The store actor persists before it answers, recovers after a restart, and hands out revisions as changes.</summary>
public sealed class ConfigStoreActorTests : TestKit
{
    private static readonly Config InMemory = ConfigurationFactory.ParseString("""
        akka.actor.provider = local
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """).WithFallback(SslClusterSettings.Reference);

    public ConfigStoreActorTests() : base(InMemory)
    {
    }

    private IActorRef NewStore() => Sys.ActorOf(ConfigStoreActor.Props((_, _) => null, TimeProvider.System));

    [Fact]
    public async Task ApplyConfig_ThenRestart_RecoversTheSameRunningConfigAndFiles()
    {
        var store = NewStore();
        var stored = await store.Ask<FileStored>(new StoreFile(new StoredFile("k.key", StoredFileKind.RsaKey, [1, 2]), false));
        var applied = await store.Ask<ConfigApplied>(new ApplyConfig("ssl associate rsakey k k.key\nservice web\nip address 10.0.0.1\nactive", "test"));
        var before = await ReplicaSync.RunAsync(store, new ConfigReplica());
        Assert.Equal(1, stored.Revision);
        Assert.Equal(2, applied.Revision);

        Watch(store);
        Sys.Stop(store);
        ExpectTerminated(store);
        var again = NewStore();
        var after = await ReplicaSync.RunAsync(again, new ConfigReplica());

        Assert.Equal(2, after.Revision);
        Assert.Equal(before.Config, after.Config);
        Assert.Equal("10.0.0.1", after.Config.Services["web"].IpAddress);
        Assert.Equal(new byte[] { 1, 2 }, after.Files["k.key"].Content);
    }

    [Fact]
    public async Task StoreFile_PastTheSnapshotThreshold_RestartRecoversFromSnapshotAndLaterEvents()
    {
        var store = NewStore();
        for (var i = 0; i < 620; i++)
            await store.Ask<FileStored>(new StoreFile(new StoredFile($"f{i}", StoredFileKind.Certificate, [(byte)i, (byte)(i >> 8)]), false));
        await store.Ask<ConfigApplied>(new ApplyConfig("service web\nweight 4", "test"));
        var before = await ReplicaSync.RunAsync(store, new ConfigReplica());

        Watch(store);
        Sys.Stop(store);
        ExpectTerminated(store);
        var again = NewStore();
        var after = await ReplicaSync.RunAsync(again, new ConfigReplica());

        Assert.Equal(621, after.Revision);
        Assert.Equal(620, after.Files.Count);
        Assert.Equal(before.Config, after.Config);
        Assert.Equal(new byte[] { 107, 2 }, after.Files["f619"].Content);
    }

    [Fact]
    public async Task ApplyConfig_Rejected_LeavesRevisionUnchanged()
    {
        var store = NewStore();
        await store.Ask<ConfigApplied>(new ApplyConfig("service web\nweight 2", "test"));

        var rejected = await store.Ask<ConfigRejected>(new ApplyConfig("service web\nweight 2\nservce x", "test"));
        var current = await store.Ask<RevisionAvailable>(GetRevision.Instance);

        Assert.Contains(rejected.Diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Line == 3);
        Assert.Equal(1, current.Revision);
    }

    [Fact]
    public async Task Subscribe_IsToldTheRevisionNowAndAfterEveryChange_NeverTheContent()
    {
        var store = NewStore();
        var probe = CreateTestProbe();
        store.Tell(new Subscribe(probe.Ref));
        Assert.Equal(0, probe.ExpectMsg<RevisionAvailable>().Revision);

        await store.Ask<ConfigApplied>(new ApplyConfig("service web", "test"));

        Assert.Equal(1, probe.ExpectMsg<RevisionAvailable>().Revision);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task GetChanges_NodeOneRevisionBehind_GetsOnlyWhatChanged()
    {
        var store = NewStore();
        await store.Ask<ConfigApplied>(new ApplyConfig(string.Join("\n", Enumerable.Range(1, 200).Select(i => $"service s{i}\nweight 2")), "test"));
        var replica = new ConfigReplica();
        await ReplicaSync.RunAsync(store, replica);

        await store.Ask<ConfigApplied>(new ApplyConfig("service s5\nweight 9\nno service s6", "test"));
        var pages = new List<ChangesPage>();
        var update = await ReplicaSync.RunAsync(store, replica, m => { if (m is Changes c) pages.Add(c.Page); });

        var page = Assert.Single(pages);
        Assert.False(page.Reset);
        Assert.Equal(["service/s5"], page.Changed.Select(c => c.Key));
        Assert.Equal(["service/s6"], page.Removed);
        Assert.Equal(["service/s5"], update.ChangedKeys);
        Assert.Equal(9, replica.Config.Services["s5"].Weight);
        Assert.Equal(199, replica.Config.Services.Count);
    }

    [Fact]
    public async Task ApplyConfig_TextOfManyParts_IsAppliedWhole()
    {
        var store = NewStore();
        var text = string.Join("\n", Enumerable.Range(1, 3_000).Select(i => $"service svc-{i}\nip address 10.1.{i / 256}.{i % 256}\nport 80\nactive"));
        Assert.True(text.Length > 8 * MaxTextPerMessage);

        var reply = await ConfigStoreClient.ApplyAsync(store, text, "test", false, TimeSpan.FromSeconds(30));

        Assert.Equal(1, Assert.IsType<ConfigApplied>(reply).Revision);
        var update = await ReplicaSync.RunAsync(store, new ConfigReplica());
        Assert.Equal(3_000, update.Config.Services.Count);
    }

    [Fact]
    public async Task ApplyConfig_PartsOutOfOrder_AreRefusedAndNothingChanges()
    {
        var store = NewStore();
        var id = Guid.NewGuid();
        await store.Ask<ConfigTextPartReceived>(new ConfigTextPart(id, 0, "service a\n"));

        var refused = await store.Ask<ConfigRejected>(new ConfigTextPart(id, 2, "service b\n"));
        var late = await store.Ask<ConfigRejected>(new ApplyConfig("service c", "test", UploadId: id));

        Assert.Contains("part 2", refused.Diagnostics[0].Message, StringComparison.Ordinal);
        Assert.Contains("earlier parts are gone", late.Diagnostics[0].Message, StringComparison.Ordinal);
        Assert.Equal(0, (await store.Ask<RevisionAvailable>(GetRevision.Instance)).Revision);
    }

    [Fact]
    public async Task ApplyConfig_ThousandsOfErrors_RepliesWithABoundedList()
    {
        var store = NewStore();
        var text = string.Join("\n", Enumerable.Range(1, 1_000).Select(i => $"servce s{i}"));

        var rejected = await store.Ask<ConfigRejected>(new ApplyConfig(text, "test"));

        Assert.InRange(rejected.Diagnostics.Count, 50, 999);
        Assert.Contains("more diagnostic(s) not shown", rejected.Diagnostics[^1].Message, StringComparison.Ordinal);
        Assert.Equal(1_000, rejected.Diagnostics.Count - 1 + int.Parse(rejected.Diagnostics[^1].Message.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
    }
}
