using System.Net;
using System.Text.Json;
using SslCluster.Protocol.Demo;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// A node that sees one core (<c>DOTNET_PROCESSOR_COUNT=1</c>, as with a CPU quota of one or <c>taskset</c> to one
/// core) starts each connection's data path on the accepting thread, inside the inline run of its dispatcher, agent
/// and connection actor (src/Actors/Dispatch/InlineExecutor.cs); on more cores, as in every other test here, it is
/// queued. This drives that path with thousands of new TLS connections.
/// </summary>
[Collection("nodes")]
public sealed class OneCoreNodeTests
{
    [Fact]
    public async Task OneCoreNode_ThousandsOfNewConnections_EveryRequestServedAndEveryConnectionsActorStops()
    {
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, clear), Name = "one-core backend" });
        await backend.StartAsync();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "1" });
        await node.MakeKeyAsync("k", "c", "localhost");
        var applied = await node.CtlWithInputAsync(NodeProcess.OneVip(https, clear), "configure", "-");
        Assert.True(applied.ExitCode == 0, applied.ToString());
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        const int Workers = 40;
        const int PerWorker = 50;
        var ok = 0;
        var failures = new List<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Workers), new ParallelOptions { MaxDegreeOfParallelism = Workers }, async (_, ct) =>
        {
            using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } })
            {
                Timeout = TimeSpan.FromSeconds(30),
            };
            http.DefaultRequestHeaders.ConnectionClose = true; // a new connection, and a full handshake, every request
            for (var i = 0; i < PerWorker; i++)
            {
                try
                {
                    using var response = await http.GetAsync(new Uri($"https://127.0.0.1:{https}/"), ct);
                    if (response.StatusCode == HttpStatusCode.OK) Interlocked.Increment(ref ok);
                    else lock (failures) failures.Add(response.StatusCode.ToString());
                }
                catch (HttpRequestException e)
                {
                    lock (failures) failures.Add(e.Message);
                }
            }
        });

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        Assert.Equal(Workers * PerWorker, ok);
        // Every connection's actor stopped once its data path ended (the end runs inline too).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        int open;
        do
        {
            var r = await node.CtlAsync("-o", "json", "show", "connections");
            Assert.True(r.ExitCode == 0, r.ToString());
            using var doc = JsonDocument.Parse(r.Stdout);
            open = doc.RootElement.GetProperty("nodes").EnumerateArray().Sum(n => n.GetProperty("rows").GetArrayLength());
            if (open == 0) break;
            await Task.Delay(300);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(0, open);
    }
}
