using System.Net;
using Microsoft.Extensions.Time.Testing;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>Admission: the node's connection limit, a module's max-conns, handshake rates in total and per client address.</summary>
public sealed class NodeLimitsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private static readonly IPAddress A = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress B = IPAddress.Parse("192.0.2.2");

    [Fact]
    public void TryAdmit_NodeFull_RefusedUntilOneEnds()
    {
        var limits = new NodeLimits(new LimitSettings { MaxConnections = 2 }, _time);

        Assert.Equal(LimitRefusal.None, limits.TryAdmit("m", 0, tls: true, A));
        Assert.Equal(LimitRefusal.None, limits.TryAdmit(null, 0, tls: false, A));
        Assert.Equal(LimitRefusal.NodeConnections, limits.TryAdmit("m", 0, tls: true, A));
        limits.Ended("m");

        Assert.Equal(LimitRefusal.None, limits.TryAdmit("m", 0, tls: true, A));
        Assert.Equal(2, limits.Open);
        Assert.Equal(1, limits.Refused(LimitRefusal.NodeConnections));
    }

    [Fact]
    public void TryAdmit_ModuleAtItsMaxConns_RefusedWhileOtherModulesAreAdmitted()
    {
        var limits = new NodeLimits(new LimitSettings(), _time);

        Assert.Equal(LimitRefusal.None, limits.TryAdmit("m", 1, tls: false, A));
        Assert.Equal(LimitRefusal.ModuleConnections, limits.TryAdmit("m", 1, tls: false, A));
        Assert.Equal(LimitRefusal.None, limits.TryAdmit("n", 1, tls: false, A));

        Assert.Equal(1, limits.OpenOf("m"));
        Assert.Equal(2, limits.Open);
    }

    [Theory]
    [InlineData(10, 3, new[] { 4, 3, 3 })]
    [InlineData(2, 3, new[] { 1, 1, 0 })]
    [InlineData(65536, 1, new[] { 65536 })]
    public void ShareOf_ClusterLimit_DividedAmongTheServingNodesAddingUpExactly(int max, int members, int[] shares)
    {
        var limits = new NodeLimits(new LimitSettings(), _time);

        var got = Enumerable.Range(0, members).Select(rank =>
        {
            limits.SetMembership(rank, members);
            return limits.ShareOf(max);
        }).ToArray();

        Assert.Equal(shares, got);
        Assert.Equal(max, got.Sum());
        limits.SetMembership(members, members);
        Assert.Equal(max / members, limits.ShareOf(max));
    }

    [Fact]
    public void TryAdmit_ContextAtItsShare_RefusedAndCountedUntilOneEnds()
    {
        var limits = new NodeLimits(new LimitSettings(), _time);
        limits.SetMembership(1, 3);

        Assert.Equal(LimitRefusal.None, limits.TryAdmit("a", 0, tls: false, A, count: true, "ctx", 3));
        Assert.Equal(LimitRefusal.ContextConnections, limits.TryAdmit("b", 0, tls: false, A, count: true, "ctx", 3));
        Assert.Equal(LimitRefusal.None, limits.TryAdmit("b", 0, tls: false, A, count: true, "other", 3));

        Assert.Equal((1, 2, 1L), (limits.OpenOfContext("ctx"), limits.Open, limits.Refused(LimitRefusal.ContextConnections)));
        limits.Ended("a", "ctx");
        Assert.Equal(LimitRefusal.None, limits.TryAdmit("b", 0, tls: false, A, count: true, "ctx", 3));
    }

    [Fact]
    public void TryAdmit_HandshakeRatePerSource_OneAddressLimitedTheOtherNot_RefillsInASecond()
    {
        var limits = new NodeLimits(new LimitSettings { MaxHandshakeRatePerSource = 3 }, _time);

        var fromA = Enumerable.Range(0, 10).Select(_ => limits.TryAdmit("m", 0, tls: true, A)).ToList();
        var fromB = limits.TryAdmit("m", 0, tls: true, B);
        _time.Advance(TimeSpan.FromSeconds(1));
        var later = limits.TryAdmit("m", 0, tls: true, A);

        Assert.Equal(3, fromA.Count(r => r == LimitRefusal.None));
        Assert.Equal(7, fromA.Count(r => r == LimitRefusal.HandshakeRatePerSource));
        Assert.Equal(LimitRefusal.None, fromB);
        Assert.Equal(LimitRefusal.None, later);
        Assert.Equal(5, limits.Open);
    }

    [Fact]
    public void TryAdmit_TotalHandshakeRate_AppliesToTlsOnly()
    {
        var limits = new NodeLimits(new LimitSettings { MaxHandshakeRate = 2 }, _time);

        Assert.Equal(LimitRefusal.None, limits.TryAdmit("m", 0, tls: true, A));
        Assert.Equal(LimitRefusal.None, limits.TryAdmit("m", 0, tls: true, B));
        Assert.Equal(LimitRefusal.HandshakeRate, limits.TryAdmit("m", 0, tls: true, A));
        Assert.Equal(LimitRefusal.None, limits.TryAdmit(null, 0, tls: false, A));
    }

    [Fact]
    public void Queues_OnlyNodeWideLimitsAndOnlyWhenAsked()
    {
        var refuse = new NodeLimits(new LimitSettings(), _time);
        var queue = new NodeLimits(new LimitSettings { QueueWhenFull = true }, _time);

        Assert.False(refuse.Queues(LimitRefusal.NodeConnections));
        Assert.True(queue.Queues(LimitRefusal.NodeConnections));
        Assert.True(queue.Queues(LimitRefusal.HandshakeRate));
        Assert.False(queue.Queues(LimitRefusal.HandshakeRatePerSource));
        Assert.False(queue.Queues(LimitRefusal.ModuleConnections));
    }
}

