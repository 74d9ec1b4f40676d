using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Runtime;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

internal sealed class FixedHealth(params string[] down) : IServiceHealth
{
    public ServiceHealthState StateOf(string service) => down.Contains(service) ? ServiceHealthState.Down : ServiceHealthState.Alive;
}

public sealed class TargetBalancerTests
{
    private static readonly ServerTarget A = new("a", "10.0.0.1", 80, 3);
    private static readonly ServerTarget B = new("b", "10.0.0.2", 80, 1);
    private static readonly ServerTarget Z = new("z", "10.0.0.3", 80, 0);

    private static List<string> Picks(TargetBalancer balancer, int count) =>
        Enumerable.Range(0, count).Select(_ => balancer.Next()?.Name ?? "-").ToList();

    [Fact]
    public void Next_RoundRobin_IgnoresWeightsAndSkipsWeightZero()
    {
        var balancer = new TargetBalancer([A, B, Z], BalanceMethod.RoundRobin, AlwaysAlive.Instance, new ServiceGauges());

        var picks = Picks(balancer, 8);

        Assert.Equal(4, picks.Count(p => p == "a"));
        Assert.Equal(4, picks.Count(p => p == "b"));
        Assert.DoesNotContain("z", picks);
        Assert.Equal(3, balancer.Count);
    }

    [Fact]
    public void Next_WeightedRoundRobin_HonoursWeights()
    {
        var balancer = new TargetBalancer([A, B, Z], BalanceMethod.WeightedRoundRobin, AlwaysAlive.Instance, new ServiceGauges());

        var picks = Picks(balancer, 8);

        Assert.Equal(6, picks.Count(p => p == "a"));
        Assert.Equal(2, picks.Count(p => p == "b"));
    }

    [Fact]
    public void Next_KeepaliveDown_IsSkipped()
    {
        var balancer = new TargetBalancer([A, B], BalanceMethod.RoundRobin, new FixedHealth("a"), new ServiceGauges());

        Assert.All(Picks(balancer, 5), p => Assert.Equal("b", p));
    }

    [Fact]
    public void Next_AllDownOrWeightZero_Null()
    {
        Assert.Null(new TargetBalancer([A, B], BalanceMethod.RoundRobin, new FixedHealth("a", "b"), new ServiceGauges()).Next());
        Assert.Null(new TargetBalancer([Z], BalanceMethod.LeastConnections, AlwaysAlive.Instance, new ServiceGauges()).Next());
        Assert.Null(new TargetBalancer([], BalanceMethod.WeightedRoundRobin, AlwaysAlive.Instance, new ServiceGauges()).Next());
    }

    [Theory]
    [InlineData(BalanceMethod.RoundRobin)]
    [InlineData(BalanceMethod.WeightedRoundRobin)]
    [InlineData(BalanceMethod.LeastConnections)]
    public void Next_ExcludeList_GivesAnotherTargetThenNull(BalanceMethod method)
    {
        var balancer = new TargetBalancer([A, B], method, AlwaysAlive.Instance, new ServiceGauges());

        Assert.Equal(B, balancer.Next([A]));
        Assert.Equal(A, balancer.Next([B]));
        Assert.Null(balancer.Next([A, B]));
    }

    [Fact]
    public void Next_LeastConnections_DividesOpenConnectionsByWeight()
    {
        var gauges = new ServiceGauges();
        var balancer = new TargetBalancer([A, B, Z], BalanceMethod.LeastConnections, AlwaysAlive.Instance, gauges);
        for (int i = 0; i < 5; i++) gauges.Opened("a");
        gauges.Opened("b");
        gauges.Opened("b");

        // a: 5/3 < b: 2/1
        Assert.Equal("a", balancer.Next()!.Name);
        gauges.Opened("a");
        gauges.Opened("a");
        // a: 7/3 > b: 2/1
        Assert.Equal("b", balancer.Next()!.Name);
        gauges.Closed("b");
        gauges.Closed("b");
        Assert.Equal("b", balancer.Next()!.Name);
    }

    [Fact]
    public void Next_LeastConnectionsDownTargetWithFewest_Skipped()
    {
        var gauges = new ServiceGauges();
        gauges.Opened("a");
        var balancer = new TargetBalancer([A, B], BalanceMethod.LeastConnections, new FixedHealth("b"), gauges);

        Assert.Equal("a", balancer.Next()!.Name);
    }
}

public sealed class ServiceGaugesTests
{
    [Fact]
    public void OpenedClosed_CountsCurrentAndTotalPerService()
    {
        var gauges = new ServiceGauges();
        gauges.Opened("s1");
        gauges.Opened("s1");
        gauges.Opened("s2");
        gauges.Closed("s1");
        gauges.Closed("unknown");

        Assert.Equal(1, gauges.Current("s1"));
        Assert.Equal(0, gauges.Current("unknown"));
        var snapshot = gauges.Snapshot();
        Assert.Equal(new ServiceConnections(2, 1), snapshot["s1"]);
        Assert.Equal(new ServiceConnections(1, 1), snapshot["s2"]);
        Assert.False(snapshot.ContainsKey("unknown"));
    }

