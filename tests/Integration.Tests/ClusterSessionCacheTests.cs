using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 5: TLS 1.2 sessions created on one node resume on every other node, by session ID (replicated cache) and
/// by session ticket (cluster ticket keys), and still do after the node that created them is killed. Issue 11: on the
/// OpenSSL engine, TLS 1.3 tickets too.
/// Checked with openssl s_client -sess_out / -sess_in against real node processes.
/// </summary>
[Collection("nodes")]
public sealed class ClusterSessionCacheTests : IDisposable
{
    private const string Request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    private readonly string _idSession = Path.Combine(Path.GetTempPath(), "sslcluster-id-" + Guid.NewGuid());
    private readonly string _ticketSession = Path.Combine(Path.GetTempPath(), "sslcluster-ticket-" + Guid.NewGuid());

    [Fact]
    public async Task SessionFromNodeOne_ResumesOnNodesTwoAndThree_AndAfterNodeOneIsKilled()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        await cluster.ConfigureVipAsync();

        var byId = await SClientAsync(cluster, 1, $"-no_ticket -sess_out {_idSession}");
        Assert.Contains("New, TLSv1.2", byId.StandardOutput);
        Assert.Contains("cluster backend", byId.StandardOutput);
        var byTicket = await SClientAsync(cluster, 1, $"-sess_out {_ticketSession}");
        Assert.Contains("New, TLSv1.2", byTicket.StandardOutput);
        Assert.Contains("TLS session ticket lifetime hint: 300", byTicket.StandardOutput);

        foreach (var node in new[] { 2, 3 })
        {
            await AssertResumesAsync(cluster, node, $"-no_ticket -sess_in {_idSession}", "session ID");
            await AssertResumesAsync(cluster, node, $"-sess_in {_ticketSession}", "session ticket");
        }

        // sslctl shows the cache of a node: node 1's session arrived as a copy; one ticket key is current.
        var shown = await cluster.Nodes[2]!.CtlAsync("show", "ssl", "sessions");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Matches(@"taken from other nodes: [1-9]", shown.Stdout);
        Assert.Matches(@"opened here: [1-9]", shown.Stdout);
        Assert.Contains("current", shown.Stdout, StringComparison.Ordinal);

        // The node that created both sessions dies without a word: they live on in the other nodes.
        cluster.Nodes[0]!.Kill();
        await AssertResumesAsync(cluster, 3, $"-no_ticket -sess_in {_idSession}", "session ID after kill -9 of node 1");
        await AssertResumesAsync(cluster, 2, $"-sess_in {_ticketSession}", "session ticket after kill -9 of node 1");
    }

    [Fact]
    public async Task Tls13TicketAndTls12SessionFromNodeOne_ResumeOnNodesTwoAndThree_AndAfterNodeOneIsKilled()
    {
        await using var cluster = await LocalCluster.StartAsync(3);

        // A cipher line naming a TLS 1.3 suite beside the TLS 1.2 one: the module then offers both versions.
        await cluster.ConfigureVipAsync($"\nssl-proxy-list p\n  ssl-server 1 cipher tls13-aes-128-gcm-sha256 127.0.0.9 {cluster.BackendPort}\n");

        var tls13 = await SClientAsync(cluster, 1, $"-sess_out {_ticketSession}", "-tls1_3");
        Assert.Contains("New, TLSv1.3", tls13.StandardOutput);
        Assert.Contains("cluster backend", tls13.StandardOutput);
        var byId = await SClientAsync(cluster, 1, $"-no_ticket -sess_out {_idSession}");
        Assert.Contains("New, TLSv1.2", byId.StandardOutput);

        foreach (var node in new[] { 2, 3 })
        {
            await AssertResumesAsync(cluster, node, $"-sess_in {_ticketSession}", "TLS 1.3 ticket", "-tls1_3");
            await AssertResumesAsync(cluster, node, $"-no_ticket -sess_in {_idSession}", "TLS 1.2 session ID");
        }

        cluster.Nodes[0]!.Kill();
        await AssertResumesAsync(cluster, 2, $"-sess_in {_ticketSession}", "TLS 1.3 ticket after kill -9 of node 1", "-tls1_3");
        await AssertResumesAsync(cluster, 3, $"-no_ticket -sess_in {_idSession}", "TLS 1.2 session ID after kill -9 of node 1");
    }

    private static async Task AssertResumesAsync(LocalCluster cluster, int node, string arguments, string what, string version = "-tls1_2")
    {
        // Replication runs behind the handshake that created the session: allow it a moment, bounded.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var r = await SClientAsync(cluster, node, arguments, version);
            if (r.AllOutput.Contains(version == "-tls1_3" ? "Reused, TLSv1.3" : "Reused, TLSv1.2", StringComparison.Ordinal))
            {
                Assert.Contains("cluster backend", r.StandardOutput);
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{what} not resumed on node {node}:\n{r.AllOutput}");
            await Task.Delay(500);
        }
    }

    private static Task<SslCluster.TestSupport.ProcessResult> SClientAsync(LocalCluster cluster, int node, string arguments, string version = "-tls1_2") =>
        OpenSslClient.RunAsync("openssl", $"s_client -connect 127.0.0.{node}:{cluster.HttpsPort} {version} -ign_eof {arguments}",
            Request, OpenSslClient.DefaultTimeout);

    public void Dispose()
    {
        File.Delete(_idSession);
        File.Delete(_ticketSession);
    }
}
