using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using Xunit;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.Tests;

/// <summary>The store actor persists before it answers, and recovers the same configuration after a restart.</summary>
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
        var before = await store.Ask<CurrentRunningConfig>(GetRunningConfig.Instance);
        Assert.Equal(1, stored.Revision);
        Assert.Equal(2, applied.Revision);

        Watch(store);
        Sys.Stop(store);
        ExpectTerminated(store);
        var again = NewStore();
        var after = await again.Ask<CurrentRunningConfig>(GetRunningConfig.Instance);
        var file = await again.Ask<CurrentFile>(new GetFile("k.key"));

        Assert.Equal(before, after);
        Assert.Contains("service web", after.Text, StringComparison.Ordinal);
        Assert.Equal(new StoredFile("k.key", StoredFileKind.RsaKey, [1, 2]), file.File);
    }

    [Fact]
    public async Task ApplyConfig_Rejected_LeavesRevisionAndTextUnchanged()
    {
        var store = NewStore();
        await store.Ask<ConfigApplied>(new ApplyConfig("service web\nweight 2", "test"));

        var rejected = await store.Ask<ConfigRejected>(new ApplyConfig("service web\nweight 2\nservce x", "test"));
        var current = await store.Ask<CurrentRunningConfig>(GetRunningConfig.Instance);

        Assert.Contains(rejected.Diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Line == 3);
        Assert.Equal(1, current.Revision);
    }

    [Fact]
    public async Task Subscribe_GetsCurrentRevisionAndEveryLaterOne()
    {
        var store = NewStore();
        var probe = CreateTestProbe();
        store.Tell(new Subscribe(probe.Ref));
        Assert.Equal(0, probe.ExpectMsg<ConfigPublished>().Revision);

        await store.Ask<ConfigApplied>(new ApplyConfig("service web", "test"));

        var published = probe.ExpectMsg<ConfigPublished>();
        Assert.Equal(1, published.Revision);
        Assert.Contains("service web", published.RunningConfigText, StringComparison.Ordinal);
    }
}
