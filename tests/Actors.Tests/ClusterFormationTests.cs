using Akka.Configuration;
using SslCluster.Actors.Settings;
using Xunit;

namespace SslCluster.Actors.Tests;

public sealed class ClusterFormationTests
{
    private static Config Parse(string hocon) => ConfigurationFactory.ParseString(hocon);

    private const string ThreeLocal = """
        akka.remote.dot-netty.tcp.hostname = "127.0.0.2"
        sslcluster.node.bootstrap { discovery = config, contact-points = ["127.0.0.1:8558", "127.0.0.2:8558", "127.0.0.3:8558"] }
        """;

    [Fact]
    public void Resolve_NoDiscovery_SeedNodesAndNoOverlay()
    {
        var (method, overlay) = ClusterFormation.Resolve(ConfigurationFactory.Empty);

        Assert.Equal(FormationMethod.Seeds, method);
        Assert.True(overlay.IsEmpty);
    }

    [Fact]
    public void Resolve_ConfigDiscovery_AllListedContactPointsRequiredAndServedOnTheRemotingHost()
    {
        var (method, overlay) = ClusterFormation.Resolve(Parse(ThreeLocal));

        Assert.Equal(FormationMethod.Config, method);
        Assert.Equal("127.0.0.2", overlay.GetString("akka.management.http.hostname"));
        Assert.Equal(8558, overlay.GetInt("akka.management.http.port"));
        Assert.Equal("config", overlay.GetString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
        Assert.Equal(3, overlay.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr"));
        Assert.Equal(["127.0.0.1:8558", "127.0.0.2:8558", "127.0.0.3:8558"], overlay.GetStringList("akka.discovery.config.services.sslcluster.endpoints"));
        Assert.Equal(TimeSpan.FromSeconds(60), overlay.GetTimeSpan("akka.cluster.shutdown-after-unsuccessful-join-seed-nodes"));
    }

    [Fact]
    public void Resolve_Kubernetes_PodsByLabelThroughTheNamedManagementPort()
    {
        var (method, overlay) = ClusterFormation.Resolve(Parse("""
            akka.remote.dot-netty.tcp.hostname = "10.4.0.12"
            sslcluster.node.bootstrap { discovery = kubernetes, required-contact-points = 3, new-cluster-enabled = off }
            """));

        Assert.Equal(FormationMethod.Kubernetes, method);
        Assert.Equal("kubernetes-api", overlay.GetString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
        Assert.Equal("management", overlay.GetString("akka.management.cluster.bootstrap.contact-point-discovery.port-name"));
        Assert.Equal("app.kubernetes.io/name=sslcluster", overlay.GetString("akka.discovery.kubernetes-api.pod-label-selector"));
        Assert.False(overlay.GetBoolean("akka.management.cluster.bootstrap.new-cluster-enabled"));
    }

    [Fact]
    public void Resolve_KubernetesWithTheOperatorsPluginKeys_TheirValuesWinOverThePluginsDefaults()
    {
        var config = Parse("""
            akka.remote.dot-netty.tcp.hostname = "10.4.0.12"
            sslcluster.node.bootstrap { discovery = kubernetes, required-contact-points = 3 }
            akka.discovery.kubernetes-api { api-token-path = "/run/token", pod-namespace = "edge", container-name = "sslnode", pod-label-selector = "app=other" }
            """);

        var (_, overlay) = ClusterFormation.Resolve(config);
        var effective = overlay.WithFallback(config);

        Assert.Equal("/run/token", effective.GetString("akka.discovery.kubernetes-api.api-token-path"));
        Assert.Equal("edge", effective.GetString("akka.discovery.kubernetes-api.pod-namespace"));
        Assert.Equal("sslnode", effective.GetString("akka.discovery.kubernetes-api.container-name"));
        Assert.Equal("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", effective.GetString("akka.discovery.kubernetes-api.api-ca-path"));
        // bootstrap.pod-label-selector is the one the node documents; the plugin's own key does not override it.
        Assert.Equal("app.kubernetes.io/name=sslcluster", effective.GetString("akka.discovery.kubernetes-api.pod-label-selector"));
    }

    [Fact]
    public async Task Resolve_Kubernetes_TheDiscoveryPluginLoadsFromTheOverlayAlone()
    {
        var (_, overlay) = ClusterFormation.Resolve(Parse("""
            akka.remote.dot-netty.tcp.hostname = "10.4.0.12"
            sslcluster.node.bootstrap { discovery = kubernetes, required-contact-points = 3 }
            """));
        using var system = Akka.Actor.ActorSystem.Create("formation", overlay);
        try
        {
            var discovery = Akka.Discovery.Discovery.Get(system).LoadServiceDiscovery("kubernetes-api");

            Assert.IsType<Akka.Discovery.KubernetesApi.KubernetesApiServiceDiscovery>(discovery);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public void Resolve_ConfigDiscoveryWithFewerRequired_DoesNotWaitForEveryListedContactPoint()
    {
        var (_, overlay) = ClusterFormation.Resolve(Parse(ThreeLocal + "\nsslcluster.node.bootstrap.required-contact-points = 2"));

        Assert.Equal(2, overlay.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr"));
        Assert.False(overlay.GetBoolean("akka.management.cluster.bootstrap.contact-point-discovery.contact-with-all-contact-points"));
    }

    [Theory]
    [InlineData("sslcluster.node.bootstrap.discovery = dns", "takes config or kubernetes")]
    [InlineData("sslcluster.node.bootstrap.contact-points = [\"127.0.0.1:8558\"]", "set discovery = config")]
    [InlineData("sslcluster.node.bootstrap.discovery = config", "needs contact-points")]
    [InlineData("sslcluster.node.bootstrap { discovery = config, contact-points = [\"127.0.0.1:8558\", \"127.0.0.3:8558\"] }", "must include this node's own management endpoint 127.0.0.2:8558")]
    [InlineData("sslcluster.node.bootstrap { discovery = config, contact-points = [\"127.0.0.2\"] }", "HOST:PORT")]
    [InlineData("sslcluster.node.bootstrap { discovery = config, contact-points = [\"127.0.0.2:8558\"], required-contact-points = 2 }", "more than the 1 contact points")]
    [InlineData("sslcluster.node.bootstrap.discovery = kubernetes", "needs required-contact-points")]
    [InlineData("sslcluster.node.bootstrap { discovery = kubernetes, required-contact-points = 3, pod-label-selector = \"\" }", "would list every pod")]
    [InlineData("sslcluster.node.bootstrap { discovery = kubernetes, required-contact-points = 3 }\nakka.cluster.seed-nodes = [\"akka.tcp://sslcluster@127.0.0.1:4053\"]", "use one")]
    [InlineData("sslcluster.node.bootstrap { discovery = kubernetes, required-contact-points = 3, management-port = 0 }", "management-port must be from 1 to 65535")]
    public void Resolve_InconsistentBootstrap_RefusedNamingTheKey(string hocon, string expected)
    {
        var config = Parse("akka.remote.dot-netty.tcp.hostname = \"127.0.0.2\"\n" + hocon);

        var e = Assert.Throws<ConfigurationException>(() => ClusterFormation.Resolve(config));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
