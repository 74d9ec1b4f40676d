using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using SslCluster.Protocol.Demo;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// CSS11500 behaviours that need a whole node: the caveat CSCdy68548 (a deleted and re-created object must not
/// capture live flows), keepalive states driving the balancer, and the show commands that print them.
/// </summary>
[Collection("nodes")]
public sealed class CssFeatureTests
{
    private static void Ok(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static Task MakeKeyAsync(NodeProcess node) => node.MakeKeyAsync("k", "c", "localhost");

    private static string Front(int https, int clearPort) => $"""
        ssl-proxy-list spl
          ssl-server 1
          ssl-server 1 rsakey k
          ssl-server 1 rsacert c
          ssl-server 1 vip address 127.0.0.1
          ssl-server 1 port {https}
          ssl-server 1 cipher ecdhe-rsa-with-aes-128-gcm-sha256 127.0.0.1 {clearPort}
          active
        service sslmod
          type ssl-accel
          slot 2
          add ssl-proxy-list spl
          active
        """;

    /// <summary>One HTTP/1.1 request on an open TLS connection; returns the X-Backend-Name of the answer.</summary>
    private static async Task<string> AskAsync(SslStream tls)
    {
        await tls.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        var text = new StringBuilder();
        var buffer = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var n = await tls.ReadAsync(buffer, cts.Token);
            if (n == 0) break;
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var s = text.ToString();
            var headEnd = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var length = Regex.Match(s, @"Content-Length: (\d+)", RegexOptions.IgnoreCase);
            if (headEnd >= 0 && length.Success && s.Length >= headEnd + 4 + int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) break;
        }
        return Regex.Match(text.ToString(), @"X-Backend-Name: ([^\r\n]+)").Groups[1].Value;
    }

