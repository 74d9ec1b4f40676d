using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;

namespace SslCluster.Protocol.Tests.Health;

/// <summary>The CSS timing rules, on explicit instants: frequency while Alive, retry period while Dying and Down.</summary>
public sealed class KeepaliveStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly KeepaliveTiming Timing = KeepaliveTiming.From(new KeepaliveSettings { FrequencySeconds = 10, RetryPeriodSeconds = 3, MaxFailure = 3 });

    [Fact]
    public void OnResult_FailuresInARow_GoAliveDyingDownOnTheRetryPeriod()
    {
        var s = KeepaliveState.Start(T0);
        Assert.Equal(T0, s.NextProbeAt);

        var (s1, c1) = s.OnResult("service a", true, "ok", null, Timing, T0);
        Assert.Null(c1);
        Assert.Equal(T0.AddSeconds(10), s1.NextProbeAt);

        var (s2, c2) = s1.OnResult("service a", false, "refused", null, Timing, T0.AddSeconds(10));
        Assert.Equal((ServiceHealthState.Alive, ServiceHealthState.Dying), (c2!.From, c2.To));
        Assert.Equal(T0.AddSeconds(13), s2.NextProbeAt);

        var (s3, c3) = s2.OnResult("service a", false, "refused", null, Timing, T0.AddSeconds(13));
        Assert.Null(c3);
        Assert.Equal(ServiceHealthState.Dying, s3.State);

        var (s4, c4) = s3.OnResult("service a", false, "refused", null, Timing, T0.AddSeconds(16));
        Assert.Equal(ServiceHealthState.Down, c4!.To);
        Assert.Equal(T0.AddSeconds(19), s4.NextProbeAt);

        var (s5, c5) = s4.OnResult("service a", false, "refused", null, Timing, T0.AddSeconds(19));
        Assert.Null(c5);
        Assert.Equal(T0.AddSeconds(22), s5.NextProbeAt); // Down: still probed every retry period

        var (s6, c6) = s5.OnResult("service a", true, "ok", null, Timing, T0.AddSeconds(22));
        Assert.Equal((ServiceHealthState.Down, ServiceHealthState.Alive), (c6!.From, c6.To));
        Assert.Equal(T0.AddSeconds(32), s6.NextProbeAt);
        Assert.Equal((6L, 2L, 4L, 3L, 0), (s6.ProbesSent, s6.Successes, s6.Failures, s6.Transitions, s6.ConsecutiveFailures));
        Assert.Equal("refused", s6.LastFailureReason);
        Assert.Equal(T0.AddSeconds(22), s6.LastStateChange);
    }

    [Fact]
    public void OnResult_OneSuccessWhileDying_IsAliveAgainAndCountsAfresh()
    {
        var (dying, _) = KeepaliveState.Start(T0).OnResult("s", false, "x", null, Timing, T0);
        var (alive, change) = dying.OnResult("s", true, "ok", null, Timing, T0.AddSeconds(3));
        var (again, _) = alive.OnResult("s", false, "x", null, Timing, T0.AddSeconds(13));

        Assert.Equal(ServiceHealthState.Alive, change!.To);
        Assert.Equal(ServiceHealthState.Dying, again.State);
        Assert.Equal(1, again.ConsecutiveFailures);
    }

    [Fact]
    public void OnResult_MaxFailureOne_GoesStraightDown()
    {
        var timing = KeepaliveTiming.From(new KeepaliveSettings { MaxFailure = 1 });

        var (s, change) = KeepaliveState.Start(T0).OnResult("s", false, "x", null, timing, T0);

        Assert.Equal((ServiceHealthState.Alive, ServiceHealthState.Down), (change!.From, change.To));
        Assert.Equal(ServiceHealthState.Down, s.State);
    }

    [Fact]
    public void ModuleFor_AfterAFailure_PicksTheNextModule()
    {
        string[] modules = ["ssl2", "ssl3"];
        var s = KeepaliveState.Start(T0);
        Assert.Equal("ssl2", s.ModuleFor(modules));

        (s, _) = s.OnResult("s", true, "ok", "ssl2", Timing, T0);
        Assert.Equal("ssl2", s.ModuleFor(modules)); // a success keeps the module
        (s, _) = s.OnResult("s", false, "x", "ssl2", Timing, T0.AddSeconds(10));
        Assert.Equal("ssl3", s.ModuleFor(modules));
        (s, _) = s.OnResult("s", false, "x", "ssl3", Timing, T0.AddSeconds(13));
        Assert.Equal("ssl2", s.ModuleFor(modules));
        Assert.Equal("ssl3", s.LastModule);
    }

    [Theory]
    [InlineData(5, 4.0)]
    [InlineData(2, 1.0)]
    public void Timeout_IsOneSecondLessThanTheFrequency(int frequency, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), KeepaliveTiming.From(new KeepaliveSettings { FrequencySeconds = frequency }).Timeout);
    }
}
