using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Runtime;
using SslCluster.Protocol.Tests.Config;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>Services of type ssl-accel-backend and ssl-init resolve to their backend-server (reference samples).</summary>
public sealed class BackendTargetPlanTests
{
    internal static RunningConfig Load(string text)
    {
        var result = ConfigParser.Parse(text);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Config!;
    }

    private static ListenerPlan Rule(RunningConfig config, string vip, int port) =>
        RuntimePlan.Build(1, config).Listeners.Single(l => l.Vip == vip && l.Port == port);

    [Fact]
    public void Build_SslFlowSample_HttpVipTargetsAreTheRealServersBehindTheirBackendServers()
    {
        var config = Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("ssl-flow.cfg"));

        var rule = Rule(config, "192.191.134.165", 85);

        Assert.Equal(ListenerKind.TcpRelay, rule.Kind);
        Assert.Equal(2, rule.Servers.Count);
        var (svc1, svc2) = (rule.Servers[0], rule.Servers[1]);
        Assert.Equal(("bessl-svc1", "192.191.134.170", (int?)443), (svc1.Name, svc1.Address, svc1.Port));
        Assert.Equal(("bessl-svc2", "192.191.134.171", (int?)443), (svc2.Name, svc2.Address, svc2.Port));
        var plan = svc1.Backend!;
        Assert.Equal(("spl", 10, "192.191.134.170", 86), (plan.ProxyList, plan.Server.Number, plan.RowVirtual, plan.RowPort));
        Assert.Null(plan.InitiationModule);
        Assert.Empty(plan.CaFiles);
        Assert.Null(plan.KeyFile);
        Assert.Equal(20, svc2.Backend!.Server.Number);
        // The RC4 cipher line is replaced by modern suites: a client never offers RC4.
        Assert.NotEmpty(plan.Suites);
        Assert.DoesNotContain(plan.Suites, s => s.Contains("RC4", StringComparison.Ordinal));
        Assert.StartsWith("spl/10/192.191.134.170:443/", plan.CacheKey, StringComparison.Ordinal);
        Assert.NotEqual(plan.CacheKey, svc2.Backend.CacheKey);
    }

    [Fact]
    public void Build_SslFlowSample_TheSslServersCipherDestinationResolvesToTheBackendTargets()
    {
        var plan = RuntimePlan.Build(1, Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("ssl-flow.cfg")));

        var (targets, _) = plan.Resolve("192.191.134.165", 85);

        Assert.Equal(["bessl-svc1", "bessl-svc2"], targets.Select(t => t.Name));
        Assert.All(targets, t => Assert.NotNull(t.Backend));
    }

    [Fact]
    public void Build_HitlessBaseSample_BackendListTargetsPickUpOnServicePort85()
    {
        var config = Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("hitless-base.cfg"));

        var rule = Rule(config, "172.18.87.100", 9999);

        Assert.Equal(["backendssl-scv1", "backendssl-scv2"], rule.Servers.Select(s => s.Name));
        Assert.Equal([("10.10.20.111", 443), ("10.10.20.222", 443)], rule.Servers.Select(s => (s.Address, s.Port ?? 0)));
        Assert.Equal([("backend", 111, "10.10.20.111", 85), ("backend", 222, "10.10.20.222", 85)],
            rule.Servers.Select(s => (s.Backend!.ProxyList, s.Backend.Server.Number, s.Backend.RowVirtual, s.Backend.RowPort)));
        var tls = Rule(config, "172.18.87.100", 443);
        Assert.Equal(ListenerKind.TlsTermination, tls.Kind);
        Assert.Equal(["ssl3", "ssl2"], tls.Modules.Select(m => m.Name));
    }

    [Fact]
    public void Build_ClientAuthBackendSample_PlanCarriesTheClientKeyAndCertificateFiles()
    {
        var config = Load(ReferenceSampleTests.Sample("client-auth-backend.cfg"));

        var target = Assert.Single(Rule(config, "172.18.87.101", 9999).Servers);

        Assert.Equal(("10.10.20.111", (int?)443), (target.Address, target.Port));
        Assert.Equal(("clientkey", "clientcert.cer", 0), (target.Backend!.KeyFile, target.Backend.CertFile, target.Backend.CaFiles.Count));
        Assert.Equal(("10.10.20.111", 85), (target.Backend.RowVirtual, target.Backend.RowPort));
    }

    [Fact]
    public void Build_KeepaliveScriptSample_RealServerIsPlainAndTheSslInitServiceIsOnlyAKeepalive()
    {
        var config = Load(ReferenceSampleTests.Sample("keepalive-script.cfg"));

        var target = Assert.Single(Rule(config, "172.18.87.101", 443).Servers);

        Assert.Equal(new ServerTarget("sslserver", "10.10.20.111", 443, 1), target);
    }

    [Fact]
    public void Build_KeepaliveScriptSslInitServiceUnderARule_InitiatesThroughBackendServer111CountedBySsl2()
    {
        var text = ReferenceSampleTests.Sample("keepalive-script.cfg") + "\n  content init\n  vip address 172.18.87.102\n  port 80\n  add service sslkal\n  active\n";
        var config = Load(text);

        var target = Assert.Single(Rule(config, "172.18.87.102", 80).Servers);

        Assert.Equal(("sslkal", "10.10.20.111", (int?)443), (target.Name, target.Address, target.Port));
        Assert.Equal(("kal", 111, BackendServerType.Initiation), (target.Backend!.ProxyList, target.Backend.Server.Number, target.Backend.Server.Type));
        Assert.Equal(("10.10.20.111", 80, "ssl2"), (target.Backend.RowVirtual, target.Backend.RowPort, target.Backend.InitiationModule));
    }

    [Fact]
    public void Build_KeepaliveGlobalSampleFixedSslInitUnderARule_InitiationModuleIsTheModuleOfSlot2()
    {
        var text = ReferenceSampleTests.Sample("keepalive-global.cfg").Replace("add ssl-proxy-list kal\n", "add ssl-proxy-list sslkal\n", StringComparison.Ordinal)
            + "\ncontent init\nvip address 172.18.87.102\nport 8080\nadd service sslkal2\nactive\n";
        var config = Load(text);

        var target = Assert.Single(Rule(config, "172.18.87.102", 8080).Servers);

        Assert.Equal(("10.10.20.111", (int?)443), (target.Address, target.Port));
        // No service port and no backend-server port: the pick-up point is the rule's port.
        Assert.Equal(("sslkal", 10, "10.10.20.111", 8080, "ssl2"),
            (target.Backend!.ProxyList, target.Backend.Server.Number, target.Backend.RowVirtual, target.Backend.RowPort, target.Backend.InitiationModule));
    }

    [Fact]
    public void Build_SslAccelBackendServiceWithoutMatchingBackendServer_GetsNoTarget()
    {
        var text = (ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("ssl-flow.cfg"))
            .Replace("\nip address 192.191.134.171\n", "\nip address 192.191.134.199\n", StringComparison.Ordinal);
        var config = Load(text);
        Assert.Equal("192.191.134.199", config.Services["bessl-svc2"].IpAddress);

        var rule = Rule(config, "192.191.134.165", 85);

        Assert.Equal(["bessl-svc1"], rule.Servers.Select(s => s.Name));
    }

    [Fact]
    public void Build_SslAccelBackendServicePortDiffersFromBackendServerPort_GetsNoTarget()
    {
        var text = (ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("ssl-flow.cfg"))
            .Replace("backend-server 10 port 86", "backend-server 10 port 87", StringComparison.Ordinal);

        var rule = Rule(Load(text), "192.191.134.165", 85);

        Assert.Equal(["bessl-svc2"], rule.Servers.Select(s => s.Name));
    }

    private const string TwoLists = """
        ssl associate cert ca ca.pem
        ssl-proxy-list alpha
          backend-server 1
          backend-server 1 ip address 10.1.1.1
          backend-server 1 port 81
          backend-server 1 server-ip 10.2.2.1
          backend-server 1 server-port 8443
          active
        ssl-proxy-list beta
          backend-server 2
          backend-server 2 ip address 10.1.1.1
          backend-server 2 port 81
          backend-server 2 server-ip 10.2.2.2
          backend-server 2 cacert ca
          backend-server 2 version tls1.3
          backend-server 2 handshake timeout 4
          active
        ssl-proxy-list gamma
          backend-server 3
          backend-server 3 ip address 10.1.1.3
          backend-server 3 port 81
          backend-server 3 type initiation
        service own
          type ssl-accel-backend
          ip address 10.1.1.1
          port 81
          add ssl-proxy-list beta
          active
        service any
          type ssl-accel-backend
          ip address 10.1.1.1
          port 81
          add ssl-proxy-list gamma
          active
        service wrongtype
          type ssl-init
          ip address 10.1.1.1
          port 81
          add ssl-proxy-list alpha
          active
        service suspendedlist
          type ssl-init
          ip address 10.1.1.3
          port 81
          add ssl-proxy-list gamma
          active
        owner o
          content r
            vip address 10.9.9.9
            port 81
            add service own
            add service any
            add service wrongtype
            add service suspendedlist
            active
        """;

    [Fact]
    public void Build_BackendServerInSeveralLists_OwnListFirstThenAnyActiveListByName()
    {
        var config = Load(TwoLists);

        var servers = Rule(config, "10.9.9.9", 81).Servers;

        // "any" names the suspended list gamma, which holds no such backend-server: the first active list by name serves it.
        // wrongtype wants an initiation backend-server at 10.1.1.1:81 (none); suspendedlist's only one is in a suspended list.
        Assert.Equal(["own", "any"], servers.Select(s => s.Name));
        var own = servers[0];
        Assert.Equal(("10.2.2.2", (int?)443, "beta", "ca.pem"), (own.Address, own.Port, own.Backend!.ProxyList, own.Backend.CaFiles.Single()));
        Assert.Equal((TlsVersionFloor.Tls13, 4), (own.Backend.Server.MinimumVersion, own.Backend.Server.HandshakeTimeoutSeconds));
        var any = servers[1];
        Assert.Equal(("10.2.2.1", (int?)8443, "alpha"), (any.Address, any.Port, any.Backend!.ProxyList));
    }

    [Fact]
    public void Build_PlainServiceInTheSameRule_StaysPlain()
    {
        var config = Load(TwoLists.Replace("add service own\n", "add service own\n    add service web\n", StringComparison.Ordinal)
            + "\nservice web\n  ip address 10.1.1.9\n  port 80\n  active\n");

        var web = Rule(config, "10.9.9.9", 81).Servers.Single(s => s.Name == "web");

        Assert.Null(web.Backend);
        Assert.Equal(("10.1.1.9", (int?)80), (web.Address, web.Port));
    }
}

