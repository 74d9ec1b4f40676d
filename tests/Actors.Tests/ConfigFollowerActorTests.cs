using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.ConfigStore;
using SslCluster.Actors.Dispatch;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Distribution;
using Xunit;
using static SslCluster.Actors.ConfigStore.ConfigStoreProtocol;

namespace SslCluster.Actors.Tests;

/// <summary>A node's follower fetches each announced revision, says when it is behind, and heals when the store answers.</summary>
public sealed class ConfigFollowerActorTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(SslClusterSettings.Reference))
{
    private SslClusterSettings Settings => SslClusterSettings.Create(Sys.Settings.Config) with
    {
        ConfigTransferTimeout = TimeSpan.FromSeconds(1),
        ConfigMaxLag = TimeSpan.FromSeconds(1),
        ConfigRevisionPoll = TimeSpan.FromSeconds(30),
    };

    private static StoreManifest Manifest(long revision, params string[] services) =>
        StoreManifest.Empty.Commit(revision, services.Select(s => ($"service/{s}", Encoding.UTF8.GetBytes($"service {s}\n\n"), (StoredFileKind?)null)), []);

    /// <summary>Answers the contents a reset asks for (a new node holds none).</summary>
    private static void AnswerContents(Akka.TestKit.TestProbe store, StoreManifest manifest)
    {
        var q = store.ExpectMsg<GetContents>();
        var (chunks, missing) = manifest.Read(q.Requests);
        store.Reply(new Contents(q.Transfer, chunks, missing));
    }

    [Fact]
    public async Task Follower_StoreSilentThenAnswering_IsBehindThenHeals()
    {
        var store = CreateTestProbe();
        var runtime = CreateTestProbe();
        var follower = Sys.ActorOf(ConfigFollowerActor.Props(store.Ref, runtime.Ref, Settings, TimeProvider.System));
        store.ExpectMsg<Subscribe>();
        store.Reply(new RevisionAvailable(3));
        store.IgnoreMessages(m => m is Subscribe);
        var first = store.ExpectMsg<GetChanges>();
        Assert.Equal(-1, first.Since);

        // The store does not answer: after the lag limit the node says it is behind, by how much and for how long.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var copy = await follower.Ask<ConfigFollowerActor.CurrentCopy>(ConfigFollowerActor.GetCopy.Instance);
        var revision = await follower.Ask<NodeRevision>(GetNodeRevision.Instance);
        Assert.Equal(-1, copy.Revision);
        Assert.Equal(3, copy.StoreRevision);
        Assert.NotNull(copy.BehindSince);
        Assert.True(revision.BehindMilliseconds >= 1_000, $"{revision.BehindMilliseconds} ms");

        // It asks again by itself; this time the store answers and the revision reaches the runtime.
        var again = store.ExpectMsg<GetChanges>(TimeSpan.FromSeconds(5));
        var manifest = Manifest(3, "web");
        store.Reply(new Changes(again.Transfer, manifest.Page(manifest.ChangesSince(again.Since), again.From)));
        AnswerContents(store, manifest);
        var applied = runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>();
        Assert.Equal(3, applied.Update.Revision);
        Assert.True(applied.Update.Config.Services.ContainsKey("web"));
        var healed = await follower.Ask<ConfigFollowerActor.CurrentCopy>(ConfigFollowerActor.GetCopy.Instance);
        Assert.Null(healed.BehindSince);
        Assert.Equal(3, healed.Revision);
    }

    [Fact]
    public async Task Follower_NextRevision_AsksOnlyForWhatChangedSinceItsOwn()
    {
        var store = CreateTestProbe();
        var runtime = CreateTestProbe();
        var follower = Sys.ActorOf(ConfigFollowerActor.Props(store.Ref, runtime.Ref, Settings, TimeProvider.System));
        store.ExpectMsg<Subscribe>();
        store.IgnoreMessages(m => m is Subscribe);
        var one = Manifest(1, "a", "b");
        follower.Tell(new RevisionAvailable(1), store.Ref);
        var q = store.ExpectMsg<GetChanges>();
        store.Reply(new Changes(q.Transfer, one.Page(one.ChangesSince(q.Since), q.From)));
        AnswerContents(store, one);
        runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>();

        var two = one.Commit(2, [("service/c", Encoding.UTF8.GetBytes("service c\n\n"), null)], ["service/a"]);
        follower.Tell(new RevisionAvailable(2), store.Ref);
        q = store.ExpectMsg<GetChanges>();
        Assert.Equal(1, q.Since);
        store.Reply(new Changes(q.Transfer, two.Page(two.ChangesSince(q.Since), q.From)));

        var update = runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>().Update;
        Assert.Equal(["service/c"], update.ChangedKeys);
        Assert.Equal(["service/a"], update.RemovedKeys);
        Assert.Equal(["b", "c"], update.Config.Services.Keys);
        var waited = await follower.Ask<ConfigFollowerActor.CurrentCopy>(new ConfigFollowerActor.WaitForRevision(2, TimeSpan.FromSeconds(1)));
        Assert.Equal(2, waited.Revision);
    }
}
