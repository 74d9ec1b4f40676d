using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using SslCluster.Actors.Settings;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>
/// The cluster-wide TLS session cache between real actor systems joined over loopback remoting: sessions copied to
/// every node, a late joiner catching up, and one set of ticket keys on every node.
/// </summary>
public sealed class SessionReplicationTests : IAsyncLifetime
{
    private readonly MasterKey _master = MasterKey.CreateRandom();
    private readonly List<(ActorSystem System, TlsSessionCluster Sessions)> _nodes = [];

    [Fact]
    public async Task SessionCreatedOnOneNode_ResumableOnEveryNodeIncludingOneThatJoinsLater()
    {
        var a = await StartNodeAsync(seed: null);
        var b = await StartNodeAsync(seed: a.System);
        await WaitForMembersAsync(a.System, 2);

        a.Sessions.Store.Put(Id(1), "spl/1", Session(), TimeSpan.FromMinutes(5));

        await Until(() => b.Sessions.Store.TryGet(Id(1), "spl/1", out _), "node B holds node A's session");
        Assert.False(b.Sessions.Store.TryGet(Id(1), "spl/2", out _));

        var c = await StartNodeAsync(seed: a.System);
        await Until(() => c.Sessions.Store.TryGet(Id(1), "spl/1", out _), "node C, joined later, caught up");
        Assert.True(c.Sessions.Store.TryGet(Id(1), "spl/1", out var session));
        Assert.Equal(Session(), session);
    }

    [Fact]
    public async Task TicketKeys_SameCurrentKeyOnEveryNode_KeyIssuingOnOneIsHeldByAnother()
    {
        var a = await StartNodeAsync(seed: null);
        var b = await StartNodeAsync(seed: a.System);
        await WaitForMembersAsync(a.System, 2);

        await Until(() => a.Sessions.Tickets!.CanIssue && b.Sessions.Tickets!.CanIssue, "both nodes hold a current ticket key");
        var issuing = a.Sessions.Tickets!.CurrentKey!;

        Assert.True(Holds(b.Sessions.Tickets!, issuing));
    }

    [Fact]
    public async Task TicketKeyOwnerNodeLeaves_NewOwnerKeepsOldKeys_NodeJoiningAfterwardsOpensOldTickets()
    {
        var a = await StartNodeAsync(seed: null);
        var b = await StartNodeAsync(seed: a.System);
        await WaitForMembersAsync(a.System, 2);
        await Until(() => a.Sessions.Tickets!.CanIssue && b.Sessions.Tickets!.CanIssue, "both nodes hold a ticket key");
        var oldKey = a.Sessions.Tickets!.CurrentKey!;

        // Node A (the oldest: the owner) leaves; B takes the singleton over.
        await CoordinatedShutdown.Get(a.System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        await Until(() => Cluster.Get(b.System).State.Members.Count == 1, "node A gone from B's view");
        var c = await StartNodeAsync(seed: b.System);
        await WaitForMembersAsync(b.System, 2);

        await Until(() => c.Sessions.Tickets!.Keys.Count >= 2, "node C, joined after the move, holds the old key too");
        Assert.True(Holds(c.Sessions.Tickets!, oldKey));
    }

    [Fact]
    public async Task NodeWithOtherMasterKey_GetsNoUsableSessionOrKey()
    {
        var a = await StartNodeAsync(seed: null);
        using var otherMaster = MasterKey.CreateRandom();
        var stranger = await StartNodeAsync(seed: a.System, master: otherMaster);
        await WaitForMembersAsync(a.System, 2);
        await Until(() => a.Sessions.Tickets!.CanIssue, "node A holds a ticket key");

        a.Sessions.Store.Put(Id(2), "spl/1", Session(), TimeSpan.FromMinutes(5));

        await Until(() => stranger.Sessions.Store.Refused >= 1, "the stranger refused the replica");
        Assert.False(stranger.Sessions.Store.TryGet(Id(2), "spl/1", out _));
        Assert.False(Holds(stranger.Sessions.Tickets!, a.Sessions.Tickets!.CurrentKey!));
    }

    [Fact]
    public async Task RemotingWithoutTlsAndSharingNotAllowed_EachNodeKeepsItsOwnSessionsAndKeys()
    {
        var a = await StartNodeAsync(seed: null, share: false);
        var b = await StartNodeAsync(seed: a.System, share: false);
        await WaitForMembersAsync(a.System, 2);
        await Until(() => a.Sessions.Tickets!.CanIssue && b.Sessions.Tickets!.CanIssue, "each node has a ticket key of its own");

        a.Sessions.Store.Put(Id(3), "spl/1", Session(), TimeSpan.FromMinutes(5));
        await Task.Delay(1000);

        Assert.False(b.Sessions.Store.TryGet(Id(3), "spl/1", out _));
        Assert.Equal(0, b.Sessions.Store.Accepted);
        Assert.NotEqual(a.Sessions.Tickets!.CurrentKey, b.Sessions.Tickets!.CurrentKey);
        Assert.False(Holds(b.Sessions.Tickets!, a.Sessions.Tickets!.CurrentKey!));
    }

    /// <summary>
    /// Whether <paramref name="keys"/> holds <paramref name="key"/> with the same secret: then OpenSSL on that node derives
    /// the same ticket keys and opens every ticket sealed under it (the s_client resumptions across nodes are in
    /// ClusterSessionCacheTests).
    /// </summary>
    private static bool Holds(SessionTicketKeys keys, TicketKey key) =>
        keys.Keys.Any(k => k.Name.AsSpan().SequenceEqual(key.Name) && k.Secret.AsSpan().SequenceEqual(key.Secret));

    private async Task<(ActorSystem System, TlsSessionCluster Sessions)> StartNodeAsync(ActorSystem? seed, MasterKey? master = null, bool share = true)
    {
        var config = ConfigurationFactory.ParseString($"sslcluster.tls.share-sessions-without-remoting-tls = {(share ? "on" : "off")}\n" + """
            akka.remote.dot-netty.tcp.port = 0
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.loglevel = WARNING
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
            akka.cluster.downing-provider-class = ""
            """).WithFallback(SslClusterSettings.Reference);
        var system = ActorSystem.Create("sslcluster", config);
        var cluster = Cluster.Get(system);
        cluster.Join(seed is null ? cluster.SelfAddress : Cluster.Get(seed).SelfAddress);
        var sessions = new TlsSessionCluster(new ReplicatedTlsSessionStore(master ?? _master, TimeProvider.System),
            new SessionTicketKeys(TimeProvider.System), master ?? _master);
        SslClusterHost.StartSessionCache(system, SslClusterSettings.Create(config), sessions);
        _nodes.Add((system, sessions));
        await Task.CompletedTask;
        return (system, sessions);
    }

    private static Task WaitForMembersAsync(ActorSystem system, int count) =>
        Until(() => Cluster.Get(system).State.Members.Count(m => m.Status == MemberStatus.Up) >= count, $"{count} members up");

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting until " + what);
            await Task.Delay(50);
        }
    }

    private static byte[] Id(byte n) => [.. Enumerable.Repeat(n, 32)];

    private static byte[] Session() => [1, 3, 3, 0xC0, 0x2F, 1, 48, .. Enumerable.Repeat((byte)0x5A, 48)];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var (system, _) in _nodes) await system.Terminate();
        _master.Dispose();
    }
}
