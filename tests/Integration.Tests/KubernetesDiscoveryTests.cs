using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Cluster formation through Kubernetes API discovery, with real node processes configured as k8s/base configures
/// them (<c>discovery = kubernetes</c>, three required contact points, the pods' label, the container port named
/// <c>management</c>, the service account's token and namespace files) and the real client library asking a stand-in
/// of the API server (<see cref="KubernetesApiStandIn"/>) for the pods: no API server can run on this machine.
/// </summary>
public sealed class KubernetesDiscoveryTests
{
    private const string Namespace = "sslcluster-test";
    private const string Selector = "app.kubernetes.io/name=sslcluster";
    private static readonly Dictionary<string, string> OurLabels = new() { ["app.kubernetes.io/name"] = "sslcluster", ["statefulset.kubernetes.io/pod-name"] = "x" };

    [Fact]
    public async Task KubernetesDiscovery_RbacDeniedThenAPodPending_FormsNothing_ThenOneClusterOfTheThreeReplicas_AReplacedPodRejoins()
    {
        using var ca = RsaTestAuthority.Create("stand-in Kubernetes CA");
        using var apiCertificate = ca.IssueServer("kubernetes.default.svc", IPAddress.Loopback);
        using var apiX509 = apiCertificate.ToX509WithKey();
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        await using var api = await KubernetesApiStandIn.StartAsync(apiX509, token, Namespace);
        // The service account's files, as Kubernetes mounts them into every pod.
        var account = Directory.CreateTempSubdirectory("sslcluster-sa-").FullName;
        File.WriteAllText(Path.Combine(account, "token"), token);
        File.WriteAllText(Path.Combine(account, "namespace"), Namespace);
        var kubeconfig = api.WriteKubeconfig(account, ca.CertificatePemPath);

        var management = NodeProcess.FreePort();
        var remoting = NodeProcess.FreePort();
        StandInPod Pod(int i, string phase) =>
            new($"sslcluster-{i - 1}", Namespace, OurLabels, phase, phase == "Running" ? $"127.0.0.{i}" : null, management);
        api.Forbid = true;
        api.Pods =
        [
            Pod(1, "Running"), Pod(2, "Running"), Pod(3, "Pending"),
            // Neither of these may become a contact point: another application's pod, and ours in another namespace.
            new("postgres-0", Namespace, new Dictionary<string, string> { ["app.kubernetes.io/name"] = "postgres" }, "Running", "127.0.0.5", management),
            new("sslcluster-0", "other", OurLabels, "Running", "127.0.0.6", management),
        ];

        var database = TestPostgres.NewDatabase();
        var environment = new Dictionary<string, string>
        {
            ["SSLCLUSTER_MASTER_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["SSLCLUSTER_REMOTING_TLS_PASSWORD"] = LocalCluster.Password,
            ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1",
            ["KUBERNETES_SERVICE_PORT"] = api.Port.ToString(CultureInfo.InvariantCulture),
            ["KUBECONFIG"] = kubeconfig,
        };
        var nodes = new List<NodeProcess>();
        try
        {
            NodeProcess Launch(int i) =>
                NodeProcess.Launch(NodeProcess.NewDataDir(), environment,
                    "--hostname", $"127.0.0.{i}", "--remoting-port", remoting.ToString(CultureInfo.InvariantCulture),
                    "--discovery", "kubernetes", "--management-port", management.ToString(CultureInfo.InvariantCulture),
                    "--set", "sslcluster.node.bootstrap.required-contact-points=3",
                    "--set", "sslcluster.node.bootstrap.stable-margin=2s",
                    "--set", $"akka.discovery.kubernetes-api.api-token-path={Path.Combine(account, "token")}",
                    "--set", $"akka.discovery.kubernetes-api.pod-namespace-path={Path.Combine(account, "namespace")}",
                    "--journal-postgres", database, "--address-map", $"127.0.0.1=127.0.0.{i}",
                    "--remoting-tls", $"{ca.IssueNodePkcs12($"node{i}", LocalCluster.Password)},{ca.CertificatePemPath}");
            for (var i = 1; i <= 3; i++) nodes.Add(Launch(i));

            // RBAC denies the list: every node says so in its log and none forms a cluster.
            await WaitForRequestsAsync(api, 403, 6, nodes);
            foreach (var node in nodes)
            {
                await WaitForOutputAsync(node, "Forbidden to communicate with Kubernetes API server; check RBAC settings");
                Assert.Empty(await UpMembersAsync(node));
            }

            // Allowed, but the third replica is still Pending: two contact points of the three required, no cluster.
            api.Forbid = false;
            await WaitForRequestsAsync(api, 200, 9, nodes);
            await Task.Delay(TimeSpan.FromSeconds(4)); // longer than the stable margin
            foreach (var node in nodes) Assert.Empty(await UpMembersAsync(node));

            // The third pod runs: the three replicas form one cluster, the lowest address first.
            api.Pods = [.. api.Pods.Select(p => p.Name == "sslcluster-2" && p.Namespace == Namespace ? Pod(3, "Running") : p)];
            foreach (var members in await WaitForMembersAsync(nodes, 3, TimeSpan.FromSeconds(90)))
                Assert.Equal([.. Enumerable.Range(1, 3).Select(i => $"akka.ssl.tcp://sslcluster@127.0.0.{i}:{remoting}")], members);
            var started = $"cluster bootstrap: contact point http://127.0.0.1:{management}/, discovery kubernetes-api (pods labelled {Selector}, port 'management'), 3 contact point(s) required";
            Assert.True(nodes[0].Output.Contains(started, StringComparison.Ordinal), nodes[0].Output);

            // Every request carried the service account's token and the configured selector, in the pod's namespace.
            var requests = api.Requests.ToList();
            Assert.All(requests, r =>
            {
                Assert.Equal(Namespace, r.Namespace);
                Assert.Equal(Selector, r.LabelSelector);
                Assert.Equal("Bearer " + token, r.Authorization);
            });
            foreach (var node in nodes) await node.WaitReadyAsync(TimeSpan.FromSeconds(60));

            // The pod sslcluster-0 is replaced, as a rolling update does: its node leaves, and the new pod comes back
            // with another IP. It finds the two others in a cluster through the API and joins them.
            Assert.Equal(0, await nodes[0].TerminateAsync(TimeSpan.FromSeconds(60)));
            api.Pods = [.. api.Pods.Select(p => p.Name == "sslcluster-0" && p.Namespace == Namespace ? p with { PodIp = "127.0.0.4" } : p)];
            nodes[0].Dispose();
            nodes[0] = Launch(4);
            foreach (var members in await WaitForMembersAsync(nodes, 3, TimeSpan.FromSeconds(90)))
                Assert.Equal([.. new[] { 2, 3, 4 }.Select(i => $"akka.ssl.tcp://sslcluster@127.0.0.{i}:{remoting}")], members);
        }
        finally
        {
            foreach (var node in nodes) node.Dispose();
            Directory.Delete(account, true);
        }
    }

    private static async Task WaitForRequestsAsync(KubernetesApiStandIn api, int status, int count, List<NodeProcess> nodes)
    {
        var seen = api.Requests.Count(r => r.Status == status);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (api.Requests.Count(r => r.Status == status) < seen + count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the API was not asked {count} times more with answer {status}: {KubernetesApiStandIn.Describe(api.Requests)}\n{string.Join("\n----\n", nodes.Select(n => n.Output))}");
            foreach (var node in nodes)
                if (node.HasExited) throw new InvalidOperationException($"a node exited with {node.ExitCode}:\n{node.Output}");
            await Task.Delay(200);
        }
    }

    private static async Task WaitForOutputAsync(NodeProcess node, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!node.Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the node never logged '{text}':\n{node.Output}");
            await Task.Delay(200);
        }
    }

    /// <summary>The members Up as the node sees them, in address order; none while it is in no cluster (its admin
    /// endpoint answers meanwhile).</summary>
    private static async Task<List<string>> UpMembersAsync(NodeProcess node)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var r = await node.CtlAsync("-o", "json", "cluster", "show");
            if (r.ExitCode == 0)
            {
                using var doc = JsonDocument.Parse(r.Stdout);
                return [.. doc.RootElement.GetProperty("members").EnumerateArray()
                    .Where(m => m.GetProperty("status").GetString() == "Up").Select(m => m.GetProperty("address").GetString()!).Order(StringComparer.Ordinal)];
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(r.ToString());
            await Task.Delay(300);
        }
    }

    /// <summary>Waits until every node sees <paramref name="count"/> members Up; returns what each node sees.</summary>
    private static async Task<List<List<string>>> WaitForMembersAsync(List<NodeProcess> nodes, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var views = new List<List<string>>();
        foreach (var node in nodes)
        {
            List<string> up;
            while ((up = await UpMembersAsync(node)).Count != count)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"never {count} members up:\n{string.Join("\n----\n", nodes.Select(n => n.Output))}");
                await Task.Delay(500);
            }
            views.Add(up);
        }
        return views;
    }
}
