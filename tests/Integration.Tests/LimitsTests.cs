using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using SslCluster.Protocol.Demo;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// Limits that protect a node: a node-wide connection limit (refuse or queue), a module's max-conns, handshake rates in
/// total and per client address, and an ssl-server's idle timeout. Exceeding a limit refuses new connections cleanly,
/// never harms the flows already open, and healthy clients are served again once the excess stops.
/// </summary>
[Collection("nodes")]
public sealed class LimitsTests : IAsyncLifetime
{
    private const long Size = 8_000_000;
    private readonly int _https = NodeProcess.FreePort();
    private readonly int _clear = NodeProcess.FreePort();
    private DemoHttpServer _backend = null!;

    public async Task InitializeAsync()
    {
        _backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, _clear), Name = "limits backend" });
        await _backend.StartAsync();
    }

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    private async Task<NodeProcess> NodeAsync(string extraConfig = "", params string[] settings)
    {
        var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), [.. settings.SelectMany(s => new[] { "--set", s })]);
        await node.MakeKeyAsync("k", "c", "localhost");
        var applied = await node.CtlWithInputAsync(NodeProcess.OneVip(_https, _clear) + "\n" + extraConfig, "configure", "-");
        Assert.True(applied.ExitCode == 0, applied.ToString());
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
        return node;
    }

    /// <summary>A download of <see cref="Size"/> bytes at 2 MB/s (about 4 s): the byte count curl received.</summary>
    private Task<ProcessResult> SlowDownloadAsync() =>
        Run.ProcessAsync("curl", ["-sSk", "--limit-rate", "2M", "--max-time", "30", "-o", "/dev/null", "-w", "%{size_download}", $"https://127.0.0.1:{_https}/bytes/{Size}"],
            null, TimeSpan.FromSeconds(40));

    private Task<ProcessResult> GetAsync(int maxTime = 10) =>
        Run.ProcessAsync("curl", ["-sSk", "--max-time", maxTime.ToString(System.Globalization.CultureInfo.InvariantCulture), $"https://127.0.0.1:{_https}/"], null, TimeSpan.FromSeconds(maxTime + 5));

    /// <summary>
    /// A GET once the flows that filled the limit have ended: their slot is freed when the proxy's side of the
    /// connection ends, a moment after curl has its last byte, so a client is tried again for up to 5 s.
    /// </summary>
    private async Task<ProcessResult> GetOnceFreedAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        var r = await GetAsync();
        while (r.ExitCode != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            r = await GetAsync();
        }

        return r;
    }

    private static void Whole(ProcessResult r) =>
        Assert.True(r.ExitCode == 0 && r.Stdout.Trim() == Size.ToString(System.Globalization.CultureInfo.InvariantCulture), r.ToString());

    private static async Task<string> MetricsAsync(NodeProcess node)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{node.AdminPort}/metrics"));
    }

    private static long Metric(string metrics, string prefix) =>
        long.Parse(metrics.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal) || l.Contains(prefix, StringComparison.Ordinal)).Split(' ')[^1],
            System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A TLS handshake from <paramref name="source"/> (a loopback address of its own); true when it completed.</summary>
    private async Task<bool> HandshakeFromAsync(string source)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
            await socket.ConnectAsync(IPAddress.Loopback, _https);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, _, _, _) => true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, cts.Token);
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            return false;
        }
    }

    [Fact]
    public async Task MaxConnections_OverTheLimit_RefusedWhileOpenFlowsFinishWhole_ThenServedAgain()
    {
        using var node = await NodeAsync("", "sslcluster.limits.max-connections=2");
        var first = SlowDownloadAsync();
        var second = SlowDownloadAsync();
        await Task.Delay(1000);

        var refused = await GetAsync(5);
        Whole(await first);
        Whole(await second);
        var again = await GetOnceFreedAsync();

        Assert.NotEqual(0, refused.ExitCode);
        Assert.True(again.ExitCode == 0 && again.Stdout.Contains("limits backend", StringComparison.Ordinal), again.ToString());
        Assert.True(Metric(await MetricsAsync(node), "limit=\"NodeConnections\"") >= 1);
    }

    [Fact]
    public async Task MaxConnectionsQueued_ClientOverTheLimitWaitsInTheBacklogAndIsServed()
    {
        using var node = await NodeAsync("", "sslcluster.limits.max-connections=1", "sslcluster.limits.when-full=queue");
        var first = SlowDownloadAsync();
        await Task.Delay(1000);

        var clock = Stopwatch.StartNew();
        var queued = await GetAsync(20);

        Whole(await first);
        Assert.True(queued.ExitCode == 0 && queued.Stdout.Contains("limits backend", StringComparison.Ordinal), queued.ToString());
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(1.5), $"served after {clock.Elapsed}: it did not wait for the first download");
        var metrics = await MetricsAsync(node);
        Assert.Equal(0, Metric(metrics, "limit=\"NodeConnections\""));
        Assert.Equal(1, Metric(metrics, "sslcluster_connections_queued_total{"));
    }

    [Fact]
    public async Task ModuleMaxConns_OverItRefused_OpenFlowFinishesWhole()
    {
        using var node = await NodeAsync("service m\n  max-conns 1\n");
        var first = SlowDownloadAsync();
        await Task.Delay(1000);

        var refused = await GetAsync(5);

        Assert.NotEqual(0, refused.ExitCode);
        Whole(await first);
        Assert.Equal(0, (await GetOnceFreedAsync()).ExitCode);
        Assert.True(Metric(await MetricsAsync(node), "limit=\"ModuleConnections\"") >= 1);
    }

    [Fact]
    public async Task HandshakeRatePerSource_FloodFromOneAddress_RefusedWhileAnotherAddressIsServed()
    {
        using var node = await NodeAsync("", "sslcluster.limits.max-handshake-rate-per-source=5");

        var flood = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => HandshakeFromAsync("127.0.0.7")));
        var other = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => HandshakeFromAsync("127.0.0.8")));
        await Task.Delay(1500);
        var later = await HandshakeFromAsync("127.0.0.7");

        Assert.InRange(flood.Count(ok => ok), 1, 12);
        Assert.All(other, Assert.True);
        Assert.True(later, "the flooding address is served again once its rate is back under the limit");
        Assert.True(Metric(await MetricsAsync(node), "limit=\"HandshakeRatePerSource\"") >= 28);
    }

    [Fact]
    public async Task IdleTimeout_FlowWithoutBytesClosed_ActiveFlowKept()
    {
        using var node = await NodeAsync("ssl-proxy-list p\n  ssl-server 1 idle timeout 2\n");
        using var idle = new TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, _https);
        await using var idleTls = new SslStream(idle.GetStream(), false, (_, _, _, _) => true);
        await idleTls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        var clock = Stopwatch.StartNew();

        // A keep-alive client that asks every half second for 4 s is never idle for 2 s.
        using var busy = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true }, MaxConnectionsPerServer = 1 });
        for (var i = 0; i < 8; i++)
        {
            Assert.Contains("limits backend", await busy.GetStringAsync(new Uri($"https://127.0.0.1:{_https}/")), StringComparison.Ordinal);
            await Task.Delay(500);
        }
        var read = await idleTls.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, read);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 9);
        var metrics = await MetricsAsync(node);
        Assert.Equal(1, Metric(metrics, "outcome=\"IdleTimeout\""));
    }
}
