using System.Net;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Runtime;
using Xunit;

namespace SslCluster.Protocol.Tests.Runtime;

public sealed class RuntimePlanTests
{
    internal static RunningConfig Parse(string text)
    {
        var (config, diagnostics) = ConfigParser.ApplyLines(RunningConfig.Empty, text, ConfigOptions.Default);
        Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        return config;
    }

    internal const string TwoModules = """
        ssl associate rsakey k k.key
        ssl associate cert c c.pem
        ssl-proxy-list front
          ssl-server 100
          ssl-server 100 rsakey k
          ssl-server 100 rsacert c
          ssl-server 100 vip address 172.18.87.100
          ssl-server 100 cipher rsa-with-rc4-128-md5 172.18.87.100 9999
          ssl-server 200
          ssl-server 200 rsakey k
          ssl-server 200 rsacert c
          ssl-server 200 vip address 172.18.87.200
          ssl-server 200 cipher all-cipher-suites 172.18.87.200 80
          active
        service s1
          ip address 10.10.20.111
          port 80
          weight 3
          active
        service s2
          ip address 10.10.20.222
          active
        service s3
          ip address 10.10.20.233
        service ssl2
          type ssl-accel
          slot 2
          add ssl-proxy-list front
          active
        service ssl3
          type ssl-accel
          slot 3
          weight 0
          add ssl-proxy-list front
          active
        owner o
          content HTTP-VIP
            vip address 172.18.87.100
            port 9999
            add service s1
            add service s2
            add service s3
            active
          content SSL-VIP
            vip address 172.18.87.100
            port 443
            add service ssl2
            add service ssl3
            active
          content OFF
            vip address 172.18.87.100
            port 8443
            add service ssl2
        """;

    [Fact]
    public void Build_ActiveRules_BecomeListenersOfTheRightKind()
    {
        var plan = RuntimePlan.Build(7, Parse(TwoModules));

        Assert.Equal(7, plan.Revision);
        Assert.Equal(["172.18.87.100:9999", "172.18.87.100:443"], plan.Listeners.Select(l => l.Key));
        var tls = plan.Listeners.Single(l => l.Port == 443);
        Assert.Equal(ListenerKind.TlsTermination, tls.Kind);
        Assert.Equal(["ssl2", "ssl3"], tls.Modules.Select(m => m.Name).Order());
        Assert.Equal(0, tls.Modules.Single(m => m.Name == "ssl3").Weight);
        // Only the ssl-server whose VIP and port match the rule serves it.
        var server = Assert.Single(tls.Modules[0].SslServers);
        Assert.Equal(100, server.Server.Number);
        Assert.Equal(("k.key", "c.pem", "front/100"), (server.KeyFile, server.CertFile, server.BindingKey));
    }

    [Fact]
    public void Build_SslServerWithEcdsaAndRsaPairs_PlansBothEcdsaFirstAndNamesAllFourFiles()
    {
        var text = TwoModules.Replace("  ssl-server 200\n", "  ssl-server 100 ecdsakey e\n  ssl-server 100 ecdsacert ec\n  ssl-server 200\n", StringComparison.Ordinal);
        var config = Parse("ssl associate ecdsakey e e.key\nssl associate cert ec ec.pem\n" + text);
        var plan = RuntimePlan.Build(1, config);
        var listener = plan.Listeners.Single(l => l.Port == 443 && l.Modules[0].SslServers.Any(s => s.Server.Number == 100));

        var server = listener.Modules[0].SslServers.Single(s => s.Server.Number == 100);

        Assert.True(server.Ecdsa);
        Assert.Equal(("e.key", "ec.pem"), (server.KeyFile, server.CertFile));
        Assert.Equal(("k.key", "c.pem"), server.Rsa);
        Assert.Superset(new HashSet<string> { "e.key", "ec.pem", "k.key", "c.pem" }, plan.FilesOf(listener).ToHashSet());
    }

    [Fact]
    public void Build_ClientAuth_PlansCaFilesCrlAndScopesTheBindingKey()
    {
        var text = TwoModules.Replace("  active\nservice s1",
            "  crl-record crl1 \"http://ca.example/ca.crl\" ca 12\n  ssl-server 100 authentication enable\n" +
            "  ssl-server 100 cacert ca\n  ssl-server 100 crl crl1\n  ssl-server 100 failure ignore\n  active\nservice s1",
            StringComparison.Ordinal);
        var config = Parse("ssl associate cert ca ca.pem\n" + text);

        var server = RuntimePlan.Build(1, config).Listeners.Single(l => l.Port == 443).Modules[0].SslServers[0];

        var auth = Assert.IsType<ClientAuthPlan>(server.ClientAuth);
        Assert.Equal(["ca.pem"], auth.CaCertFiles);
        Assert.Equal(ClientAuthFailureAction.Ignore, auth.Failure);
        Assert.Equal(new CrlPlan("crl1", "http://ca.example/ca.crl", "ca.pem", 12), auth.Crl);
        Assert.StartsWith("front/100/client-auth=ca.pem;Ignore;http://ca.example/ca.crl", server.BindingKey, StringComparison.Ordinal);
    }