    [Fact]
    public void OpenedClosed_ConcurrentThreads_EndAtZero()
    {
        var gauges = new ServiceGauges();
        Parallel.For(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 2 }, _ =>
        {
            gauges.Opened("s");
            gauges.Closed("s");
        });

        Assert.Equal(new ServiceConnections(1000, 0), gauges.Snapshot()["s"]);
    }
}

public sealed class FlowRegistryTests
{
    [Fact]
    public void For_SameKey_SameCountersAndRowsAreSeparatedByModule()
    {
        var flows = new FlowRegistry();
        var row = flows.For("ssl2", "10.10.20.111", 85);
        Assert.Same(row, flows.For("ssl2", "10.10.20.111", 85));
        row.Accept();
        row.HandshakeCompleted(resumed: false);
        flows.For("ssl2", "172.18.87.100", 443).Accept();
        flows.For("ssl3", "172.18.87.100", 443);

        var rows = flows.RowsOf("ssl2").OrderBy(r => r.Port).ToList();

        Assert.Equal(2, rows.Count);
        Assert.Equal(new FlowRow("10.10.20.111", 85, 1, 1, 0, 1, 1, 0, 0, 0, 0), rows[0]);
        Assert.Equal(new FlowRow("172.18.87.100", 443, 1, 0, 1, 1, 0, 0, 0, 0, 0), rows[1]);
        Assert.Equal([new FlowRow("172.18.87.100", 443, 0, 0, 0)], flows.RowsOf("ssl3"));
        Assert.Empty(flows.RowsOf("nobody"));
    }

    [Fact]
    public void Plus_TwoNodes_AddsEveryCounter()
    {
        var a = new FlowRow("v", 1, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        var b = new FlowRow("v", 1, 10, 20, 30, 40, 50, 60, 70, 80, 90);

        Assert.Equal(new FlowRow("v", 1, 11, 22, 33, 44, 55, 66, 77, 88, 99), a.Plus(b));
    }
}

public sealed class BackendSessionsTests
{
    private static byte[] Session(byte id) => [0x30, 0x03, 0x02, 0x01, id];

    [Fact]
    public void Get_BeforeExpiry_TheStoredSession()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new OpenSslBackendSessions(time);
        var session = Session(1);

        cache.Put("k", session, TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(9));

        Assert.Same(session, cache.Get("k"));
        Assert.Null(cache.Get("other"));
    }

    [Fact]
    public void Get_AtOrAfterExpiry_Null()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cache = new OpenSslBackendSessions(time);
        cache.Put("k", Session(1), TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Null(cache.Get("k"));
    }

    [Fact]
    public void Put_ZeroOrNegativeTtl_StoresNothingAndZeroesTheSession()
    {
        var cache = new OpenSslBackendSessions(TimeProvider.System);
        var session = Session(7);
        cache.Put("k", session, TimeSpan.Zero);
        cache.Put("j", Session(2), TimeSpan.FromSeconds(-1));

        Assert.Equal(0, cache.Count);
        Assert.Null(cache.Get("k"));
        Assert.All(session, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Put_SameKey_ReplacesTheOlderSession()
    {
        var cache = new OpenSslBackendSessions(TimeProvider.System);
        var newer = Session(2);
        cache.Put("k", Session(1), TimeSpan.FromMinutes(1));
        cache.Put("k", newer, TimeSpan.FromMinutes(1));

        Assert.Equal(1, cache.Count);
        Assert.Same(newer, cache.Get("k"));
    }

    [Fact]
    public void Put_OverCapacity_LeastRecentlyUsedGoesFirst()
    {
        var cache = new OpenSslBackendSessions(TimeProvider.System, capacity: 2);
        cache.Put("a", Session(1), TimeSpan.FromMinutes(1));
        cache.Put("b", Session(2), TimeSpan.FromMinutes(1));
        Assert.NotNull(cache.Get("a"));

        cache.Put("c", Session(3), TimeSpan.FromMinutes(1));

        Assert.Equal(2, cache.Count);
        Assert.NotNull(cache.Get("a"));
        Assert.Null(cache.Get("b"));
        Assert.NotNull(cache.Get("c"));
    }
}

public sealed class StickyTableTests
{
    [Fact]
    public void Get_WithinIdle_ReturnsModuleAndRefreshes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var table = new StickyTable(time, TimeSpan.FromMinutes(30));
        table.Set("10.0.0.1", "ssl2");

        time.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal("ssl2", table.Get("10.0.0.1"));
        time.Advance(TimeSpan.FromMinutes(20)); // 40 min since Set, 20 since the last use
        Assert.Equal("ssl2", table.Get("10.0.0.1"));
        Assert.Null(table.Get("10.0.0.2"));
    }

    [Fact]
    public void Get_IdleTooLong_Null()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var table = new StickyTable(time, TimeSpan.FromMinutes(30));
        table.Set("k", "ssl3");

        time.Advance(TimeSpan.FromMinutes(31));

        Assert.Null(table.Get("k"));
    }

