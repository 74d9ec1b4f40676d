using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class ReplicatedTlsSessionStoreTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly MasterKey _master = MasterKey.CreateRandom();
    private static readonly byte[] Id = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public void Put_WithReplicator_ReplicaAcceptedOnOtherNodeResumes()
    {
        var a = new ReplicatedTlsSessionStore(_master, _time);
        var b = new ReplicatedTlsSessionStore(_master, _time);
        var sent = new List<SessionReplica>();
        a.Replicate = sent.Add;

        a.Put((byte[])Id.Clone(), "list/1", Secret(), TimeSpan.FromMinutes(5));

        var replica = Assert.Single(sent);
        Assert.DoesNotContain(Convert.ToHexString(Secret()), Convert.ToHexString(replica.Sealed), StringComparison.Ordinal);
        Assert.True(b.Accept(replica));
        Assert.True(b.TryGet(Id, "list/1", out var session));
        Assert.Equal(Secret(), session);
        Assert.False(b.TryGet(Id, "list/2", out _));
        Assert.Equal(1, a.Created);
        Assert.Equal(1, b.Accepted);
    }

    [Fact]
    public void Accept_KeepsTheCreatorsExpiry()
    {
        var a = new ReplicatedTlsSessionStore(_master, _time);
        var b = new ReplicatedTlsSessionStore(_master, _time);
        SessionReplica? replica = null;
        a.Replicate = r => replica = r;
        a.Put((byte[])Id.Clone(), "list/1", Secret(), TimeSpan.FromMinutes(5));

        _time.Advance(TimeSpan.FromMinutes(3));
        Assert.True(b.Accept(replica!));
        _time.Advance(TimeSpan.FromMinutes(2));

        Assert.False(b.TryGet(Id, "list/1", out _));
    }

    [Fact]
    public void Accept_ExpiredForeignOrAlteredReplica_RefusedAndCounted()
    {
        var a = new ReplicatedTlsSessionStore(_master, _time);
        using var otherMaster = MasterKey.CreateRandom();
        var foreign = new ReplicatedTlsSessionStore(otherMaster, _time);
        SessionReplica? replica = null;
        a.Replicate = r => replica = r;
        a.Put((byte[])Id.Clone(), "list/1", Secret(), TimeSpan.FromMinutes(5));
        var b = new ReplicatedTlsSessionStore(_master, _time);

        Assert.False(foreign.Accept(replica!));
        Assert.False(b.Accept(replica! with { BindingKey = "list/2" }));
        Assert.False(b.Accept(replica! with { ExpiresAt = replica!.ExpiresAt.AddHours(1) }));
        Assert.False(b.Accept(replica! with { Id = [.. Id[..31], 0] }));
        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.False(b.Accept(replica!));
        Assert.Equal(4, b.Refused);
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public void Export_NewestBoundedOldestFirstAndAcceptedByJoiningNode()
    {
        var a = new ReplicatedTlsSessionStore(_master, _time);
        for (byte i = 1; i <= 5; i++)
        {
            a.Put([i], "list/1", Secret(), TimeSpan.FromMinutes(5));
        }
        var joining = new ReplicatedTlsSessionStore(_master, _time);

        var replicas = a.Export(3);

        Assert.Equal([3, 4, 5], replicas.Select(r => (int)r.Id[0]));
        Assert.All(replicas, r => Assert.True(joining.Accept(r)));
        Assert.True(joining.TryGet([4], "list/1", out _));
        Assert.False(joining.TryGet([1], "list/1", out _));
    }

    [Fact]
    public void Export_JoinerAtCapacity_EvictsTheOldestNotTheNewest()
    {
        var a = new ReplicatedTlsSessionStore(_master, _time, capacity: 5);
        for (byte i = 1; i <= 5; i++)
        {
            a.Put([i], "list/1", Secret(), TimeSpan.FromMinutes(5));
        }
        var joining = new ReplicatedTlsSessionStore(_master, _time, capacity: 5);
        foreach (var r in a.Export(5)) joining.Accept(r);

        joining.Put([6], "list/1", Secret(), TimeSpan.FromMinutes(5));

        Assert.False(joining.TryGet([1], "list/1", out _));
        Assert.All(new byte[] { 2, 3, 4, 5, 6 }, i => Assert.True(joining.TryGet([i], "list/1", out _), $"session {i}"));
    }

    [Fact]
    public void Put_ZeroTimeout_NotStoredNotReplicated()
    {
        var a = new ReplicatedTlsSessionStore(_master, _time);
        var sent = new List<SessionReplica>();
        a.Replicate = sent.Add;

        a.Put((byte[])Id.Clone(), "list/1", Secret(), TimeSpan.Zero);

        Assert.Empty(sent);
        Assert.False(a.TryGet(Id, "list/1", out _));
    }

    private static byte[] Secret() => [1, 3, 3, 0xC0, 0x2F, 1, 48, .. Enumerable.Repeat((byte)0xAB, 48)];

    public void Dispose() => _master.Dispose();
}