    [Fact]
    public void SslServerPlan_LegacyCipher_OffersTheModernSuitesAndRoutesThemToItsDestination()
    {
        var server = RuntimePlan.Build(1, Parse(TwoModules)).Listeners.Single(l => l.Port == 443).Modules[0].SslServers[0];

        Assert.Equal(CipherCatalog.ModernSuites, server.Suites);
        var destination = server.DestinationFor("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        Assert.Equal(("172.18.87.100", 9999), (destination.DestinationAddress, destination.DestinationPort));
    }

    [Fact]
    public void Resolve_DestinationIsAContentRule_GivesItsActiveServers()
    {
        var plan = RuntimePlan.Build(1, Parse(TwoModules));

        var targets = plan.Resolve("172.18.87.100", 9999).Targets;
        var outside = plan.Resolve("192.0.2.1", 80).Targets;

        Assert.Equal([new ServerTarget("s1", "10.10.20.111", 80, 3), new ServerTarget("s2", "10.10.20.222", null, 1)], targets);
        Assert.Equal([new ServerTarget("192.0.2.1:80", "192.0.2.1", 80, 1)], outside);
    }

    [Fact]
    public void WeightedRoundRobin_Weights_AreHonouredSmoothlyAndZeroIsSkipped()
    {
        var rr = new WeightedRoundRobin<string>([("a", 3), ("b", 1), ("z", 0)]);

        var picks = Enumerable.Range(0, 8).Select(_ => rr.Next()).ToList();

        Assert.Equal(6, picks.Count(p => p == "a"));
        Assert.Equal(2, picks.Count(p => p == "b"));
        Assert.DoesNotContain("z", picks);
        Assert.NotEqual(["a", "a", "a"], picks.Take(3)); // smooth: b is interleaved, not starved
    }

    [Fact]
    public void WeightedRoundRobin_AllZero_GivesNothing()
    {
        Assert.Null(new WeightedRoundRobin<string>([("a", 0)]).Next());
    }
}

public sealed class AddressMapTests
{
    [Theory]
    [InlineData("private-to-loopback", "10.87.99.78", "127.87.99.78")]
    [InlineData("private-to-loopback", "192.191.134.165", "127.191.134.165")]
    [InlineData("private-to-loopback", "172.18.87.100", "127.18.87.100")]
    [InlineData("private-to-loopback", "198.51.100.7", "198.51.100.7")]
    [InlineData("10.0.0.1=127.0.0.9, private-to-loopback", "10.0.0.1", "127.0.0.9")]
    [InlineData("10.0.0.1=127.0.0.9", "10.0.0.2", "10.0.0.2")]
    [InlineData("", "10.0.0.2", "10.0.0.2")]
    public void Map_Setting_MapsAsDocumented(string setting, string from, string to)
    {
        Assert.Equal(IPAddress.Parse(to), AddressMap.Parse(setting).Map(from));
    }

    [Theory]
    [InlineData("10.0.0.1", "not FROM=TO")]
    [InlineData("10.0.0.1=x", "not FROM=TO")]
    [InlineData("10.0.0.1=127.0.0.1,10.0.0.1=127.0.0.2", "names 10.0.0.1 twice")]
    public void Parse_BadSetting_SaysWhatIsWrong(string setting, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => AddressMap.Parse(setting));
        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }
}

public sealed class FlowCountersTests
{
    [Fact]
    public void Lifecycle_AcceptHandshakeClose_MovesBetweenTheThreeGauges()
    {
        var c = new FlowCounters();
        c.Accept();
        c.Accept();
        Assert.Equal((2L, 0L, 2L), (c.TcpProxyFlows, c.ActiveSslFlows, c.InHandshake));

        c.HandshakeCompleted(resumed: true);
        Assert.Equal((2L, 1L, 1L), (c.TcpProxyFlows, c.ActiveSslFlows, c.InHandshake));

        c.Closed(handshakeDone: false, 0, 0);
        c.Closed(handshakeDone: true, 100, 2000);
        Assert.Equal((0L, 0L, 0L), (c.TcpProxyFlows, c.ActiveSslFlows, c.InHandshake));
        Assert.Equal((2L, 1L, 1L, 1L, 100L, 2000L), (c.Accepted, c.HandshakesCompleted, c.HandshakesFailed, c.Resumed, c.BytesFromClients, c.BytesToClients));
    }
}

/// <summary>A node keeps a listener's runtime across revisions exactly when nothing it uses changed.</summary>
public sealed class SameRuntimeTests
{
    private static bool Same(string before, string change, Func<string, string?>? digestsAfter = null)
    {
        var a = RuntimePlan.Build(1, RuntimePlanTests.Parse(RuntimePlanTests.TwoModules + before));
        var b = RuntimePlan.Build(2, ConfigParser.ApplyLines(RuntimePlanTests.Parse(RuntimePlanTests.TwoModules + before), change, ConfigOptions.Default).Config);
        static string? Digest(string name) => "digest-of-" + name;
        var tls = a.Listeners.Single(l => l.Port == 443);
        return b.SameRuntime(b.Listeners.Single(l => l.Port == 443), digestsAfter ?? Digest, a, tls, Digest);
    }

    [Fact]
    public void SameRuntime_UnrelatedChange_KeepsTheListenersRuntime() =>
        Assert.True(Same("", "service other\n  ip address 10.9.9.9\n  active"));

    [Fact]
    public void SameRuntime_WeightOfAModule_Differs() => Assert.False(Same("", "service ssl2\n  weight 4"));

    [Fact]
    public void SameRuntime_ServerOfTheClearTextDestinationRule_Differs() =>
        Assert.False(Same("", "service s1\n  weight 9"));

    [Fact]
    public void SameRuntime_NewContentOfACertificateFile_Differs() =>
        Assert.False(Same("", "", name => name == "c.pem" ? "new-digest" : "digest-of-" + name));

    [Fact]
    public void SameRuntime_ContentOfAFileItDoesNotUse_KeepsIt() =>
        Assert.True(Same("", "", name => name == "other.pem" ? "new-digest" : "digest-of-" + name));
}
