using Xunit;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Tests.Config;

namespace SslCluster.Protocol.Tests.Health;

/// <summary>What the reference's keepalive samples run, and how show service / show keepalive print it.</summary>
public sealed class KeepalivePlanAndPrinterTests
{
    private static RunningConfig Scripted() => ConfigParser.Parse(ReferenceSampleTests.Sample("keepalive-script.cfg")).Config!;

    private static RunningConfig Global() => ConfigParser.Parse(ReferenceSampleTests.Sample("keepalive-global.cfg")
        .Replace("add ssl-proxy-list kal\n", "add ssl-proxy-list sslkal\n", StringComparison.Ordinal)).Config!;

    [Fact]
    public void Build_ScriptedSample_ProbesTheRealServerBehindTheSslInitServiceThroughItsModule()
    {
        var plan = KeepalivePlan.Build(Scripted());

        var sslkal = Assert.Single(plan.Targets, t => t.Key.Name == "sslkal");
        Assert.Equal(("10.10.20.111", 443), (sslkal.Address, sslkal.Port)); // server-ip, default server port: not the clear-text port 80
        Assert.Equal(["ssl2"], sslkal.Modules);
        var script = Assert.Single(plan.Targets, t => t.Key.Name == "sslserver");
        Assert.Equal("kal-service-check", script.Settings.Script);
        Assert.DoesNotContain(plan.Targets, t => t.Key.Name == "ssl2"); // keepalive type none
    }

    [Fact]
    public void Build_GlobalSample_RunsTheGlobalKeepaliveOnceForItsNamedServices()
    {
        var plan = KeepalivePlan.Build(Global());

        var target = Assert.Single(plan.Targets);
        Assert.Equal(new KeepaliveKey(KeepaliveOwner.Global, "sslkal"), target.Key);
        Assert.Equal(("10.10.20.111", 443), (target.Address, target.Port));
        Assert.Equal(["ssl2"], target.Modules);
        Assert.Equal("sslkal", plan.NamedServices["realserver"]);
        Assert.Equal("sslkal", plan.NamedServices["sslkal2"]);
    }

    [Fact]
    public void Build_TwoModulesForOneBackend_ListsTheServicesSlotFirst()
    {
        var config = ConfigParser.Parse(ReferenceSampleTests.Sample("keepalive-script.cfg") + """

            service ssl3
              slot 3
              type ssl-accel
              keepalive type none
              add ssl-proxy-list kal
              active
            """).Config!;
        var sslkal = config.Services["sslkal"];
        config = config with { Services = config.Services.SetItem("sslkal", sslkal with { Slot = 3 }) };

        var target = Assert.Single(KeepalivePlan.Build(config).Targets, t => t.Key.Name == "sslkal");

        Assert.Equal(["ssl3", "ssl2"], target.Modules);
    }

    [Fact]
    public void ShowService_AliveDownAndSuspended_PrintTheCssStateWords()
    {
        var config = Scripted();
        config = config with { Services = config.Services.SetItem("ssl2", config.Services["ssl2"] with { State = AdminState.Suspended }) };
        var table = new ServiceHealthTable();
        table.Configure(KeepalivePlan.Build(config));
        table.Publish(new KeepaliveKey(KeepaliveOwner.Service, "sslkal"), KeepaliveState.Start(DateTimeOffset.UnixEpoch) with { State = ServiceHealthState.Down, Transitions = 2 });
        var counts = new Dictionary<string, ServiceConnections> { ["sslserver"] = new(12, 3) };

        var all = HealthPrinter.ShowService(config, table.Snapshot, counts);
        var one = HealthPrinter.ShowService(config, table.Snapshot, counts, "sslserver");

        Assert.Contains("Name: sslkal ", all, StringComparison.Ordinal);
        Assert.Matches(@"Type: SSL-Init\s+State: Down\n", all);
        Assert.Matches(@"Type: SSL-Accel\s+State: Suspended\n", all);
        Assert.Contains("  Keepalive: (HTTPS-443:GET:/ 10 3 30)\n", all, StringComparison.Ordinal);
        Assert.Matches(@"^Name: sslserver\s+Index: 3\n  Type: Local\s+State: Alive\n  Rule \( 10\.10\.20\.111  ANY  443 \)\n  Keepalive: \(SCRIPT kal-service-check ""sslkal"" 10 3 30\)\n", one);
        Assert.Contains("Total Connections: 12         Current Connections: 3", one, StringComparison.Ordinal);
        Assert.Contains("does not exist; did you mean 'sslkal'?", HealthPrinter.ShowService(config, table.Snapshot, null, "sslkall"), StringComparison.Ordinal);
    }

    [Fact]
    public void ShowKeepalive_GlobalKeepalive_PrintsCountersModuleAndAssignedServices()
    {
        var config = Global();
        var table = new ServiceHealthTable();
        table.Configure(KeepalivePlan.Build(config));
        var key = new KeepaliveKey(KeepaliveOwner.Global, "sslkal");
        var (state, _) = KeepaliveState.Start(DateTimeOffset.UnixEpoch).OnResult("keepalive sslkal", false, "https HEAD / to 127.10.20.111:443 via module ssl2 refused", "ssl2", KeepaliveTiming.From(KeepaliveSettings.Default), DateTimeOffset.UnixEpoch);
        table.Publish(key, state);

        var text = HealthPrinter.ShowKeepalive(config, table.Snapshot, "sslkal");

        Assert.Contains("Keepalive Name: sslkal", text, StringComparison.Ordinal);
        Assert.Matches(@"State: Dying\s+Type: HTTPS-443:HEAD:/\n", text);
        Assert.Contains("Probes Sent: 1", text, StringComparison.Ordinal);
        Assert.Contains("Last Failure: https HEAD / to 127.10.20.111:443 via module ssl2 refused", text, StringComparison.Ordinal);
        Assert.Contains("SSL Module: ssl2 (last sent by ssl2; candidates ssl2)", text, StringComparison.Ordinal);
        Assert.Contains("Assigned Services: realserver, sslkal2", text, StringComparison.Ordinal);
        Assert.Matches(@"State: Dying", HealthPrinter.ShowService(config, table.Snapshot, null, "realserver"));
    }
}
