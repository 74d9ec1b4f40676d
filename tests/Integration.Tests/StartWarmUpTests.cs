using System.Net;
using System.Net.Sockets;
using SslCluster.Protocol.Demo;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// A node on two cores runs its data-path warm-up beside the cluster's start: its listeners bind as soon as their
/// configuration is in force, /readyz says it is warming up, and a client that comes then waits in the listen
/// backlog and is served once the warm-up has run (never refused). A real node process with its journal from a start
/// before, real loopback sockets, curl.
/// </summary>
[Collection("nodes")]
public sealed class StartWarmUpTests
{
    [Fact]
    public async Task Start_ClientComesDuringTheWarmUp_WaitsAndIsServedAfterIt()
    {
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, clear), Name = "warm-up backend" });
        await backend.StartAsync();
        var data = NodeProcess.NewDataDir();
        using (var first = await NodeProcess.StartAsync(data))
        {
            await first.MakeKeyAsync("k", "c", "localhost");
            var applied = await first.CtlWithInputAsync(NodeProcess.OneVip(https, clear), "configure", "-");
            Assert.True(applied.ExitCode == 0, applied.ToString());
            Assert.Equal(0, await first.TerminateAsync(TimeSpan.FromSeconds(30)));
        }

        // A warm-up longer than this test needs (it stops at its 10 s limit, and the node starts all the same).
        using var node = NodeProcess.Launch(data, new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "2" },
            "--set", $"{NodeProcess.WarmUpSetting}=20000");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string? warming = null;
        using var early = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); warming is null && DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            Assert.DoesNotContain("data path warm", node.Output, StringComparison.Ordinal);
            try
            {
                using var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{node.AdminPort}/readyz"));
                var body = await ready.Content.ReadAsStringAsync();
                if (ready.StatusCode != HttpStatusCode.ServiceUnavailable || !body.Contains("warming up", StringComparison.Ordinal)) continue;
                await early.ConnectAsync(IPAddress.Loopback, https);
                warming = body;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
            {
                // The admin endpoint or the listener is not open yet.
            }
        }
        Assert.True(warming is not null, "the node never said it was warming up with its listener bound:\n" + node.Output);
        Assert.DoesNotContain("data path warm", node.Output, StringComparison.Ordinal);

        var served = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "40", "-w", "\n%{http_code}", $"https://127.0.0.1:{https}/"], null, TimeSpan.FromSeconds(45));

        Assert.True(served.ExitCode == 0, served.ToString());
        Assert.EndsWith("\n200", served.Stdout, StringComparison.Ordinal);
        Assert.Contains("data path warm", node.Output, StringComparison.Ordinal);
        // The client that connected while the warm-up ran was kept, not reset: its handshake is answered now.
        using var stream = new System.Net.Security.SslStream(new NetworkStream(early, ownsSocket: false), false, (_, _, _, _) => true);
        await stream.AuthenticateAsClientAsync("localhost").WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(stream.IsAuthenticated);
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
    }
}