    private static async Task<SslStream> OpenAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var tls = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync("localhost");
        return tls;
    }

    [Fact]
    public async Task DeleteAndRecreateService_WhileConnectionOpen_OpenConnectionKeepsWhatItStartedWith()
    {
        // CSCdy68548: on the CSS, deleting and re-creating a service or proxy list under the same name while flows
        // were open could leave those flows pointing at the new object. Here a connection keeps its revision.
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        var portA = NodeProcess.FreePort();
        var portB = NodeProcess.FreePort();
        await using var a = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, portA), Name = "server A" });
        await using var b = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, portB), Name = "server B" });
        await a.StartAsync();
        await b.StartAsync();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        await MakeKeyAsync(node);
        Ok(await node.CtlWithInputAsync(Front(https, clear) + $"""

            service real
              ip address 127.0.0.1
              port {portA}
              keepalive type none
              active
            owner o
              content clear
                vip address 127.0.0.1
                port {clear}
                add service real
                active
              content tls
                vip address 127.0.0.1
                port {https}
                add service sslmod
                active
            """, "configure", "-"));
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        await using var open = await OpenAsync(https);
        Assert.Equal("server A", await AskAsync(open));

        // Delete the service and the proxy list, re-create both under the same names pointing elsewhere.
        Ok(await node.CtlWithInputAsync($"""
            owner o
              content clear
                remove service real
              content tls
                suspend
            service sslmod
              suspend
              remove ssl-proxy-list spl
            no service real
            no ssl-proxy-list spl
            """, "configure", "-"));
        Ok(await node.CtlWithInputAsync(Front(https, clear) + $"""

            service real
              ip address 127.0.0.1
              port {portB}
              keepalive type none
              active
            owner o
              content clear
                add service real
              content tls
                active
            """, "configure", "-"));
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("server A", await AskAsync(open));
        await using var fresh = await OpenAsync(https);
        Assert.Equal("server B", await AskAsync(fresh));
        Assert.Equal("server A", await AskAsync(open));
    }

    [Fact]
    public async Task TcpKeepalive_ServerStopped_ServiceGoesDownTrafficMovesAndComesBackAlive()
    {
        var http = NodeProcess.FreePort();
        var port1 = NodeProcess.FreePort();
        var port2 = NodeProcess.FreePort();
        var s1 = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, port1), Name = "server 1" });
        await using var s2 = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, port2), Name = "server 2" });
        await s1.StartAsync();
        await s2.StartAsync();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        Ok(await node.CtlWithInputAsync($"""
            service s1
              ip address 127.0.0.1
              port {port1}
              keepalive type tcp
              keepalive frequency 2
              keepalive retryperiod 2
              keepalive maxfailure 2
              active
            service s2
              ip address 127.0.0.1
              port {port2}
              keepalive type tcp
              active
            owner o
              content web
                vip address 127.0.0.1
                port {http}
                add service s1
                add service s2
                active
            """, "configure", "-"));
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
        await WaitForAsync(node, "s1", "State: Alive", TimeSpan.FromSeconds(10));

        await s1.DisposeAsync();
        var down = await WaitForAsync(node, "s1", "State: Down", TimeSpan.FromSeconds(20));
        Assert.Contains("Keepalive: (TCP", down, StringComparison.Ordinal);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var i = 0; i < 10; i++)
        {
            using var r = await client.GetAsync(new Uri($"http://127.0.0.1:{http}/"));
            Assert.Equal("server 2", r.Headers.GetValues("X-Backend-Name").Single());
        }
        var keepalive = await node.CtlAsync("show", "keepalive", "s1");
        Ok(keepalive);
        Assert.Contains("Down", keepalive.Stdout, StringComparison.Ordinal);

        await using var again = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, port1), Name = "server 1" });
        await again.StartAsync();
        await WaitForAsync(node, "s1", "State: Alive", TimeSpan.FromSeconds(20));
        var content = await node.CtlAsync("show", "content", "web");
        Ok(content);
        Assert.Matches(@"s1\s+Alive", content.Stdout);
        Assert.Matches(@"s2\s+Alive", content.Stdout);
    }

    [Theory]
    [InlineData("advanced-balance ssl", "ssl")]
    [InlineData("advanced-balance sticky-srcip", "srcip")]
    [InlineData("advanced-balance none", "none")]
    public async Task StickyRule_TwoModules_ResumingClientReturnsToItsModuleOnlyWhenSticky(string stickyLine, string mode)
    {
        // Two modules on one VIP. Without stickiness, round robin alternates them; with it, a client's connections
        // (resumptions of its session, or all of them for source-IP stickiness) stay on the module it first used.
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, clear), Name = "server" });
        await backend.StartAsync();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        await MakeKeyAsync(node);
        Ok(await node.CtlWithInputAsync(Front(https, clear) + $"""

            service sslmod3
              type ssl-accel
              slot 3
              add ssl-proxy-list spl
              active
            owner o
              content tls
                vip address 127.0.0.1
                port {https}
                add service sslmod
                add service sslmod3
                {stickyLine}
                active
            """, "configure", "-"));
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        var session = Path.GetTempFileName();
        try
        {
            string[] common = ["s_client", "-connect", $"127.0.0.1:{https}", "-tls1_2", "-no_ticket"];
            var first = await Run.ProcessAsync("openssl", [.. common, "-sess_out", session], "", TimeSpan.FromSeconds(30));
            Assert.Contains("New, TLSv1.2", first.Stdout, StringComparison.Ordinal);
            for (var i = 0; i < 6; i++)
            {
                var again = await Run.ProcessAsync("openssl", [.. common, "-sess_in", session], "", TimeSpan.FromSeconds(30));
                Assert.Contains("Reused, TLSv1.2", again.Stdout, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(session);
        }

        // Seven connections: all on one module when sticky; round robin splits them 4/3.
        var counts = await AcceptedPerModuleAsync(node, 7);
        Assert.True(counts.Values.Max() == (mode == "none" ? 4 : 7), $"{mode}: connections per module {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}");
    }

    private static async Task<Dictionary<string, long>> AcceptedPerModuleAsync(NodeProcess node, long expected)
    {
        Dictionary<string, long> counts = [];
        for (var attempt = 0; attempt < 40; attempt++)
        {
            counts = [];
            using var doc = System.Text.Json.JsonDocument.Parse(await node.AdminGetAsync(SslCluster.Protocol.Admin.AdminPaths.SslFlows));
            foreach (var m in doc.RootElement.GetProperty("modules").EnumerateArray())
                counts[m.GetProperty("module").GetString()!] = m.GetProperty("rows").EnumerateArray().Sum(r => r.GetProperty("accepted").GetInt64());
            if (counts.Values.Sum() >= expected) break;
            await Task.Delay(250);
        }
        return counts;
    }

    private static async Task<string> WaitForAsync(NodeProcess node, string service, string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        ProcessResult r;
        do
        {
            r = await node.CtlAsync("show", "service", service);
            Ok(r);
            if (r.Stdout.Contains(text, StringComparison.Ordinal)) return r.Stdout;
            await Task.Delay(300);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"show service {service} never said '{text}':\n{r.Stdout}");
    }
}
