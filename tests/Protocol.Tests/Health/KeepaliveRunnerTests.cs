using Microsoft.Extensions.Time.Testing;
using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;

namespace SslCluster.Protocol.Tests.Health;

/// <summary>The runner on a fake clock: when probes are sent, what the table says, which transitions are reported.</summary>
public sealed class KeepaliveRunnerTests
{
    private sealed class ScriptedProbe(params bool[] results) : IKeepaliveProbe
    {
        private int _next;

        public List<(DateTimeOffset At, string? Module)> Calls { get; } = [];

        public SemaphoreSlim Called { get; } = new(0);

        public TimeProvider? Clock { get; set; }

        public string Describe() => "scripted";

        public Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
        {
            lock (Calls) Calls.Add((Clock!.GetUtcNow(), attempt.Module));
            var alive = results[Math.Min(_next++, results.Length - 1)];
            Called.Release();
            return Task.FromResult(new ProbeOutcome(alive, alive ? "ok" : "refused"));
        }
    }

    private static async Task ExpectProbe(ScriptedProbe probe) =>
        Assert.True(await probe.Called.WaitAsync(TimeSpan.FromSeconds(10)), "the probe was not sent");

    [Fact]
    public async Task RunAsync_FailingProbe_IsProbedOnFrequencyThenRetryPeriodAndGoesDown()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var start = clock.GetUtcNow();
        var probe = new ScriptedProbe(true, false, false, false, true) { Clock = clock };
        var table = new ServiceHealthTable();
        var target = new KeepaliveTarget(new KeepaliveKey(KeepaliveOwner.Service, "web"), new KeepaliveSettings { Type = KeepaliveType.Tcp, FrequencySeconds = 10, RetryPeriodSeconds = 3, MaxFailure = 3 })
        {
            Modules = new ValueList<string>(["ssl2", "ssl3"]),
        };
        var transitions = new List<KeepaliveTransition>();
        var runner = new KeepaliveRunner(target, probe, table, clock, t => { lock (transitions) transitions.Add(t); });
        using var stop = new CancellationTokenSource();
        var run = runner.RunAsync(stop.Token);

        await ExpectProbe(probe); // at once
        foreach (var step in new[] { 10, 3, 3, 3 })
        {
            // Advance in one-second steps so that the delay the runner set up after the last probe is due exactly.
            for (var i = 0; i < step; i++)
            {
                await Task.Delay(20);
                clock.Advance(TimeSpan.FromSeconds(1));
            }
            await ExpectProbe(probe);
        }
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([0, 10, 13, 16, 19], probe.Calls.Select(c => (int)(c.At - start).TotalSeconds));
        Assert.Equal(["ssl2", "ssl2", "ssl3", "ssl2", "ssl3"], probe.Calls.Select(c => c.Module));
        Assert.Equal(
            [(ServiceHealthState.Alive, ServiceHealthState.Dying), (ServiceHealthState.Dying, ServiceHealthState.Down), (ServiceHealthState.Down, ServiceHealthState.Alive)],
            transitions.Select(t => (t.From, t.To)));
        Assert.Equal(ServiceHealthState.Alive, table.StateOf("web"));
        Assert.Equal(5, table.Snapshot.StateOf(target.Key)!.ProbesSent);
    }

    [Fact]
    public async Task ProbeOnceAsync_ProbeSlowerThanTheTimeout_FailsAsTimedOut()
    {
        var table = new ServiceHealthTable();
        var target = new KeepaliveTarget(new KeepaliveKey(KeepaliveOwner.Service, "slow"), new KeepaliveSettings { Type = KeepaliveType.Tcp, FrequencySeconds = 2, MaxFailure = 1 });
        var runner = new KeepaliveRunner(target, new HangingProbe(), table, TimeProvider.System);

        await runner.ProbeOnceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ServiceHealthState.Down, table.StateOf("slow"));
        Assert.Equal("hanging timed out after 1 s", runner.State.LastFailureReason);
    }

    private sealed class HangingProbe : IKeepaliveProbe
    {
        public string Describe() => "hanging";

        public async Task<ProbeOutcome> ProbeAsync(ProbeAttempt attempt, CancellationToken ct)
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
            return new ProbeOutcome(true, "never");
        }
    }

    [Fact]
    public void StateOf_NamedService_TakesTheGlobalKeepalivesState()
    {
        var table = new ServiceHealthTable();
        var plan = new KeepalivePlan(
            new ValueList<KeepaliveTarget>([new KeepaliveTarget(new KeepaliveKey(KeepaliveOwner.Global, "kal"), KeepaliveSettings.Default)]),
            ValueMap<string, string>.Empty.SetItem("real", "kal"));
        table.Configure(plan);
        table.Publish(new KeepaliveKey(KeepaliveOwner.Global, "kal"), KeepaliveState.Start(DateTimeOffset.UnixEpoch) with { State = ServiceHealthState.Down });

        Assert.Equal(ServiceHealthState.Down, table.StateOf("real"));
        Assert.Equal(ServiceHealthState.Alive, table.StateOf("kal")); // a service of that name is not the global keepalive
        Assert.Equal(ServiceHealthState.Alive, table.StateOf("unknown"));

        table.Configure(new KeepalivePlan(ValueList<KeepaliveTarget>.Empty, ValueMap<string, string>.Empty));
        Assert.Empty(table.Snapshot.States);
        Assert.Equal(ServiceHealthState.Alive, table.StateOf("real"));
    }
}
