using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Tls;

public sealed class LocalTlsSessionStoreTests
{
    private static readonly byte[] Id = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    [Fact]
    public void TryGet_SameIdAndBindingKey_ReturnsCopy()
    {
        var store = new LocalTlsSessionStore(new ManualTime());
        store.Put(Id, "k", [1, 2, 3], TimeSpan.FromMinutes(1));

        Assert.True(store.TryGet(Id, "k", out byte[] first));
        first[0] = 99;
        Assert.True(store.TryGet(Id, "k", out byte[] second));
        Assert.Equal([1, 2, 3], second);
    }

    [Fact]
    public void TryGet_OtherBindingKey_ReturnsFalse()
    {
        var store = new LocalTlsSessionStore(new ManualTime());
        store.Put(Id, "ctx/list/100", [1], TimeSpan.FromMinutes(1));

        Assert.False(store.TryGet(Id, "ctx/list/200", out _));
    }

    [Fact]
    public void TryGet_AfterTtl_ReturnsFalseAndZeroesSecret()
    {
        var time = new ManualTime();
        var store = new LocalTlsSessionStore(time);
        byte[] secret = [7, 7, 7];
        store.Put(Id, "k", secret, TimeSpan.FromSeconds(30));

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.True(store.TryGet(Id, "k", out _));
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(store.TryGet(Id, "k", out _));
        Assert.Equal(new byte[3], secret);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Put_BeyondCapacity_EvictsOldest()
    {
        var store = new LocalTlsSessionStore(new ManualTime(), capacity: 2);
        byte[] a = [1], b = [2], c = [3];
        store.Put([1], "k", a, TimeSpan.FromMinutes(1));
        store.Put([2], "k", b, TimeSpan.FromMinutes(1));
        store.Put([3], "k", c, TimeSpan.FromMinutes(1));

        Assert.Equal(2, store.Count);
        Assert.False(store.TryGet([1], "k", out _));
        Assert.True(store.TryGet([3], "k", out _));
        Assert.Equal([0], a);
    }

    [Fact]
    public void RemoveExpired_MixedEntries_RemovesOnlyExpired()
    {
        var time = new ManualTime();
        var store = new LocalTlsSessionStore(time);
        store.Put([1], "k", [1], TimeSpan.FromSeconds(10));
        store.Put([2], "k", [2], TimeSpan.FromSeconds(60));
        time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(1, store.RemoveExpired());
        Assert.True(store.TryGet([2], "k", out _));
    }

    [Fact]
    public void PutAndTryGet_ManyThreads_StayConsistentAndBounded()
    {
        var store = new LocalTlsSessionStore(TimeProvider.System, capacity: 500);
        Parallel.For(0, 4000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            byte[] id = BitConverter.GetBytes(i);
            store.Put(id, "k", [(byte)i], TimeSpan.FromMinutes(1));
            if (store.TryGet(id, "k", out byte[] value))
            {
                Assert.Equal((byte)i, value[0]);
            }
        });

        Assert.Equal(500, store.Count);
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
