using System.Net;
using SslCluster.Protocol.Demo;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>SIGTERM drains: no new connections, the open ones finish (within the drain timeout), then the node exits.</summary>
[Collection("nodes")]
public sealed class DrainTests
{
    [Fact]
    public async Task Sigterm_DownloadInProgress_FinishesWhileNewConnectionsAreRefusedThenNodeExits()
    {
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, clear), Name = "drain backend" });
        await backend.StartAsync();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        await node.MakeKeyAsync("k", "c", "localhost");
        var applied = await node.CtlWithInputAsync(NodeProcess.OneVip(https, clear), "configure", "-");
        Assert.True(applied.ExitCode == 0, applied.ToString());
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        // 16 MB at 4 MB/s: about 4 s on the wire, so the SIGTERM lands in the middle of it.
        const long size = 16_000_000;
        var download = Run.ProcessAsync("curl", ["-sSk", "--limit-rate", "4M", "--max-time", "30", "-o", "/dev/null", "-w", "%{size_download}",
            $"https://127.0.0.1:{https}/bytes/{size}"], null, TimeSpan.FromSeconds(40));
        await Task.Delay(1000);
        var exit = node.TerminateAsync(TimeSpan.FromSeconds(40));
        await Task.Delay(1000);

        var late = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "5", $"https://127.0.0.1:{https}/"], null, TimeSpan.FromSeconds(10));
        Assert.NotEqual(0, late.ExitCode);
        var finished = await download;
        Assert.True(finished.ExitCode == 0 && finished.Stdout.Trim() == size.ToString(System.Globalization.CultureInfo.InvariantCulture), finished.ToString());
        Assert.Equal(0, await exit);
    }
}
