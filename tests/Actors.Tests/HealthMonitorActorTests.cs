using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using SslCluster.Actors.Health;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using Xunit;

namespace SslCluster.Actors.Tests;

/// <summary>The health monitor runs a revision's keepalives, keeps their state across unrelated revisions, logs changes.</summary>
public sealed class HealthMonitorActorTests : TestKit
{
    private static RunningConfig Config(int port, int frequency, string extra = "") => ConfigParser.Parse($"""
        service web
          ip address 127.0.0.1
          port {port}
          keepalive type tcp
          keepalive frequency {frequency}
          keepalive retryperiod 2
          keepalive maxfailure 1
          active
        {extra}
        """).Config!;

    private async Task<KeepaliveState> WebState(IActorRef monitor, Func<KeepaliveState, bool> until)
    {
        KeepaliveState? state = null;
        await AwaitConditionAsync(async () =>
        {
            var health = await monitor.Ask<HealthMonitorActor.CurrentHealth>(HealthMonitorActor.GetHealth.Instance, TimeSpan.FromSeconds(3));
            state = health.Health.StateOf(new KeepaliveKey(KeepaliveOwner.Service, "web"));
            return state is not null && until(state);
        }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));
        return state!;
    }

    [Fact]
    public async Task ApplyConfig_ServerStopsThenUnrelatedAndRelatedRevisions_GoesDownKeepsStateThenRestarts()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var table = new ServiceHealthTable();
        var monitor = Sys.ActorOf(HealthMonitorActor.Props(table, new KeepaliveEnvironment(), TimeProvider.System));

        monitor.Tell(new HealthMonitorActor.ApplyConfig(Config(port, 2)));
        var alive = await WebState(monitor, s => s.Successes >= 1);
        Assert.Equal(ServiceHealthState.Alive, alive.State);

        await EventFilter.Info(contains: $"service web: Alive -> Down (tcp connect to 127.0.0.1:{port} refused)").ExpectOneAsync(TimeSpan.FromSeconds(15), () =>
        {
            listener.Stop();
            return Task.CompletedTask;
        });
        Assert.Equal(ServiceHealthState.Down, table.StateOf("web"));
        var down = await WebState(monitor, s => s.State == ServiceHealthState.Down);

        // An unrelated revision (another service) keeps the running keepalive and its counters.
        monitor.Tell(new HealthMonitorActor.ApplyConfig(Config(port, 2, "service other\n  keepalive type none\n  ip address 127.0.0.2\n  active")));
        var kept = await WebState(monitor, _ => true);
        Assert.Equal(ServiceHealthState.Down, kept.State);
        Assert.True(kept.ProbesSent >= down.ProbesSent);

        // A changed keepalive starts afresh.
        monitor.Tell(new HealthMonitorActor.ApplyConfig(Config(port, 3)));
        var restarted = await WebState(monitor, s => s.ProbesSent < kept.ProbesSent || s.Transitions == 0);
        Assert.True(restarted.ProbesSent <= 1);
    }

    [Fact]
    public async Task ApplyConfig_ServiceRemoved_ForgetsItsState()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var table = new ServiceHealthTable();
        var monitor = Sys.ActorOf(HealthMonitorActor.Props(table, new KeepaliveEnvironment(), TimeProvider.System));
        monitor.Tell(new HealthMonitorActor.ApplyConfig(Config(port, 2)));
        await WebState(monitor, s => s.ProbesSent >= 1);

        monitor.Tell(new HealthMonitorActor.ApplyConfig(RunningConfig.Empty));
        var health = await monitor.Ask<HealthMonitorActor.CurrentHealth>(HealthMonitorActor.GetHealth.Instance, TimeSpan.FromSeconds(3));

        Assert.Empty(health.Health.States);
        listener.Stop();
    }
}
