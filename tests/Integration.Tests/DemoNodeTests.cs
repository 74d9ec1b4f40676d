using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>One demo node (what ./run.sh starts) on free ports, shared by the tests of this class.</summary>
public sealed class DemoNodeFixture : IAsyncLifetime
{
    public NodeProcess Node { get; private set; } = null!;

    public int HttpsPort { get; } = NodeProcess.FreePort();

    public int HttpPort { get; } = NodeProcess.FreePort();

    public int BackendPort { get; } = NodeProcess.FreePort();

    public async Task InitializeAsync()
    {
        Node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--demo",
            "--set", $"sslcluster.node.demo.https-port={HttpsPort}",
            "--set", $"sslcluster.node.demo.http-port={HttpPort}",
            "--set", $"sslcluster.node.demo.backend-port={BackendPort}",
            "--set", $"{NodeProcess.WarmUpSetting}=400");
        // Ready means the listeners of the current revision are bound; the demo configuration is revision 3.
        for (var i = 0; i < 100 && !Node.Output.Contains("Demo is up", StringComparison.Ordinal); i++) await Task.Delay(100);
        await Node.WaitReadyAsync(TimeSpan.FromSeconds(30));
    }

    public Task DisposeAsync()
    {
        Node.Dispose();
        return Task.CompletedTask;
    }
}

[Collection("nodes")]
public sealed class DemoNodeTests(DemoNodeFixture demo) : IClassFixture<DemoNodeFixture>
{
    private string Url(string path = "/") => $"https://127.0.0.1:{demo.HttpsPort}{path}";

    private static Task<ProcessResult> Curl(params string[] args) =>
        Run.ProcessAsync("curl", ["-sS", "-k", "--max-time", "20", .. args], null, TimeSpan.FromSeconds(30));

    private Task<ProcessResult> SClient(params string[] args) =>
        Run.ProcessAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{demo.HttpsPort}", "-servername", "localhost", .. args], "", TimeSpan.FromSeconds(30));