/// <summary>The configuration lines of the limits: max-conns on a service, idle timeout on an ssl-server.</summary>
public sealed class LimitConfigTests
{
    [Fact]
    public void Parse_MaxConnsAndIdleTimeout_PrintedAndParsedBack()
    {
        var result = ConfigParser.ApplyLines(RunningConfig.Empty, "service m\nmax-conns 500\nssl-proxy-list p\nssl-server 1\nssl-server 1 idle timeout 120", ConfigOptions.Default).Config;

        Assert.Equal(500, result.Services["m"].MaxConnections);
        Assert.Equal(120, result.ProxyLists["p"].SslServers[1].IdleTimeoutSeconds);
        var printed = ConfigPrinter.Print(result);
        Assert.Contains("  max-conns 500\n", printed, StringComparison.Ordinal);
        Assert.Contains("  ssl-server 1 idle timeout 120\n", printed, StringComparison.Ordinal);
        Assert.Equal(result, ConfigParser.Reload(printed));
    }

    [Theory]
    [InlineData("service m\nmax-conns -1", "max-conns")]
    [InlineData("service m\nmax-conns lots", "max-conns")]
    [InlineData("ssl-proxy-list p\nssl-server 1\nssl-server 1 idle timeout 90000", "idle timeout")]
    [InlineData("ssl-proxy-list p\nssl-server 1\nssl-server 1 idle 30", "idle timeout")]
    public void Parse_BadLimit_ErrorNamesIt(string text, string named)
    {
        var result = ConfigParser.Parse(text);

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Message.Contains(named, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_NoMaxConnsAndNoIdle_BackToDefaults()
    {
        var config = ConfigParser.ApplyLines(RunningConfig.Empty, "service m\nmax-conns 5\nno max-conns\nssl-proxy-list p\nssl-server 1\nssl-server 1 idle timeout 9\nno ssl-server 1 idle", ConfigOptions.Default).Config;

        Assert.Equal(0, config.Services["m"].MaxConnections);
        Assert.Equal(0, config.ProxyLists["p"].SslServers[1].IdleTimeoutSeconds);
    }
}
