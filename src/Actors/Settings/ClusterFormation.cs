using System.Globalization;
using Akka.Configuration;

namespace SslCluster.Actors.Settings;

/// <summary>How a node finds its cluster (<c>sslcluster.node.bootstrap</c> in reference.conf).</summary>
public enum FormationMethod
{
    /// <summary>The seed nodes of <c>akka.cluster.seed-nodes</c>; with none, the node forms a cluster of itself.</summary>
    Seeds,

    /// <summary>Akka Cluster Bootstrap over a fixed list of contact points (local clusters, tests, fixed hosts).</summary>
    Config,

    /// <summary>Akka Cluster Bootstrap over the pods the Kubernetes API lists by label.</summary>
    Kubernetes,
}

/// <summary>
/// Turns <c>sslcluster.node.bootstrap</c> into the settings of Akka.Management, Cluster Bootstrap and Akka.Discovery.
/// Bootstrap replaces seed lists: every node probes the contact points' management endpoints, and only when the
/// required number of them answer, none is in a cluster yet, and the set has been stable, the node with the lowest
/// contact point forms the cluster; the others join it. Nodes starting together therefore form one cluster, never two.
/// </summary>
public static class ClusterFormation
{
    /// <summary>The name every contact point is looked up by (config discovery's service, Kubernetes' effective name).</summary>
    public const string ServiceName = "sslcluster";

    private const string KubernetesApiPath = "akka.discovery.kubernetes-api";