/// <summary><c>show content</c> and <c>show ssl-proxy-list</c> over the reference samples.</summary>
public sealed class ShowPrinterTests
{
    [Fact]
    public void ShowSslProxyList_SslFlowSample_NamesListModuleAndUnverifiedBackendServers()
    {
        var config = BackendTargetPlanTests.Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("ssl-flow.cfg"));

        var text = ShowPrinter.ShowSslProxyList(config);

        Assert.Contains("SSL Proxy List: spl", text, StringComparison.Ordinal);
        Assert.Contains("State: Active", text, StringComparison.Ordinal);
        Assert.Contains("Modules: sslmod (slot 2)", text, StringComparison.Ordinal);
        Assert.Contains("ssl-server 100: VIP 10.87.99.78:443  key mykeypair  cert mycert", text, StringComparison.Ordinal);
        Assert.Contains("cipher rsa-with-rc4-128-md5 -> 192.191.134.165:85", text, StringComparison.Ordinal);
        Assert.Contains("backend-server 10: backend-ssl  192.191.134.170:86 -> 192.191.134.170:443", text, StringComparison.Ordinal);
        Assert.Contains("backend-server 20: backend-ssl  192.191.134.171:86 -> 192.191.134.171:443", text, StringComparison.Ordinal);
        Assert.Equal(2, CountOf(text, "server certificate UNVERIFIED (no cacert)"));
    }

    [Fact]
    public void ShowSslProxyList_HitlessBaseSample_BackendListServesEveryModule()
    {
        var config = BackendTargetPlanTests.Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("hitless-base.cfg"));

        var text = ShowPrinter.ShowSslProxyList(config, "backend");

        Assert.StartsWith("SSL Proxy List: backend", text, StringComparison.Ordinal);
        Assert.Contains("Modules: (none: a back-end list, used by every module)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("frontend", text, StringComparison.Ordinal);
        Assert.Contains("backend-server 111: backend-ssl  10.10.20.111:85 -> 10.10.20.111:443", text, StringComparison.Ordinal);
        var front = ShowPrinter.ShowSslProxyList(config, "frontend");
        Assert.Contains("Modules: ssl2 (slot 2), ssl3 (slot 3)", front, StringComparison.Ordinal);
    }

    [Fact]
    public void ShowSslProxyList_BackendServerWithCacert_VerifiedAndClientCertificateNamed()
    {
        var text = ReferenceSampleTests.Sample("client-auth-backend.cfg")
            .Replace("  backend-server 111 rsacert clientcert\n", "  backend-server 111 rsacert clientcert\n  backend-server 111 cacert TCA\n", StringComparison.Ordinal);
        var config = BackendTargetPlanTests.Load(text);

        var shown = ShowPrinter.ShowSslProxyList(config, "backend");

        Assert.Contains("server certificate verified against cacert TCA, client certificate clientcert", shown, StringComparison.Ordinal);
        Assert.DoesNotContain("UNVERIFIED", shown, StringComparison.Ordinal);
    }

    [Fact]
    public void ShowSslProxyList_KeepaliveScriptSample_InitiationWithAnyPort()
    {
        var config = BackendTargetPlanTests.Load(ReferenceSampleTests.Sample("keepalive-script.cfg"));

        var text = ShowPrinter.ShowSslProxyList(config);

        Assert.Contains("backend-server 111: initiation  10.10.20.111:ANY -> 10.10.20.111:443", text, StringComparison.Ordinal);
        Assert.Contains("Modules: ssl2 (slot 2)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ShowSslProxyList_UnknownName_SuggestsTheClosest()
    {
        var config = BackendTargetPlanTests.Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("hitless-base.cfg"));

        var text = ShowPrinter.ShowSslProxyList(config, "backnd");

        Assert.StartsWith("%% SSL proxy list 'backnd' does not exist", text, StringComparison.Ordinal);
        Assert.Contains("backend", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ShowContent_SslFlowSample_RulesWithServicesStatesAndConnections()
    {
        var config = BackendTargetPlanTests.Load(ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("ssl-flow.cfg"));
        var connections = new Dictionary<string, ServiceConnections> { ["bessl-svc1"] = new(12, 3) };

        var text = ShowPrinter.ShowContent(config, HealthSnapshot.Empty, connections);

        Assert.Contains("Name: HTTP-VIP", text, StringComparison.Ordinal);
        Assert.Contains("Owner: cisco", text, StringComparison.Ordinal);
        Assert.Contains("VIP: 192.191.134.165", text, StringComparison.Ordinal);
        Assert.Contains("Port: 85", text, StringComparison.Ordinal);
        Assert.Contains("Name: SSL-VIP", text, StringComparison.Ordinal);
        var svc1 = text.Split('\n').Single(l => l.Contains("bessl-svc1", StringComparison.Ordinal));
        Assert.Contains("Hits: 12", svc1, StringComparison.Ordinal);
        Assert.Contains("Current: 3", svc1, StringComparison.Ordinal);
        var svc2 = text.Split('\n').Single(l => l.Contains("bessl-svc2", StringComparison.Ordinal));
        Assert.Contains("Hits: 0", svc2, StringComparison.Ordinal);
        Assert.Contains("State: Active", text, StringComparison.Ordinal);
        Assert.Contains("Balance: Round Robin", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ShowContent_SuspendedServiceAndUnknownRule_SaySo()
    {
        var text = ReferenceSampleTests.Keys + "\n" + ReferenceSampleTests.Sample("hitless-base.cfg");
        var config = BackendTargetPlanTests.Load(text + "\nservice backendssl-scv2\nsuspend\n");

        var shown = ShowPrinter.ShowContent(config, HealthSnapshot.Empty, name: "HTTP-VIP");

        var line = shown.Split('\n').Single(l => l.Contains("backendssl-scv2", StringComparison.Ordinal));
        Assert.Contains("Suspended", line, StringComparison.Ordinal);
        Assert.DoesNotContain("SSL-VIP", shown, StringComparison.Ordinal);
        Assert.StartsWith("%% Content rule 'HTTP-VIX' does not exist", ShowPrinter.ShowContent(config, HealthSnapshot.Empty, name: "HTTP-VIX"), StringComparison.Ordinal);
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal)) count++;
        return count;
    }
}

/// <summary>The new backend-server options parse, print and parse back; renegotiation is refused.</summary>
public sealed class BackendServerOptionTests
{
    private const string Base = """
        ssl-proxy-list spl
          backend-server 10
          backend-server 10 ip address 10.1.1.1
          backend-server 10 server-ip 10.1.1.2
        """;

    [Fact]
    public void Parse_VersionAndHandshakeTimeout_SetAndRoundTrip()
    {
        var config = BackendTargetPlanTests.Load(Base + "\n  backend-server 10 version tls1.3\n  backend-server 10 handshake timeout 7\n  active\n");
        var server = config.ProxyLists["spl"].BackendServers[10];
        Assert.Equal((TlsVersionFloor.Tls13, 7), (server.MinimumVersion, server.HandshakeTimeoutSeconds));

        var printed = ConfigPrinter.Print(config);

        Assert.Contains("backend-server 10 version tls1.3", printed, StringComparison.Ordinal);
        Assert.Contains("backend-server 10 handshake timeout 7", printed, StringComparison.Ordinal);
        var again = ConfigParser.Reload(printed);
        Assert.Equal(server, again.ProxyLists["spl"].BackendServers[10]);
        Assert.Equal(printed, ConfigPrinter.Print(again));
    }

    [Fact]
    public void Parse_Defaults_Tls12AndTenSecondsAndNotPrinted()
    {
        var config = BackendTargetPlanTests.Load(Base + "\n  backend-server 10 version tls1.2\n  active\n");
        var server = config.ProxyLists["spl"].BackendServers[10];

        Assert.Equal((TlsVersionFloor.Tls12, SslServer.DefaultHandshakeTimeoutSeconds), (server.MinimumVersion, server.HandshakeTimeoutSeconds));
        var printed = ConfigPrinter.Print(config);
        Assert.DoesNotContain("backend-server 10 version", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("backend-server 10 handshake", printed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("backend-server 10 renegotiation", "renegotiation is never used")]
    [InlineData("backend-server 10 rehandshake", "renegotiation is never used")]
    [InlineData("backend-server 10 version tls1.1", "RFC 8996")]
    [InlineData("backend-server 10 handshake timeout 0", "handshake timeout")]
    [InlineData("backend-server 10 handshake timeout 3601", "handshake timeout")]
    [InlineData("backend-server 10 handshake 5", "timeout")]
    public void Parse_BadBackendServerOption_RefusedWithReason(string line, string fragment)
    {
        var result = ConfigParser.Parse(Base + "\n  " + line + "\n  active\n");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Message.Contains(fragment, StringComparison.Ordinal));
    }
}