    [Fact]
    public void Start_WarmUpOfFourHundredConnections_RunsThemAllBeforeTheNodeServes()
    {
        var output = demo.Node.Output;
        var warmed = output.IndexOf("sslnode: data path warmed up: 400 connections, 1,000 requests in ", StringComparison.Ordinal);
        var serving = output.IndexOf("Demo is up", StringComparison.Ordinal);

        Assert.True(warmed >= 0, "no warm-up line in:\n" + output);
        Assert.True(serving > warmed, "the node served before its warm-up ended:\n" + output);
        Assert.DoesNotContain("warm-up did not complete", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Curl_DemoVip_ReachesTheBundledBackendOverTls()
    {
        var r = await Curl(Url());

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("sslcluster demo backend", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("GET / HTTP/1.1", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-tls1_2", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")]
    [InlineData("-tls1_3", "TLSv1.3", "TLS_AES_128_GCM_SHA256")]
    public async Task OpensslSClient_ModernVersions_NegotiateAeadSuites(string flag, string version, string cipher)
    {
        var r = await SClient(flag, "-brief");

        Assert.Contains("CONNECTION ESTABLISHED", r.Stderr + r.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Protocol version: {version}", r.Stderr + r.Stdout, StringComparison.Ordinal);
        Assert.Contains(cipher, r.Stderr + r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-tls1_2", "-cipher", "AES128-SHA")]                             // static RSA CBC: refused
    [InlineData("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")]                   // CBC without AEAD: refused
    [InlineData("-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")]                    // TLS 1.0 only: refused
    public async Task OpensslSClient_LegacyOnlyClient_IsRefusedWithAnAlert(params string[] args)
    {
        var r = await SClient(args);

        var all = r.Stdout + r.Stderr;
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("CONNECTION ESTABLISHED", all, StringComparison.Ordinal);
        Assert.Contains("alert", all, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task HttpClient_TenMebibytes_ArriveWhole()
    {
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };

        var bytes = await http.GetByteArrayAsync(new Uri(Url("/bytes/10485760")));

        Assert.Equal(10 * 1024 * 1024, bytes.Length);
        Assert.Equal(0, bytes[0]);
        Assert.Equal((byte)(10485759 % 256), bytes[^1]); // the backend's 00..FF pattern, in order
    }

    [Fact]
    public async Task ShowSslFlows_OpenAndHandshakingConnections_AreCountedLiveAndReturnToZero()
    {
        const int active = 12;
        const int handshaking = 5;
        var tls = new List<(TcpClient Tcp, SslStream Ssl)>();
        var raw = new List<TcpClient>();
        try
        {
            for (var i = 0; i < active; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, demo.HttpsPort);
                var ssl = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
                await ssl.AuthenticateAsClientAsync("localhost");
                tls.Add((tcp, ssl));
            }
            for (var i = 0; i < handshaking; i++)
            {
                // Connected, ClientHello not yet sent: in handshake until the (10 s) handshake timeout.
                var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, demo.HttpsPort);
                raw.Add(tcp);
            }

            var row = await WaitForRowAsync(r => r.Active == active && r.Handshaking == handshaking);
            Assert.Equal(active + handshaking, row.Tcp);
        }
        finally
        {
            foreach (var (tcp, ssl) in tls)
            {
                await ssl.DisposeAsync();
                tcp.Dispose();
            }
            foreach (var tcp in raw) tcp.Dispose();
        }
        await WaitForRowAsync(r => r is { Tcp: 0, Active: 0, Handshaking: 0 });
    }

    private async Task<(long Tcp, long Active, long Handshaking)> WaitForRowAsync(Func<(long Tcp, long Active, long Handshaking), bool> condition)
    {
        string last = "";
        for (var i = 0; i < 60; i++)
        {
            var r = await demo.Node.CtlAsync("show", "ssl", "flows");
            Assert.Equal(0, r.ExitCode);
            last = r.Stdout;
            var line = r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("127.0.0.1 ", StringComparison.Ordinal) && l.Contains($" {demo.HttpsPort} ", StringComparison.Ordinal));
            if (line is not null)
            {
                var cells = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var row = (long.Parse(cells[2], CultureInfo.InvariantCulture), long.Parse(cells[3], CultureInfo.InvariantCulture), long.Parse(cells[4], CultureInfo.InvariantCulture));
                if (condition(row)) return row;
            }
            await Task.Delay(250);
        }
        throw new Xunit.Sdk.XunitException("show ssl flows never showed the expected row; last output:\n" + last);
    }

    [Fact]
    public async Task ShowSslFlows_PrintsTheReferenceTableHeader()
    {
        var r = await demo.Node.CtlAsync("show", "ssl", "flows");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("SSL Acceleration Flows for slot 1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Virtual", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("TCP Proxy Flows  Active SSL Flows  SSL Flows in Handshake", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configure_TypoFromTheReference_ExitsOneNamesTheLineAndChangesNothing()
    {
        var before = await demo.Node.CtlAsync("show", "running-config");

        var r = await demo.Node.CtlWithInputAsync("ssl-proxy-list demo\nssl-server 1 raskey demo-key\n", "configure", "-");
        var after = await demo.Node.CtlAsync("show", "running-config");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("line 2: 'raskey'", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("did you mean 'rsakey'", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(before.Stdout, after.Stdout);
    }

    [Fact]
    public async Task Cli_WrongToken_ExitsThreeWithoutTouchingTheNode()
    {
        var r = await Run.ProcessAsync("dotnet", [NodeProcess.CliDll, "--endpoint", $"http://127.0.0.1:{demo.Node.AdminPort}", "--token", "wrong", "show", "running-config"], null, TimeSpan.FromSeconds(30));

        Assert.Equal(3, r.ExitCode);
        Assert.Contains("refused the admin token", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminEndpoint_WithoutToken_Answers401ButHealthIsOpen()
    {
        using var http = new HttpClient();

        var config = await http.GetAsync(new Uri($"http://127.0.0.1:{demo.Node.AdminPort}/v1/running-config"));
        var health = await http.GetAsync(new Uri($"http://127.0.0.1:{demo.Node.AdminPort}/healthz"));
        // Routing ignores case and a trailing slash: no spelling of a path reaches a handler without the token.
        var spelled = new List<HttpStatusCode>();
        foreach (var path in new[] { "/V1/running-config", "/v1/Running-Config/", "/V1/FILES", "/v1/cluster/", "/nothing-here" })
            spelled.Add((await http.GetAsync(new Uri($"http://127.0.0.1:{demo.Node.AdminPort}{path}"))).StatusCode);
        var drain = await http.PostAsync(new Uri($"http://127.0.0.1:{demo.Node.AdminPort}/V1/node/drain"), null);
        var openSpelled = await http.GetAsync(new Uri($"http://127.0.0.1:{demo.Node.AdminPort}/HEALTHZ"));
        // The module's row appears once it has served a flow and its agent has reported (every second): poll, bounded.
        Assert.Equal(0, (await Curl(Url())).ExitCode);
        var metrics = "";
        for (var i = 0; i < 50 && !metrics.Contains("module=\"demo-ssl\"", StringComparison.Ordinal); i++)
        {
            if (i > 0) await Task.Delay(200);
            metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{demo.Node.AdminPort}/metrics"));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, config.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.All(spelled, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
        Assert.Equal(HttpStatusCode.Unauthorized, drain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, openSpelled.StatusCode);
        Assert.Matches(@"\nsslcluster_tcp_proxy_flows\{node=""127\.0\.0\.1:\d+"",module=""demo-ssl""", metrics);
        Assert.Matches(@"\nsslcluster_tls_sessions_held\{node=""[^""]+""\} \d+\n", metrics);
        Assert.Matches(@"\nsslcluster_tls_ticket_keys\{node=""[^""]+""\} [1-9]\n", metrics);
        Assert.Matches(@"\nsslcluster_config_revision\{node=""[^""]+""\} [1-9]\d*\n", metrics);
        // The demo certificate is valid for 825 days: its expiry is reported in seconds, per certificate in use.
        Assert.Matches(@"\nsslcluster_certificate_expiry_seconds\{node=""[^""]+"",file=""demo-cert"",subject=""CN=localhost""\} [1-9]\d{7}\n", metrics);
        Assert.Contains("module=\"demo-ssl\",virtual=", metrics.Split('\n').First(l => l.StartsWith("sslcluster_connections_ended_total{", StringComparison.Ordinal) && l.Contains("demo-ssl", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GarbageAndTruncatedClientHellos_AreDroppedAndTheNodeKeepsServing()
    {
        byte[][] inputs =
        [
            Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            [0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03],
            [0x16, 0x03, 0x01, 0xff, 0xff],
            [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7))],
        ];
        foreach (var input in inputs)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, demo.HttpsPort);
            var stream = tcp.GetStream();
            await stream.WriteAsync(input);
            tcp.Client.Shutdown(SocketShutdown.Send);
            var buffer = new byte[1024];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            // The node answers with an alert (or nothing) and closes: the read ends, it does not hang.
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
            }
        }

        var r = await Curl(Url());
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public async Task SslGencsr_ForTheDemoKey_PrintsARequestOpensslVerifies()
    {
        var r = await demo.Node.CtlAsync("ssl", "gencsr", "demo-key", "cn=www.example.com", "o=Example", "c=US", "san=www.example.com,example.com");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("-----BEGIN CERTIFICATE REQUEST-----", r.Stdout, StringComparison.Ordinal);
        var verify = await Run.ProcessAsync("openssl", ["req", "-verify", "-noout", "-text"], r.Stdout, TimeSpan.FromSeconds(30));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("CN=www.example.com", (verify.Stdout + verify.Stderr).Replace(" = ", "=", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("DNS:example.com", verify.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gendsa", "ssl genrsa")]
    [InlineData("gendh", "ECDHE")]
    public async Task SslGendsaAndGendh_AreRefusedWithWhyAndWhatToUse(string command, string fragment)
    {
        var r = await demo.Node.CtlAsync("ssl", command, "x", "1024", "pw");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains(fragment, r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SslGenrsa_TooWeakKey_IsRefusedAndNothingStored()
    {
        var r = await demo.Node.CtlAsync("ssl", "genrsa", "weak", "1024", "pw");
        var files = await demo.Node.CtlAsync("show", "ssl", "files");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("too weak", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("weak", files.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientThatStopsMidHandshake_IsClosedByTheHandshakeTimeout()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, demo.HttpsPort);
        var stream = tcp.GetStream();
        // Half a ClientHello record, then silence.
        await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 });
        var started = DateTime.UtcNow;
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset also ends the connection.
        }

        Assert.False(cts.IsCancellationRequested, "the node never closed a client stuck mid-handshake");
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(8), "closed before the 10 s handshake timeout");
    }

    /// <summary>Adds a VIP on a free port served by a new module whose ssl-server uses the demo key, plus one option line.</summary>
    private async Task<int> AddVipAsync(string name, string option, string cipher = "all-cipher-suites")
    {
        var port = NodeProcess.FreePort();
        var applied = await demo.Node.CtlWithInputAsync($"""
            ssl-proxy-list {name}
              ssl-server 1
              ssl-server 1 rsakey demo-key
              ssl-server 1 rsacert demo-cert
              ssl-server 1 vip address 127.0.0.1
              ssl-server 1 port {port}
              ssl-server 1 cipher {cipher} 127.0.0.1 {demo.HttpPort}
              {option}
              active
            service {name}
              type ssl-accel
              add ssl-proxy-list {name}
              active
            owner demo
              content {name}
                vip address 127.0.0.1
                port {port}
                add service {name}
                active
            """, "configure", "-");
        Assert.True(applied.ExitCode == 0, applied.ToString());
        return port;
    }

    [Fact]
    public async Task SslServerVersionTls13_RefusesTls12ClientsAndServesTls13()
    {
        var port = await AddVipAsync("only13", "ssl-server 1 version tls1.3");

        var v12 = await Run.ProcessAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", "-tls1_2", "-brief"], "", TimeSpan.FromSeconds(30));
        var v13 = await Run.ProcessAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", "-tls1_3", "-brief"], "", TimeSpan.FromSeconds(30));

        Assert.DoesNotContain("CONNECTION ESTABLISHED", v12.Stdout + v12.Stderr, StringComparison.Ordinal);
        Assert.Contains("Protocol version: TLSv1.3", v13.Stdout + v13.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CipherLinesWithoutTls13Suites_KeepTheVipOnTls12()
    {
        var port = await AddVipAsync("only12", "", "ecdhe-rsa-with-aes-128-gcm-sha256");

        var v13 = await Run.ProcessAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", "-tls1_3", "-brief"], "", TimeSpan.FromSeconds(30));
        var any = await Run.ProcessAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", "-brief"], "", TimeSpan.FromSeconds(30));

        Assert.DoesNotContain("CONNECTION ESTABLISHED", v13.Stdout + v13.Stderr, StringComparison.Ordinal);
        Assert.Contains("Protocol version: TLSv1.2", any.Stdout + any.Stderr, StringComparison.Ordinal);
        Assert.Contains("ECDHE-RSA-AES128-GCM-SHA256", any.Stdout + any.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls12SessionId_ResumesUnlessTheSslServersSessionCacheIsZero()
    {
        var port = await AddVipAsync("nocache", "ssl-server 1 session-cache 0");

        Assert.Equal("Reused", await ResumeAsync(demo.HttpsPort));
        Assert.Equal("New", await ResumeAsync(port));
    }

    private static async Task<string> ResumeAsync(int port)
    {
        var file = Path.GetTempFileName();
        try
        {
            string[] common = ["s_client", "-connect", $"127.0.0.1:{port}", "-tls1_2", "-no_ticket"];
            var first = await Run.ProcessAsync("openssl", [.. common, "-sess_out", file], "", TimeSpan.FromSeconds(30));
            Assert.Contains("New, TLSv1.2", first.Stdout, StringComparison.Ordinal);
            var second = await Run.ProcessAsync("openssl", [.. common, "-sess_in", file], "", TimeSpan.FromSeconds(30));
            return second.Stdout.Contains("Reused, TLSv1.2", StringComparison.Ordinal) ? "Reused" : "New";
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ThousandConcurrentConnections_AllGetTheirResponse()
    {
        const int n = 1000;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            MaxConnectionsPerServer = n,
            PooledConnectionLifetime = TimeSpan.Zero,
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
        using var gate = new SemaphoreSlim(0);

        var tasks = Enumerable.Range(0, n).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Url($"/bytes/{1000 + i}")));
            request.Headers.ConnectionClose = true;
            using var response = await http.SendAsync(request);
            return (await response.Content.ReadAsByteArrayAsync()).Length == 1000 + i;
        }).ToList();
        var results = await Task.WhenAll(tasks);

        Assert.All(results, Assert.True);
    }
}

[CollectionDefinition("nodes", DisableParallelization = true)]
public sealed class NodesCollection;

/// <summary>A demo whose VIP port is taken cannot serve: the node says so and exits, rather than announce a demo that is not up.</summary>
[Collection("nodes")]
public sealed class DemoPortTakenTests
{
    [Fact]
    public async Task Start_DemoHttpsPortTaken_ExitsWithTheListenerItCouldNotOpen()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen(1);
        var taken = ((IPEndPoint)holder.LocalEndPoint!).Port;

        using var node = NodeProcess.Launch(NodeProcess.NewDataDir(), new Dictionary<string, string>(), "--demo",
            "--set", $"sslcluster.node.demo.https-port={taken}",
            "--set", $"sslcluster.node.demo.http-port={NodeProcess.FreePort()}",
            "--set", $"sslcluster.node.demo.backend-port={NodeProcess.FreePort()}");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!node.HasExited && DateTime.UtcNow < deadline) await Task.Delay(100);

        Assert.True(node.HasExited, "the node still runs:\n" + node.Output);
        Assert.Equal(1, node.ExitCode);
        Assert.Contains("demo: this node cannot serve the demo", node.Output, StringComparison.Ordinal);
        Assert.Contains($"cannot listen on 127.0.0.1:{taken}", node.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Demo is up", node.Output, StringComparison.Ordinal);
    }
}