    /// <summary>The method and the settings it needs, layered over <paramref name="config"/> by the caller; throws a
    /// <see cref="ConfigurationException"/> naming the key when the bootstrap block is inconsistent.</summary>
    public static (FormationMethod Method, Config Overlay) Resolve(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var full = config.WithFallback(SslClusterSettings.Reference);
        var b = full.GetConfig("sslcluster.node.bootstrap");
        var discovery = b.GetString("discovery", "").Trim().ToLowerInvariant();
        var contactPoints = b.GetStringList("contact-points") ?? [];
        var seeds = full.GetStringList("akka.cluster.seed-nodes") ?? [];
        if (discovery.Length == 0)
        {
            if (contactPoints.Count > 0)
                throw new ConfigurationException("sslcluster.node.bootstrap.contact-points is set but bootstrap.discovery is not; set discovery = config");
            return (FormationMethod.Seeds, ConfigurationFactory.Empty);
        }
        if (discovery is not ("config" or "kubernetes"))
            throw new ConfigurationException($"sslcluster.node.bootstrap.discovery takes config or kubernetes (or \"\" for seed nodes), not '{discovery}'");
        if (seeds.Count > 0)
            throw new ConfigurationException("akka.cluster.seed-nodes (--seed) and sslcluster.node.bootstrap.discovery both say how to form the cluster; use one");

        var host = b.GetString("management-host", "");
        if (host.Length == 0) host = full.GetString("akka.remote.dot-netty.tcp.hostname", "");
        if (host.Length == 0)
            throw new ConfigurationException("cluster bootstrap needs this node's address: set akka.remote.dot-netty.tcp.hostname (--hostname) or sslcluster.node.bootstrap.management-host");
        var port = b.GetInt("management-port");
        if (port is < 1 or > 65535)
            throw new ConfigurationException($"sslcluster.node.bootstrap.management-port must be from 1 to 65535, not {port}");
        var required = b.GetInt("required-contact-points");
        if (required < 0)
            throw new ConfigurationException($"sslcluster.node.bootstrap.required-contact-points must be 1 or more (0: the number of contact-points), not {required}");

        var text = new System.Text.StringBuilder();
        text.Append("akka.management.http.hostname = ").Append(Quote(host)).Append('\n');
        text.Append("akka.management.http.port = ").Append(port.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("akka.management.cluster.bootstrap.new-cluster-enabled = ").Append(b.GetBoolean("new-cluster-enabled") ? "on" : "off").Append('\n');
        var d = "akka.management.cluster.bootstrap.contact-point-discovery.";
        text.Append(d).Append("service-name = ").Append(Quote(ServiceName)).Append('\n');
        text.Append(d).Append("stable-margin = ").Append(Quote(b.GetString("stable-margin"))).Append('\n');
        // A node that bootstrap sent to join a cluster which never answered stops, so that its supervisor (Kubernetes,
        // run.sh) starts it again rather than leaving it running outside any cluster.
        text.Append("akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = ").Append(Quote(b.GetString("join-timeout"))).Append('\n');
        if (discovery == "config")
        {
            if (contactPoints.Count == 0)
                throw new ConfigurationException("sslcluster.node.bootstrap.discovery = config needs contact-points: the HOST:PORT of every node's management endpoint (--contact-points)");
            foreach (var point in contactPoints) ParseContactPoint(point);
            if (!contactPoints.Contains($"{host}:{port}", StringComparer.OrdinalIgnoreCase))
                throw new ConfigurationException($"sslcluster.node.bootstrap.contact-points must include this node's own management endpoint {host}:{port}: the lowest contact point forms the cluster, and each node must recognize itself");
            if (required > contactPoints.Count)
                throw new ConfigurationException($"sslcluster.node.bootstrap.required-contact-points ({required}) is more than the {contactPoints.Count} contact points listed");
            text.Append(d).Append("discovery-method = config\n");
            text.Append(d).Append("required-contact-point-nr = ").Append((required == 0 ? contactPoints.Count : required).ToString(CultureInfo.InvariantCulture)).Append('\n');
            // Config discovery always lists every contact point, so Akka would wait for all of them to answer; fewer
            // required means the others may be down when the cluster forms.
            if (required > 0 && required < contactPoints.Count) text.Append(d).Append("contact-with-all-contact-points = off\n");
            text.Append("akka.discovery.config.services.").Append(ServiceName).Append(".endpoints = [")
                .Append(string.Join(", ", contactPoints.Select(Quote))).Append("]\n");
        }
        else
        {
            if (contactPoints.Count > 0)
                throw new ConfigurationException("sslcluster.node.bootstrap.contact-points is for discovery = config; Kubernetes discovery lists the pods itself");
            if (required == 0)
                throw new ConfigurationException("sslcluster.node.bootstrap.discovery = kubernetes needs required-contact-points: the StatefulSet's replicas, so that pods starting together form one cluster");
            var selector = b.GetString("pod-label-selector", "");
            if (selector.Length == 0)
                throw new ConfigurationException("sslcluster.node.bootstrap.pod-label-selector is empty: Kubernetes discovery would list every pod of the namespace");
            text.Append(d).Append("discovery-method = kubernetes-api\n");
            text.Append(d).Append("required-contact-point-nr = ").Append(required.ToString(CultureInfo.InvariantCulture)).Append('\n');
            // The container port named "management" (k8s/statefulset.yaml) is the contact point's port.
            text.Append(d).Append("port-name = management\n");
            // The caller layers this overlay over the node's configuration, and the plugin's defaults come with it
            // below: the operator's own akka.discovery.kubernetes-api keys (a token path, all-namespaces, a container
            // name) are written into the overlay so that they win over those defaults.
            if (config.HasPath(KubernetesApiPath))
            {
                foreach (var (key, value) in config.GetConfig(KubernetesApiPath).AsEnumerable())
                {
                    if (key == "pod-label-selector" || !value.IsString()) continue;
                    text.Append(KubernetesApiPath).Append('.').Append(key).Append(" = ").Append(Quote(value.GetString())).Append('\n');
                }
            }
            text.Append(KubernetesApiPath).Append(".pod-label-selector = ").Append(Quote(selector)).Append('\n');
        }
        var overlay = ConfigurationFactory.ParseString(text.ToString());
        // The Kubernetes plugin's own settings (its class, the API's address variables) come with it, not by themselves.
        if (discovery == "kubernetes") overlay = overlay.WithFallback(Akka.Discovery.KubernetesApi.KubernetesDiscovery.DefaultConfiguration());
        return (discovery == "config" ? FormationMethod.Config : FormationMethod.Kubernetes, overlay);
    }

    /// <summary>HOST and PORT of a contact point; throws with the reason when it is not one.</summary>
    public static (string Host, int Port) ParseContactPoint(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new ConfigurationException($"a contact point is HOST:PORT (a node's management endpoint), not '{value}'");
        return (value[..colon], port);
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
