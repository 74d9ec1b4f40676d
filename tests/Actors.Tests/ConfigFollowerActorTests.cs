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
        // These tests answer every content the follower asks for: nothing is held on disk (see the local-copy test).
        ConfigLocalCopy = false,
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

    [Fact]
    public void Follower_StartedAgainOnItsDataFolder_TakesContentsFromItsLocalCopy()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "follower-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = Settings with { DataDir = dataDir, ConfigLocalCopy = true };
            // 1,500 certificates and 100 services: more contents than a few pages carry.
            var manifest = StoreManifest.Empty.Commit(3,
                Enumerable.Range(0, 1_500).Select(i => (StoreManifest.FileKey($"cert{i}"), Encoding.UTF8.GetBytes($"certificate {i}\n" + new string('x', 1_500)), (StoredFileKind?)StoredFileKind.Certificate))
                    .Concat(Enumerable.Range(0, 100).Select(i => ($"service/s{i}", Encoding.UTF8.GetBytes($"service s{i}\n\n"), (StoredFileKind?)null))), []);

            // First start: everything comes from the store, and is kept in <data-dir>/replica.
            var (store, runtime, follower) = Start(settings);
            var (contents, pages) = Serve(store, manifest);
            Assert.Equal(1_600, contents);
            Assert.True(pages.Count > 1);
            Assert.Equal(1_500, runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>().Update.Files.Count);
            Assert.Equal(1_600, Directory.GetFiles(Path.Combine(dataDir, "replica")).Count(f => Path.GetFileName(f) != "index"));
            // Stopped: the index of its copy is written as it stops.
            Watch(follower);
            Sys.Stop(follower);
            ExpectTerminated(follower);
            Assert.True(File.Exists(Path.Combine(dataDir, "replica", "index")));

            // Started again on the same folder: it asks only what changed after the revision it held (nothing), and no
            // content: one page.
            (store, runtime, _) = Start(settings);
            (contents, pages) = Serve(store, manifest);
            Assert.Equal(0, contents);
            Assert.Equal([3L], pages);
            var update = runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>().Update;
            Assert.Equal(3, update.Revision);
            Assert.Equal(1_500, update.Files.Count);
            Assert.Equal(100, update.Config.Services.Count);
        }
        finally
        {
            if (Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public void Follower_StartedAgainOnACopyOfAnotherStore_RefusesItAndFetchesEverything()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "follower-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = Settings with { DataDir = dataDir, ConfigLocalCopy = true };
            StoreManifest Store(string prefix) => StoreManifest.Empty.Commit(3,
                Enumerable.Range(0, 300).Select(i => ($"service/{prefix}{i}", Encoding.UTF8.GetBytes($"service {prefix}{i}\n\n"), (StoredFileKind?)null)), []);
            var (store, runtime, follower) = Start(settings);
            Serve(store, Store("a"));
            runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>();
            Watch(follower);
            Sys.Stop(follower);
            ExpectTerminated(follower);

            // The journal was started again: another store, at the same revision number.
            var other = Store("b");
            (store, runtime, _) = Start(settings, other.Fingerprint);
            var (_, pages) = Serve(store, other);

            // Asked since 3 (its copy), which gives nothing to lay on it and not the store's fingerprint: then everything.
            Assert.Equal([3L, -1L], pages.Distinct());
            var update = runtime.ExpectMsg<NodeRuntimeActor.ApplyRevision>().Update;
            runtime.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
            Assert.Equal(300, update.Config.Services.Count);
            Assert.All(update.Config.Services.Keys, name => Assert.StartsWith("b", name, StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(dataDir)) Directory.Delete(dataDir, recursive: true);
        }
    }

    private (Akka.TestKit.TestProbe Store, Akka.TestKit.TestProbe Runtime, IActorRef Follower) Start(SslClusterSettings settings, ulong fingerprint = 0)
    {
        var store = CreateTestProbe();
        var runtime = CreateTestProbe();
        var follower = Sys.ActorOf(ConfigFollowerActor.Props(store.Ref, runtime.Ref, settings, TimeProvider.System));
        store.ExpectMsg<Subscribe>();
        store.IgnoreMessages(m => m is Subscribe);
        follower.Tell(new RevisionAvailable(3, fingerprint), store.Ref);
        return (store, runtime, follower);
    }

    /// <summary>
    /// Answers a whole transfer of <paramref name="manifest"/> until the follower asks nothing more for a second: the
    /// number of contents it asked for, and the revision each page asked for was since.
    /// </summary>
    private static (int Contents, List<long> PagesSince) Serve(Akka.TestKit.TestProbe store, StoreManifest manifest)
    {
        var asked = new HashSet<string>(StringComparer.Ordinal);
        var pages = new List<long>();
        var changes = new Dictionary<long, ChangeSet>();
        while (store.ReceiveOne(TimeSpan.FromSeconds(1)) is { } q)
        {
            switch (q)
            {
                case GetChanges c:
                    pages.Add(c.Since);
                    var set = changes.TryGetValue(c.Since, out var held) ? held : changes[c.Since] = manifest.ChangesSince(c.Since);
                    store.Reply(new Changes(c.Transfer, manifest.Page(set, c.From)));
                    break;
                case GetContents g:
                    asked.UnionWith(g.Requests.Select(r => r.Digest));
                    var (chunks, missing) = manifest.Read(g.Requests);
                    store.Reply(new Contents(g.Transfer, chunks, missing));
                    break;
                default:
                    throw new InvalidOperationException($"unexpected {q.GetType().Name}");
            }
        }

        return (asked.Count, pages);
    }
}