    [Fact]
    public void Set_OverCapacity_BoundedLeastRecentlyUsedFirst()
    {
        var table = new StickyTable(TimeProvider.System, TimeSpan.FromMinutes(30), capacity: 100);
        for (int i = 0; i < 1000; i++) table.Set("id" + i, "ssl2");

        Assert.Equal(100, table.Count);
        Assert.Null(table.Get("id0"));
        Assert.Equal("ssl2", table.Get("id999"));
    }

    [Fact]
    public void Set_SameKey_LastModuleWins()
    {
        var table = new StickyTable(TimeProvider.System, TimeSpan.FromMinutes(30));
        table.Set("k", "ssl2");
        table.Set("k", "ssl3");

        Assert.Equal("ssl3", table.Get("k"));
        Assert.Equal(1, table.Count);
    }

    /// <summary>The crafted TLS 1.2 ClientHello with a 32-byte session ID spliced in.</summary>
    internal static byte[] HelloWithSessionId(byte[] sessionId)
    {
        var plain = CraftedClientHello.Tls12([0xc02f, 0xc02b]);
        const int SessionIdLengthAt = 5 + 4 + 2 + 32;
        Assert.Equal(0, plain[SessionIdLengthAt]);
        var hello = new List<byte>(plain.AsSpan(0, SessionIdLengthAt).ToArray()) { (byte)sessionId.Length };
        hello.AddRange(sessionId);
        hello.AddRange(plain.AsSpan(SessionIdLengthAt + 1).ToArray());
        var bytes = hello.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(3), (ushort)(bytes.Length - 5));
        int body = bytes.Length - 9;
        bytes[6] = (byte)(body >> 16);
        bytes[7] = (byte)(body >> 8);
        bytes[8] = (byte)body;
        return bytes;
    }

    [Fact]
    public async Task PeekSessionIdAsync_HelloWithSessionId_HexIdAndBytesStayQueued()
    {
        var id = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var hello = HelloWithSessionId(id);
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (test)
        using (relay)
        {
            await test.SendAsync(hello, SocketFlags.None);

            var peeked = await StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromSeconds(5));

            Assert.Equal(Convert.ToHexString(id), peeked);
            // Nothing was consumed: the TLS handshake still reads the whole ClientHello.
            var buffer = new byte[hello.Length];
            int got = 0;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (got < hello.Length) got += await relay.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cts.Token);
            Assert.Equal(hello, buffer);
        }
    }

    [Fact]
    public async Task PeekSessionIdAsync_HelloArrivingInTwoPieces_StillFound()
    {
        var id = Enumerable.Repeat((byte)0xab, 32).ToArray();
        var hello = HelloWithSessionId(id);
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (test)
        using (relay)
        {
            await test.SendAsync(hello.AsMemory(0, 20), SocketFlags.None);
            var peek = StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromSeconds(5));
            await Task.Delay(50);
            await test.SendAsync(hello.AsMemory(20), SocketFlags.None);

            Assert.Equal(Convert.ToHexString(id), await peek.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task PeekSessionIdAsync_HelloWithoutSessionId_Null()
    {
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (test)
        using (relay)
        {
            await test.SendAsync(CraftedClientHello.Tls12([0xc02f]), SocketFlags.None);

            Assert.Null(await StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromSeconds(5)));
            Assert.True(relay.Available > 0);
        }
    }

    [Fact]
    public async Task PeekSessionIdAsync_Garbage_NullAtOnce()
    {
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (test)
        using (relay)
        {
            await test.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var watch = System.Diagnostics.Stopwatch.StartNew();

            Assert.Null(await StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromSeconds(5)));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4));
        }
    }

    [Fact]
    public async Task PeekSessionIdAsync_NothingArrives_NullAfterTheTimeout()
    {
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (test)
        using (relay)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();

            Assert.Null(await StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromMilliseconds(200)).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task PeekSessionIdAsync_HalfAHelloThenSilence_NullAfterTheTimeout()
    {
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (test)
        using (relay)
        {
            await test.SendAsync(HelloWithSessionId(new byte[32]).AsMemory(0, 30), SocketFlags.None);

            Assert.Null(await StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromMilliseconds(300)).WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task PeekSessionIdAsync_ClientClosesWithoutData_Null()
    {
        var (test, relay) = await Tls.BackendTlsTestKit.PairAsync();
        using (relay)
        {
            test.Shutdown(SocketShutdown.Send);
            test.Dispose();

            Assert.Null(await StickyTable.PeekSessionIdAsync(relay, TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }
}
