using System.Net;
using System.Net.Sockets;
using Xunit;
using Xunit.Abstractions;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Issue 5: a keepalive is owned by one BackendServer entity for the whole cluster. The real server sees one probe
/// per interval (not one per node), every node shows the same verdict, and when the oldest node is killed the
/// keepalive goes on from wherever its entity lands.
/// </summary>
[Collection("nodes")]
public sealed class ClusterKeepaliveTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TcpKeepalive_ThreeNodes_OneProberSameVerdictEverywhereSurvivesKill()
    {
        var listener = new TcpListener(IPAddress.Parse("127.0.0.9"), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        long probes = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var accepting = AcceptAsync(listener, () => Interlocked.Increment(ref probes), stop.Token);
        try
        {
            await using var cluster = await LocalCluster.StartAsync(3);
            await cluster.ConfigureVipAsync($"""

                service web
                  ip address 127.0.0.9
                  port {port}
                  keepalive type tcp
                  keepalive frequency 2
                  keepalive retryperiod 2
                  keepalive maxfailure 1
                  active
                """);
            foreach (var node in cluster.Running) await WaitForStateAsync(node, "State: Alive", TimeSpan.FromSeconds(20));

            // Ten seconds at one probe every 2 s: about 5 probes from one owner, about 15 if every node probed.
            var before = Interlocked.Read(ref probes);
            await Task.Delay(TimeSpan.FromSeconds(10));
            var inTenSeconds = Interlocked.Read(ref probes) - before;
            output.WriteLine($"probes seen by the real server in 10 s with 3 nodes: {inTenSeconds}");
            Assert.InRange(inTenSeconds, 3, 8);

            // The server stops: every node says Down (one verdict, copied to all).
            await stop.CancelAsync();
            listener.Stop();
            await accepting;
            foreach (var node in cluster.Running) await WaitForStateAsync(node, "State: Down", TimeSpan.FromSeconds(20));

            // The oldest node dies; the server comes back: the keepalive runs on from a surviving node.
            cluster.Nodes[0]!.Kill();
            var again = new TcpListener(IPAddress.Parse("127.0.0.9"), port);
            again.Start();
            using var stopAgain = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            long probesAgain = 0;
            var acceptingAgain = AcceptAsync(again, () => Interlocked.Increment(ref probesAgain), stopAgain.Token);
            try
            {
                foreach (var node in cluster.Running) await WaitForStateAsync(node, "State: Alive", TimeSpan.FromSeconds(60));
                // A keepalive that moved restarts as Alive by design, so Alive alone proves nothing: the server must
                // see probes again, from whichever survivor owns the keepalive now.
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (Interlocked.Read(ref probesAgain) < 2 && DateTime.UtcNow < deadline) await Task.Delay(200);
                Assert.True(Interlocked.Read(ref probesAgain) >= 2, $"only {probesAgain} probe(s) reached the server after node 1 was killed");
            }
            finally
            {
                await stopAgain.CancelAsync();
                again.Stop();
                await acceptingAgain;
            }
        }
        finally
        {
            await stop.CancelAsync();
            listener.Stop();
            await accepting;
        }
    }

    private static async Task AcceptAsync(TcpListener listener, Action counted, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(ct);
                counted();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task WaitForStateAsync(NodeProcess node, string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        ProcessResult r;
        do
        {
            r = await node.CtlAsync("show", "service", "web");
            if (r.Stdout.Contains(state, StringComparison.Ordinal)) return;
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"service web never showed '{state}' on the node on admin port {node.AdminPort}:\n{r}");
    }
}
