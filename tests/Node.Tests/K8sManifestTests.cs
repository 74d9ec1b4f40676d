using Akka.Configuration;
using k8s;
using k8s.Models;
using SslCluster.Actors.Settings;
using SslCluster.Node;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Node.Tests;

/// <summary>
/// Issue 13: the manifests in k8s/ as kubectl builds them (kustomize, from Debian's kubectl), read back with the
/// Kubernetes client's own models in strict mode (an unknown or misspelled field fails), and checked against what the
/// node needs: the bootstrap settings of the ConfigMap, the ports and probes, the Secrets every reference names, the
/// shutdown phases that the grace period must cover. kubectl's client-side dry run needs an API server for its
/// discovery, which this machine does not have; kustomize and the models stand for it.
/// </summary>
public sealed class K8sManifestTests
{
    private static readonly string K8s = Path.Combine(RepoPaths.Root, "k8s");

    /// <summary>The demo overlay built from a copy of k8s/ whose Secrets' files make-secrets.sh made.</summary>
    private static readonly Lazy<List<object>> Demo = new(() =>
    {
        var copy = Directory.CreateTempSubdirectory("sslcluster-k8s-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(K8s, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/secrets/", StringComparison.Ordinal)))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(K8s, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            var made = Shell("bash", Path.Combine(copy, "demo", "make-secrets.sh"));
            Assert.True(made.ExitCode == 0, made.Output);
            return Build(Path.Combine(copy, "demo"));
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    });

    /// <summary>Debian's kubectl, or none (then these tests are reported skipped, with the reason).</summary>
    private static readonly Lazy<string?> KubectlMissing = new(() =>
    {
        try
        {
            var version = Shell("kubectl", "version", "--client");
            return version.ExitCode == 0 ? null : "kubectl does not run: " + version.Output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "kubectl is not installed (./test.sh installs it where a package source offers it)";
        }
    });

    private static void NeedKubectl() => Skip.If(KubectlMissing.Value is not null, KubectlMissing.Value);

    private static List<object> Build(string folder)
    {
        var built = Shell("kubectl", "kustomize", folder);
        Assert.True(built.ExitCode == 0, built.Output);
        return KubernetesYaml.LoadAllFromString(built.Output, strict: true);
    }

    private static V1StatefulSet Node(List<object> objects) => objects.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == "sslcluster");

    private static V1Container Container(List<object> objects) => Node(objects).Spec.Template.Spec.Containers.Single();

    [SkippableFact]
    public void Kustomize_Base_BuildsEveryObjectTheClusterNeeds()
    {
        NeedKubectl();
        var objects = Build(Path.Combine(K8s, "base"));

        Assert.Equal(
            ["ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "Service", "ServiceAccount", "StatefulSet"],
            objects.Select(o => ((IKubernetesObject)o).Kind).Order(StringComparer.Ordinal));
        Assert.All(objects, o => Assert.Equal("sslcluster", ((IKubernetesObject<V1ObjectMeta>)o).Metadata.Labels["app.kubernetes.io/part-of"]));
    }

    /// <summary>
    /// The node's configuration as a pod of the StatefulSet gets it: its own arguments, with the image's cluster.conf
    /// and the ConfigMap's overlay where the container finds them, and 10.8.0.12 for its address.
    /// </summary>
    private static Config PodConfig(List<object> objects)
    {
        var overlay = objects.OfType<V1ConfigMap>().Single(c => c.Metadata.Name == "sslcluster-config").Data["overlay.conf"];
        var folder = Directory.CreateTempSubdirectory("sslcluster-k8s-conf-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "overlay.conf"), overlay);
            var args = Container(objects).Args
                .Select(a => a.Replace("/etc/sslcluster/cluster.conf", Path.Combine(RepoPaths.Root, "hocon", "cluster.conf"), StringComparison.Ordinal)
                    .Replace("/etc/sslcluster/overlay/overlay.conf", Path.Combine(folder, "overlay.conf"), StringComparison.Ordinal)
                    .Replace("$(POD_IP)", "10.8.0.12", StringComparison.Ordinal))
                .ToArray();
            return NodeOptions.Parse(args, _ => null).Config.WithFallback(SslClusterSettings.Reference);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public void Demo_ConfigMapOverlay_GivesEveryPodKubernetesBootstrapForTheReplicas()
    {
        NeedKubectl();
        var objects = Demo.Value;
        var set = Node(objects);
        var config = PodConfig(objects);

        var (method, formation) = ClusterFormation.Resolve(config);

        Assert.Equal(FormationMethod.Kubernetes, method);
        Assert.Equal(set.Spec.Replicas, formation.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr"));
        Assert.Equal("10.8.0.12", formation.GetString("akka.management.http.hostname"));
        var selector = formation.GetString("akka.discovery.kubernetes-api.pod-label-selector").Split('=');
        Assert.Equal(selector[1], set.Spec.Template.Metadata.Labels[selector[0]]);
        Assert.Equal(formation.GetInt("akka.management.http.port"), Container(objects).Ports.Single(p => p.Name == "management").ContainerPort);
        Assert.Equal("management", formation.GetString("akka.management.cluster.bootstrap.contact-point-discovery.port-name"));
        Assert.Equal(Container(objects).Ports.Single(p => p.Name == "remoting").ContainerPort, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.True(config.GetBoolean("sslcluster.node.demo.enabled"));
    }

    [SkippableFact]
    public void Demo_StatefulSet_StartsTogetherRunsLockedDownAndProbesTheManagementPort()
    {
        NeedKubectl();
        var objects = Demo.Value;
        var set = Node(objects);
        var pod = set.Spec.Template.Spec;
        var container = Container(objects);

        Assert.Equal(3, set.Spec.Replicas);
        Assert.Equal("Parallel", set.Spec.PodManagementPolicy);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(10001, pod.SecurityContext.RunAsUser);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        // Writable places of a read-only root: the data folder and /tmp.
        Assert.Equal(["/tmp", "/var/lib/sslcluster"], container.VolumeMounts.Where(m => m.ReadOnlyProperty != true).Select(m => m.MountPath).Order(StringComparer.Ordinal));
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("/healthz", container.StartupProbe.HttpGet.Path);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.All(new[] { container.LivenessProbe, container.StartupProbe, container.ReadinessProbe }, p => Assert.Equal("management", p.HttpGet.Port.Value));
        Assert.Equal(["/bin/sh", "-c", "sleep 5; exec /app/sslctl node drain"], container.Lifecycle.PreStop.Exec.Command);
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(container.Resources.Limits["memory"]);
        Assert.Equal(set.Spec.Template.Metadata.Labels, set.Spec.Selector.MatchLabels);
        var pdb = objects.OfType<V1PodDisruptionBudget>().Single();
        Assert.Equal("1", pdb.Spec.MaxUnavailable.Value);
        Assert.Equal(set.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels);
    }

    [SkippableFact]
    public void Demo_TerminationGrace_ExceedsEveryShutdownPhaseTogether()
    {
        NeedKubectl();
        // The pod's own configuration (the ConfigMap may raise the drain's time): Akka's phases and the drain's phase.
        var config = PodConfig(Demo.Value).WithFallback(ConfigurationFactory.Default());
        var phases = config.GetConfig("akka.coordinated-shutdown.phases");
        var total = phases.AsEnumerable().Select(p => p.Key.Split('.')[0]).Distinct(StringComparer.Ordinal)
            .Sum(name => phases.GetTimeSpan($"{name}.timeout", config.GetTimeSpan("akka.coordinated-shutdown.default-phase-timeout")).TotalSeconds);

        Assert.True(total > 60, $"the phases add up to {total} s: is drain-connections among them?");
        Assert.True(Node(Demo.Value).Spec.Template.Spec.TerminationGracePeriodSeconds > total,
            $"terminationGracePeriodSeconds {Node(Demo.Value).Spec.Template.Spec.TerminationGracePeriodSeconds} must exceed the {total} s of the shutdown phases");
    }

    [SkippableFact]
    public void Demo_SecretsAndServices_EveryReferenceResolves()
    {
        NeedKubectl();
        var objects = Demo.Value;
        var secrets = objects.OfType<V1Secret>().ToDictionary(s => s.Metadata.Name, StringComparer.Ordinal);
        var pods = objects.OfType<V1StatefulSet>().Select(s => s.Spec.Template.Spec).ToList();

        foreach (var env in pods.SelectMany(p => p.Containers).SelectMany(c => c.Env ?? []).Where(e => e.ValueFrom?.SecretKeyRef is not null))
        {
            var reference = env.ValueFrom.SecretKeyRef;
            Assert.True(secrets.TryGetValue(reference.Name, out var secret), $"{env.Name}: no Secret {reference.Name}");
            Assert.True(secret.Data.ContainsKey(reference.Key), $"{env.Name}: Secret {reference.Name} has no key {reference.Key}");
            Assert.NotEmpty(secret.Data[reference.Key]);
        }
        var remoting = pods.SelectMany(p => p.Volumes ?? []).Single(v => v.Name == "remoting").Secret;
        Assert.Equal(["ca.pem", "node.p12"], secrets[remoting.SecretName].Data.Keys.Order(StringComparer.Ordinal));

        // The node may list pods, and nothing else.
        var role = objects.OfType<V1Role>().Single();
        Assert.Equal(["get", "list", "watch"], role.Rules.Single().Verbs.Order(StringComparer.Ordinal));
        Assert.Equal(["pods"], role.Rules.Single().Resources);
        var binding = objects.OfType<V1RoleBinding>().Single();
        Assert.Equal(role.Metadata.Name, binding.RoleRef.Name);
        Assert.Equal(Node(objects).Spec.Template.Spec.ServiceAccountName, binding.Subjects.Single().Name);

        var services = objects.OfType<V1Service>().ToDictionary(s => s.Metadata.Name, StringComparer.Ordinal);
        Assert.True(services[Node(objects).Spec.ServiceName].Spec.PublishNotReadyAddresses);
        Assert.Equal("None", services[Node(objects).Spec.ServiceName].Spec.ClusterIP);
        var https = Container(objects).Ports.Single(p => p.Name == "https").ContainerPort;
        Assert.Equal(https.ToString(System.Globalization.CultureInfo.InvariantCulture), services["sslcluster-vip"].Spec.Ports.Single().TargetPort.Value);
        Assert.Equal(https, SslClusterSettings.Reference.GetInt("sslcluster.node.demo.https-port"));
        Assert.Equal("sslcluster-demo", Node(objects).Metadata.NamespaceProperty);
    }

    [SkippableFact]
    public void Demo_NetworkPolicy_VipOpenClusterPortsToTheNodesAlone()
    {
        NeedKubectl();
        var objects = Demo.Value;
        var policy = objects.OfType<V1NetworkPolicy>().Single();
        var pod = Node(objects).Spec.Template;
        var ports = Container(objects).Ports.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

        // It selects the nodes, and every port it names is one of theirs.
        Assert.All(policy.Spec.PodSelector.MatchLabels, l => Assert.Equal(l.Value, pod.Metadata.Labels[l.Key]));
        Assert.Equal(["Ingress"], policy.Spec.PolicyTypes);
        Assert.All(policy.Spec.Ingress.SelectMany(r => r.Ports), p => Assert.Contains(p.Port.Value, ports));
        // The VIP from anywhere; remoting only from the nodes; the management port never from anywhere.
        var open = policy.Spec.Ingress.Where(r => r.FromProperty is null || r.FromProperty.Count == 0).SelectMany(r => r.Ports).Select(p => p.Port.Value).ToList();
        Assert.Equal(["https"], open);
        var remoting = policy.Spec.Ingress.Where(r => r.Ports.Any(p => p.Port.Value == "remoting")).ToList();
        var peers = Assert.Single(Assert.Single(remoting).FromProperty);
        Assert.All(peers.PodSelector.MatchLabels, l => Assert.Equal(l.Value, pod.Metadata.Labels[l.Key]));
        Assert.Null(peers.NamespaceSelector);
        Assert.All(policy.Spec.Ingress.Where(r => r.Ports.Any(p => p.Port.Value == "management")), r => Assert.NotEmpty(r.FromProperty));
    }

    private static (int ExitCode, string Output) Shell(string file, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) p.Kill(true);
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
