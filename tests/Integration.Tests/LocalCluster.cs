using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using SslCluster.Protocol.Demo;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Real sslnode processes forming one cluster on this machine, as ./run.sh --nodes N does: node i on 127.0.0.i
/// (remoting over mutual TLS with certificates of a test CA; formed by Akka Cluster Bootstrap over the contact points
/// of nodes 1..N, the nodes started together), one PostgreSQL database, one master key; each node serves the configured VIP 127.0.0.1 on its own address. The real server behind the VIP sits on
/// 127.0.0.9, which no node maps, so every node reaches the same one.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    public const string Password = "node-pw";

    private readonly DemoHttpServer _backend;

    private LocalCluster(DemoHttpServer backend, int size)
    {
        _backend = backend;
        Size = size;
    }

    /// <summary>The nodes started together, whose contact points every node lists.</summary>
    public int Size { get; }

    /// <summary>The management endpoint's port, the same on every node's address.</summary>
    public int ManagementPort { get; } = NodeProcess.FreePort();

    public string Database { get; } = TestPostgres.NewDatabase();

    public RsaTestAuthority Ca { get; } = RsaTestAuthority.Create("sslcluster test cluster CA");

    public int RemotingPort { get; } = NodeProcess.FreePort();

    public int HttpsPort { get; } = NodeProcess.FreePort();

    public IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>
    {
        ["SSLCLUSTER_MASTER_KEY"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        ["SSLCLUSTER_REMOTING_TLS_PASSWORD"] = Password,
    };

    /// <summary>The port of the real server on 127.0.0.9.</summary>
    public int BackendPort => _backend.LocalEndPoint!.Port;

    /// <summary>Node i (1-based) at index i - 1; null once stopped by the test.</summary>
    public List<NodeProcess?> Nodes { get; } = [];

    public IEnumerable<NodeProcess> Running => Nodes.OfType<NodeProcess>().Where(n => !n.HasExited);

    /// <param name="backendIdleTimeout">How long the back end keeps a connection that sends no request (30 s by default).</param>
    public static async Task<LocalCluster> StartAsync(int nodes, TimeSpan? backendIdleTimeout = null, params string[] extraArgs)
    {
        var backend = new DemoHttpServer(new DemoHttpServerOptions
        {
            EndPoint = new IPEndPoint(IPAddress.Parse("127.0.0.9"), 0),
            Name = "cluster backend",
            IdleTimeout = backendIdleTimeout ?? TimeSpan.FromSeconds(30),
        });
        await backend.StartAsync();
        var cluster = new LocalCluster(backend, nodes);
        try
        {
            // Together, as a deployment starts them: bootstrap forms the cluster once every contact point answers.
            for (var i = 1; i <= nodes; i++) cluster.LaunchNode(i, extraArgs);
            foreach (var node in cluster.Nodes) await node!.WaitReadyAsync(TimeSpan.FromSeconds(90));
            await cluster.WaitForMembersAsync(cluster.Nodes[0]!, nodes, TimeSpan.FromSeconds(60));
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    /// <summary>Starts node i on 127.0.0.i with a fresh data folder (the journal is in PostgreSQL) and waits until it is ready.</summary>
    public async Task<NodeProcess> StartNodeAsync(int i, params string[] extraArgs)
    {
        var node = LaunchNode(i, extraArgs);
        await node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return node;
    }

    /// <summary>Starts node i on 127.0.0.i without waiting for it.</summary>
    public NodeProcess LaunchNode(int i, params string[] extraArgs)
    {
        var node = NodeProcess.Launch(NodeProcess.NewDataDir(), Environment,
            [.. NodeArguments(i, Ca.IssueNodePkcs12($"node{i}", Password)), .. extraArgs]);
        while (Nodes.Count < i) Nodes.Add(null);
        Nodes[i - 1] = node;
        return node;
    }

    /// <summary>Starts node i again where it ran before: its data folder (its admin token) and its admin port.</summary>
    public NodeProcess RelaunchNode(int i)
    {
        var before = Nodes[i - 1] ?? throw new InvalidOperationException($"node {i} never ran");
        var node = NodeProcess.Launch(before.DataDir, Environment, before.AdminPort, NodeArguments(i, Ca.IssueNodePkcs12($"node{i}", Password)));
        before.Dispose();
        Nodes[i - 1] = node;
        return node;
    }

    /// <summary>The contact points node i lists: those of the nodes started together, and its own.</summary>
    public string ContactPoints(int i) =>
        string.Join(",", Enumerable.Range(1, Size).Append(i).Distinct().Select(n => $"127.0.0.{n}:{ManagementPort}"));

    public string[] NodeArguments(int i, string pkcs12) =>
    [
        "--hostname", $"127.0.0.{i}", "--remoting-port", RemotingPort.ToString(CultureInfo.InvariantCulture),
        "--contact-points", ContactPoints(i), "--management-port", ManagementPort.ToString(CultureInfo.InvariantCulture),
        "--journal-postgres", Database, "--address-map", $"127.0.0.1=127.0.0.{i}",
        "--remoting-tls", $"{pkcs12},{Ca.CertificatePemPath}",
    ];

    /// <summary>
    /// Module m, proxy list p, the VIP on port <see cref="HttpsPort"/>, configured through node 1 and ready on every node;
    /// with <paramref name="httpReuse"/>, its ssl-server reads HTTP and re-uses back-end connections.
    /// </summary>
    /// <param name="sslServerLine">One more line for ssl-server 1 (for example <c>ssl-server 1 http-header session</c>).</param>
    public async Task ConfigureVipAsync(string extra = "", bool httpReuse = false, string? sslServerLine = null)
    {
        var node = Running.First();
        await node.MakeKeyAsync("k", "c", "localhost");
        var clear = _backend.LocalEndPoint!.Port;
        var text = NodeProcess.OneVip(HttpsPort, clear).Replace($"127.0.0.1 {clear}", $"127.0.0.9 {clear}", StringComparison.Ordinal) + extra;
        if (httpReuse) sslServerLine = "ssl-server 1 http-reuse";
        if (sslServerLine is not null) text = text.Replace("  ssl-server 1 port", $"  {sslServerLine}\n  ssl-server 1 port", StringComparison.Ordinal);
        var r = await node.CtlWithInputAsync(text, "configure", "-");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var n in Running) await n.WaitReadyAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>The VIP as node i serves it.</summary>
    public Uri Vip(int i) => new($"https://127.0.0.{i}:{HttpsPort}/");

    public async Task WaitForMembersAsync(NodeProcess node, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        ProcessResult r;
        do
        {
            r = await node.CtlAsync("cluster", "show");
            if (UpMembers(r.Stdout) == count) return;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"the cluster never had {count} members up:\n{r}");
    }

    public static int UpMembers(string clusterShow) => clusterShow.Split('\n').Count(l => l.Contains(" Up", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) node?.Dispose();
        await _backend.DisposeAsync();
        Ca.Dispose();
    }
}
