using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// What a node tells a log pipeline and a scraper about failing connections: one JSON line per failure with its event
/// id and fields (side, phase, VIP, port, module, client), each outcome counted in /metrics, and a real server that
/// refuses connects set aside by passive health before any keepalive could notice.
/// </summary>
[Collection("nodes")]
public sealed class NodeLogTests
{
    private static List<JsonElement> JsonLines(NodeProcess node) =>
        [.. node.Output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement)];

    [Fact]
    public async Task JsonLogs_BackendRefusesAndClientSendsGarbage_OneLinePerFailureWithFieldsAndCounts()
    {
        var https = NodeProcess.FreePort();
        var dead = NodeProcess.FreePort();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--log-format", "json");
        await node.MakeKeyAsync("k", "c", "localhost");
        var applied = await node.CtlWithInputAsync(NodeProcess.OneVip(https, dead), "configure", "-");
        Assert.True(applied.ExitCode == 0, applied.ToString());
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        // Four clients whose handshake succeeds but whose destination refuses; then a port check, and one that sends no TLS at all.
        for (var i = 0; i < 4; i++)
            Assert.NotEqual(0, (await Run.ProcessAsync("curl", ["-sSk", "--max-time", "10", $"https://127.0.0.1:{https}/"], null, TimeSpan.FromSeconds(15))).ExitCode);
        // A port check (connect, close without a byte), as a load balancer in front sends: no line, its own outcome.
        using (var check = new TcpClient())
        {
            await check.ConnectAsync("127.0.0.1", https);
        }

        using (var garbage = new TcpClient())
        {
            await garbage.ConnectAsync("127.0.0.1", https);
            await garbage.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var buffer = new byte[256];
            while (await garbage.GetStream().ReadAsync(buffer) > 0)
            {
            }
        }
        List<JsonElement> lines = [];
        for (var i = 0; i < 50 && !lines.Any(l => l.TryGetProperty("eventId", out var e) && e.GetInt32() == 1001); i++)
        {
            await Task.Delay(100);
            lines = JsonLines(node);
        }

        Assert.All(node.Output.Split('\n').Where(l => l.Trim().Length > 0 && l.Contains("\"level\"", StringComparison.Ordinal)), l => Assert.StartsWith("{", l, StringComparison.Ordinal));
        var backend = lines.Where(l => l.TryGetProperty("eventId", out var e) && e.GetInt32() == 1002).ToList();
        Assert.True(backend.Count >= 4, string.Join("\n", lines));
        var first = backend[0];
        Assert.Equal("warn", first.GetProperty("level").GetString());
        Assert.Equal("backend connect", first.GetProperty("phase").GetString());
        Assert.Equal("127.0.0.1", first.GetProperty("vip").GetString());
        Assert.Equal(https.ToString(System.Globalization.CultureInfo.InvariantCulture), first.GetProperty("port").GetString());
        Assert.Equal("m", first.GetProperty("owner").GetString());
        Assert.StartsWith("127.0.0.1:", first.GetProperty("client").GetString(), StringComparison.Ordinal);
        Assert.Equal("BackendConnectFailed", first.GetProperty("outcome").GetString());
        var client = Assert.Single(lines, l => l.TryGetProperty("eventId", out var e) && e.GetInt32() == 1001);
        Assert.Equal("client handshake", client.GetProperty("phase").GetString());

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{node.AdminPort}/metrics"));
        Assert.Matches(@"sslcluster_connections_ended_total\{node=""[^""]+"",module=""m"",virtual=""127\.0\.0\.1"",port=""\d+"",outcome=""BackendConnectFailed"",side=""backend""\} 4\n", metrics);
        Assert.Matches(@"outcome=""ClientHandshakeFailed"",side=""client""\} 1\n", metrics);
        Assert.Matches(@"outcome=""ClientClosedEmpty"",side=""none""\} 1\n", metrics);
        // Three refused connects in a row set the server aside (the fourth client found no other and tried it anyway).
        Assert.Matches($@"sslcluster_backend_avoided\{{node=""[^""]+"",service=""127\.0\.0\.1:{dead}""\}} 1\n", metrics);
    }
}
