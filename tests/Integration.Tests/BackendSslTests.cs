using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Integration.Tests.BackendTestKit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// One node running the reference's "SSL Flow" sample (back-end re-encryption) with its addresses mapped to
/// loopback: VIP 10.87.99.78 (127.87.99.78), HTTP-VIP 192.191.134.165, real HTTPS servers on 127.191.134.170 and
/// .171. Ports are free ones instead of the sample's 443/85 (other test runs may share the machine); the sample's
/// pick-up port 86 is kept, and the service and backend-server ports agree. Tests add their own ssl-server, content
/// rules, services and backend-servers (each on its own VIP port) next to it.
/// </summary>
public sealed class BackendSslFixture : IAsyncLifetime
{
    public const string Vip = "10.87.99.78";
    public const string VipLoopback = "127.87.99.78";
    public const string HttpVip = "192.191.134.165";
    public const string ModuleTitle = "SSL Acceleration Flows for slot 2 (module sslmod)";

    public RsaTestAuthority Ca { get; } = RsaTestAuthority.Create("Backend CA");

    public RsaTestAuthority OtherCa { get; } = RsaTestAuthority.Create("Some Other CA");

    public TestCertificate FrontEnd { get; } = TestCertificates.CreateRsa("www.example.com");

    public TestCertificate ServerCertificate { get; private set; } = null!;

    public TestCertificate ClientCertificate { get; private set; } = null!;

    public TlsHttpBackend Real170 { get; private set; } = null!;

    public TlsHttpBackend Real171 { get; private set; } = null!;

    public TlsHttpBackend AuthRequired { get; private set; } = null!;

    public TlsHttpBackend StopA { get; private set; } = null!;

    public TlsHttpBackend StopB { get; private set; } = null!;

    /// <summary>A real server only the http-reuse test uses, so that its handshakes count that test's connections.</summary>
    public TlsHttpBackend Reuse177 { get; private set; } = null!;

    public OpenSslWwwServer Www { get; private set; } = null!;

    /// <summary>Accepts TCP (the kernel completes it from the backlog) and never says a word: a hung real server.</summary>
    public TcpListener Silent { get; } = new(IPAddress.Parse("127.191.134.176"), 0);

    public NodeProcess Node { get; private set; } = null!;

    public int VipPort { get; } = FreePort(VipLoopback);

    public int HttpVipPort { get; } = FreePort("127.191.134.165");

    private System.Security.Cryptography.X509Certificates.X509Certificate2 _serverX509 = null!;

    public async Task InitializeAsync()
    {
        IPAddress A(int last) => IPAddress.Parse("127.191.134." + last.ToString(CultureInfo.InvariantCulture));
        ServerCertificate = Ca.IssueServer("real.example.com", A(170), A(171), A(172), A(173), A(174), A(175));
        ClientCertificate = Ca.IssueClient("CN=css-backend-client, O=SslCluster Tests");
        _serverX509 = ServerCertificate.ToX509WithKey();
        Real170 = new TlsHttpBackend(A(170), _serverX509, "real-170");
        Real171 = new TlsHttpBackend(A(171), _serverX509, "real-171");
        AuthRequired = new TlsHttpBackend(A(172), _serverX509, "auth-172", new TlsHttpBackendOptions { RequireClientCertificate = true });
        StopA = new TlsHttpBackend(A(173), _serverX509, "stop-173");
        StopB = new TlsHttpBackend(A(174), _serverX509, "stop-174");
        Reuse177 = new TlsHttpBackend(A(177), _serverX509, "reuse-177");
        Www = await OpenSslWwwServer.StartAsync(A(175), ServerCertificate);
        Silent.Start(16);

        Node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--address-map", "private-to-loopback");
        await Task.WhenAll(
            ImportAsync(Node, FrontEnd.WriteKeyAndCertificatePem(), "front"),
            ImportAsync(Node, ClientCertificate.WriteKeyAndCertificatePem(), "becli"),
            ImportAsync(Node, Ca.CertificatePemPath, "beca"),
            ImportAsync(Node, OtherCa.CertificatePemPath, "otherca"));
        await ConfigureAsync(Node, $"""
            ssl associate rsakey mykeypair front-key
            ssl associate cert mycert front-cert
            ssl associate rsakey beclikey becli-key
            ssl associate cert beclicert becli-cert
            ssl associate cert beca beca
            ssl associate cert otherca otherca
            !***** SSL PROXY LIST *****
            ssl-proxy-list spl
            ssl-server 100
            ssl-server 100 rsakey mykeypair
            ssl-server 100 rsacert mycert
            ssl-server 100 vip address {Vip}
            ssl-server 100 port {VipPort}
            ssl-server 100 cipher rsa-with-rc4-128-md5 {HttpVip} {HttpVipPort}
            backend-server 10
            backend-server 10 type backend-ssl
            backend-server 10 ip address 192.191.134.170
            backend-server 10 port 86
            backend-server 10 server-ip 192.191.134.170
            backend-server 10 server-port {Real170.Port}
            backend-server 10 cipher rsa-with-rc4-128-md5
            backend-server 20
            backend-server 20 type backend-ssl
            backend-server 20 ip address 192.191.134.171
            backend-server 20 port 86
            backend-server 20 server-ip 192.191.134.171
            backend-server 20 server-port {Real171.Port}
            backend-server 20 cipher rsa-with-rc4-128-md5
            active
            !***** SERVICE *****
            service bessl-svc1
            type ssl-accel-backend
            ip address 192.191.134.170
            port 86
            keepalive type ssl
            keepalive port {Real170.Port}
            add ssl-proxy-list spl
            active
            service bessl-svc2
            type ssl-accel-backend
            ip address 192.191.134.171
            port 86
            keepalive type ssl
            keepalive port {Real171.Port}
            add ssl-proxy-list spl
            active
            service sslmod
            type ssl-accel
            keepalive type none
            slot 2
            add ssl-proxy-list spl
            active
            !***** OWNER *****
            owner cisco
            content HTTP-VIP
            vip address {HttpVip}
            protocol tcp
            port {HttpVipPort}
            add service bessl-svc1
            add service bessl-svc2
            active
            content SSL-VIP
            vip address {Vip}
            protocol tcp
            port {VipPort}
            add service sslmod
            active
            """);
        await Node.WaitReadyAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>A real server behind a backend-server: the backend-server's <c>ip address</c> (its row) and the server.</summary>
    public sealed record Backend(int Number, string IpAddress, IPEndPoint Server, string[] Options, int Weight = 1, string[]? Keepalive = null);

    /// <summary>
    /// Adds ssl-server <paramref name="number"/> on a new VIP port of 10.87.99.78 whose clear text goes to a new
    /// HTTP content rule on 192.191.134.165, balanced over one ssl-accel-backend service per backend (pick-up port
    /// 86), each re-encrypted by its backend-server. Returns the new VIP port.
    /// </summary>
    public async Task<int> AddReEncryptionAsync(int number, string[] sslServerOptions, params Backend[] backends)
    {
        var vipPort = FreePort(VipLoopback);
        var httpPort = FreePort("127.191.134.165");
        var n = number.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.AppendLine("ssl-proxy-list spl").AppendLine("ssl-server " + n)
            .AppendLine($"ssl-server {n} rsakey mykeypair").AppendLine($"ssl-server {n} rsacert mycert")
            .AppendLine($"ssl-server {n} vip address {Vip}").AppendLine($"ssl-server {n} port {vipPort}")
            .AppendLine($"ssl-server {n} cipher rsa-with-rc4-128-md5 {HttpVip} {httpPort}");
        foreach (var o in sslServerOptions) text.AppendLine($"ssl-server {n} {o}");
        foreach (var b in backends)
        {
            var bn = b.Number.ToString(CultureInfo.InvariantCulture);
            text.AppendLine("backend-server " + bn).AppendLine($"backend-server {bn} type backend-ssl")
                .AppendLine($"backend-server {bn} ip address {b.IpAddress}").AppendLine($"backend-server {bn} port 86")
                .AppendLine($"backend-server {bn} server-ip {Configured(b.Server.Address)}")
                .AppendLine($"backend-server {bn} server-port {b.Server.Port}")
                .AppendLine($"backend-server {bn} cipher rsa-with-rc4-128-md5");
            foreach (var o in b.Options) text.AppendLine($"backend-server {bn} {o}");
        }
        text.AppendLine("active");
        foreach (var b in backends)
        {
            text.AppendLine($"service bessl-{n}-{b.Number}").AppendLine("type ssl-accel-backend")
                .AppendLine($"ip address {b.IpAddress}").AppendLine("port 86");
            foreach (var k in b.Keepalive ?? ["type none"]) text.AppendLine("keepalive " + k);
            text                .AppendLine($"weight {b.Weight}").AppendLine("add ssl-proxy-list spl").AppendLine("active");
        }
        text.AppendLine("owner cisco").AppendLine($"content HTTP-VIP-{n}").AppendLine($"vip address {HttpVip}")
            .AppendLine("protocol tcp").AppendLine($"port {httpPort}");
        foreach (var b in backends) text.AppendLine($"add service bessl-{n}-{b.Number}");
        text.AppendLine("active").AppendLine($"content SSL-VIP-{n}").AppendLine($"vip address {Vip}")
            .AppendLine("protocol tcp").AppendLine($"port {vipPort}").AppendLine("add service sslmod").AppendLine("active");
        await ConfigureAsync(Node, text.ToString());
        return vipPort;
    }

    public async Task DisposeAsync()
    {
        Node?.Dispose();
        foreach (var s in new[] { Real170, Real171, AuthRequired, StopA, StopB, Reuse177 })
        {
            if (s is not null) await s.DisposeAsync();
        }
        Www?.Dispose();
        Silent.Dispose();
        _serverX509?.Dispose();
        ServerCertificate?.Dispose();
        ClientCertificate?.Dispose();
        FrontEnd.Dispose();
        Ca.Dispose();
        OtherCa.Dispose();
    }
}

[Collection("nodes")]
public sealed class BackendSslTests(BackendSslFixture f) : IClassFixture<BackendSslFixture>
{
    /// <summary>An HTTPS request for www.example.com to the VIP's loopback form, with the response head.</summary>
    private static Task<(ProcessResult Result, TimeSpan Elapsed)> Get(int vipPort, string path = "/") =>
        TimedCurl("--resolve", $"www.example.com:{vipPort}:{BackendSslFixture.VipLoopback}", $"https://www.example.com:{vipPort}{path}");

    private static string Ip(int last) => "192.191.134." + last.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task SslFlowSample_HttpsRequests_AreReEncryptedToBothRealServers()
    {
        var names = new HashSet<string>();
        for (var i = 0; i < 4; i++)
        {
            var (r, _) = await Get(f.VipPort);
            Ok(r);
            Assert.Contains("HTTP/1.1 200 OK", r.Stdout, StringComparison.Ordinal);
            Assert.StartsWith("Tls1", Header(r.Stdout, "X-Tls-Protocol"), StringComparison.Ordinal);
            Assert.Equal("none", Header(r.Stdout, "X-Client-Cert"));
            names.Add(Header(r.Stdout, "X-Backend-Name")!);
        }

        Assert.Equal(["real-170", "real-171"], names.Order());
    }

    [Fact]
    public async Task ShowSslFlows_OpenReEncryptedConnections_ShowsBackendServerRowsUnderTheModule()
    {
        var open = new List<(TcpClient Tcp, SslStream Ssl)>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Parse(BackendSslFixture.VipLoopback), f.VipPort);
                var ssl = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
                open.Add((tcp, ssl));
                await ssl.AuthenticateAsClientAsync("www.example.com").WaitAsync(TimeSpan.FromSeconds(CurlSeconds));
                Assert.Contains("hello from real-17", await KeepAliveGetAsync(ssl), StringComparison.Ordinal);
            }

            var rows = await WaitForRowsAsync(f.Node, BackendSslFixture.ModuleTitle, rows =>
                Row(rows, Ip(170), 86) is { } a && Row(rows, Ip(171), 86) is { } b && a.Active + b.Active == 4);
            Assert.All(new[] { Row(rows, Ip(170), 86)!, Row(rows, Ip(171), 86)! }, r =>
            {
                Assert.True(r.Active >= 1, $"{r} carries none of the 4 open flows");
                Assert.Equal(r.Active, r.Tcp);
                Assert.Equal(0, r.Handshaking);
            });
            Assert.Equal(4, Row(rows, BackendSslFixture.Vip, f.VipPort)?.Active);
        }
        finally
        {
            foreach (var (tcp, ssl) in open)
            {
                await ssl.DisposeAsync();
                tcp.Dispose();
            }
        }

        await WaitForRowsAsync(f.Node, BackendSslFixture.ModuleTitle, rows =>
            Row(rows, Ip(170), 86) is { Tcp: 0, Active: 0, Handshaking: 0 } && Row(rows, Ip(171), 86) is { Tcp: 0, Active: 0, Handshaking: 0 });
    }

    [Fact]
    public async Task BackendServerCacert_ServerChainsToIt_RequestSucceeds()
    {
        var vip = await f.AddReEncryptionAsync(110, [], new BackendSslFixture.Backend(30, Ip(180), f.Real170.EndPoint, ["cacert beca"]));

        var (r, _) = await Get(vip);

        Ok(r);
        Assert.Contains("HTTP/1.1 200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("real-170", Header(r.Stdout, "X-Backend-Name"));
    }

    [Fact]
    public async Task BackendServerCacert_ServerOfAnotherCa_ClientGetsNoAnswerAndTheNodeStaysHealthy()
    {
        var vip = await f.AddReEncryptionAsync(120, [], new BackendSslFixture.Backend(40, Ip(181), f.Real171.EndPoint, ["cacert otherca"]));
        var failedBefore = f.Real171.FailedHandshakes;
        var requestsBefore = f.Real171.Requests;

        var (r, elapsed) = await Get(vip);

        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.True(elapsed < TimeSpan.FromSeconds(CurlSeconds), $"the refused flow took {elapsed}");
        // The real server notes the failure when it has read our alert, which may be a moment after curl gave up.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (f.Real171.FailedHandshakes <= failedBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(f.Real171.FailedHandshakes > failedBefore, "the real server never saw the handshake fail (no fatal alert)");
        Assert.Equal(requestsBefore, f.Real171.Requests);
        // The refused flow leaves no handshake behind, and the node keeps serving.
        await WaitForRowsAsync(f.Node, BackendSslFixture.ModuleTitle, rows => Row(rows, Ip(181), 86) is null or { Tcp: 0, Handshaking: 0 });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(CurlSeconds) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://127.0.0.1:{f.Node.AdminPort}/healthz"))).StatusCode);
        var (again, _) = await Get(f.VipPort);
        Ok(again);
        Assert.False(f.Node.HasExited);
    }

    [Fact]
    public async Task BackendServerRsakeyAndRsacert_ServerRequiresClientCertificate_PresentsIt()
    {
        var vip = await f.AddReEncryptionAsync(130, [], new BackendSslFixture.Backend(50, Ip(182), f.AuthRequired.EndPoint, ["rsakey beclikey", "rsacert beclicert", "cacert beca"]));

        var (r, _) = await Get(vip);

        Ok(r);
        Assert.Contains("HTTP/1.1 200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("auth-172", Header(r.Stdout, "X-Backend-Name"));
        Assert.Equal("CN=css-backend-client, O=SslCluster Tests", Header(r.Stdout, "X-Client-Cert"));
    }

    [Fact]
    public async Task BackendServerWithoutClientCertificate_ServerRequiresOne_RequestFails()
    {
        var vip = await f.AddReEncryptionAsync(140, [], new BackendSslFixture.Backend(60, Ip(183), f.AuthRequired.EndPoint, []));
        var requestsBefore = f.AuthRequired.Requests;

        var (r, elapsed) = await Get(vip);

        Assert.DoesNotContain("200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.NotEqual(0, r.ExitCode);
        Assert.True(elapsed < TimeSpan.FromSeconds(CurlSeconds), $"the refused flow took {elapsed}");
        Assert.Equal(requestsBefore, f.AuthRequired.Requests);
    }

    /// <summary>openssl s_server -www says whether the node's TLS 1.2 session with it was new or reused.</summary>
    private async Task<string> WwwSessionAsync(int vip)
    {
        var (r, _) = await Get(vip);
        Ok(r);
        Assert.Contains("TLSv1.2", r.Stdout, StringComparison.Ordinal);
        return r.Stdout.Contains("Reused, TLSv1.2", StringComparison.Ordinal) ? "Reused"
            : r.Stdout.Contains("New, TLSv1.2", StringComparison.Ordinal) ? "New" : "neither:\n" + r.Stdout;
    }

    [Fact]
    public async Task BackendServerSessionCache_SecondFlow_ResumesTheBackendSession()
    {
        var vip = await f.AddReEncryptionAsync(150, [], new BackendSslFixture.Backend(70, Ip(184), f.Www.EndPoint, ["session-cache 300"]));

        Assert.Equal("New", await WwwSessionAsync(vip));
        Assert.Equal("Reused", await WwwSessionAsync(vip));
        Assert.Equal("Reused", await WwwSessionAsync(vip));
    }

    [Fact]
    public async Task BackendServerSessionCacheZero_SecondFlow_MakesANewBackendSession()
    {
        var vip = await f.AddReEncryptionAsync(160, [], new BackendSslFixture.Backend(80, Ip(185), f.Www.EndPoint, ["session-cache 0"]));

        Assert.Equal("New", await WwwSessionAsync(vip));
        Assert.Equal("New", await WwwSessionAsync(vip));
    }

    [Fact]
    public async Task SslServerUrlrewrite_RedirectOfTheReEncryptedBackend_ReachesTheClientAsHttps()
    {
        var vip = await f.AddReEncryptionAsync(170, ["urlrewrite 1 www.example.com", "urlrewrite 2 *.example.net sslport 8443 clearport 8080"],
            new BackendSslFixture.Backend(90, Ip(186), f.Real170.EndPoint, []));

        var (matching, _) = await Get(vip, "/redirect/www.example.com/next");
        var ports = (await Get(vip, "/redirect/shop.example.net:8080/cart?id=1")).Result;
        var other = (await Get(vip, "/redirect/other.example.org/next")).Result;

        Ok(matching);
        Assert.Contains("HTTP/1.1 302", matching.Stdout, StringComparison.Ordinal);
        Assert.Equal("https://www.example.com/next", Header(matching.Stdout, "Location"));
        Assert.Equal("https://shop.example.net:8443/cart?id=1", Header(ports.Stdout, "Location"));
        Assert.Equal("http://other.example.org/next", Header(other.Stdout, "Location"));
    }

    [Fact]
    public async Task SslServerUrlrewrite_KeepAliveConnection_RewritesTheRedirectAndKeepsTheNextResponseWhole()
    {
        var vip = await f.AddReEncryptionAsync(175, ["urlrewrite 1 www.example.com"], new BackendSslFixture.Backend(95, Ip(192), f.Real170.EndPoint, []));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Parse(BackendSslFixture.VipLoopback), vip);
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("www.example.com").WaitAsync(TimeSpan.FromSeconds(CurlSeconds));

        var redirect = await KeepAliveGetAsync(ssl, "/redirect/www.example.com/next", "moved to");
        var page = await KeepAliveGetAsync(ssl);

        Assert.StartsWith("HTTP/1.1 302 Found\r\n", redirect, StringComparison.Ordinal);
        Assert.Equal("https://www.example.com/next", Header(redirect, "Location"));
        Assert.EndsWith("\r\n\r\nmoved to http://www.example.com/next\n", redirect, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", page, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nhello from real-170\n", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SslServerHttpReuse_SequentialCurlRequests_ShareOneReEncryptedConnectionToTheRealServer()
    {
        var vip = await f.AddReEncryptionAsync(220, ["http-reuse 30"], new BackendSslFixture.Backend(140, Ip(196), f.Reuse177.EndPoint, []));

        for (var i = 0; i < 20; i++)
        {
            var (r, _) = await Get(vip, $"/page{i}");
            Ok(r);
            Assert.Contains("HTTP/1.1 200 OK", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("hello from reuse-177", r.Stdout, StringComparison.Ordinal);
        }

        // Twenty client connections, each with its own TLS handshake at the VIP; one TLS connection to the real server,
        // still open and shown on its backend-server row while it waits for the next client.
        Assert.Equal(1, f.Reuse177.Handshakes);
        await WaitForRowsAsync(f.Node, BackendSslFixture.ModuleTitle, rows => Row(rows, Ip(196), 86) is { Tcp: 1, Active: 1, Handshaking: 0 });
    }

    [Fact]
    public async Task BackendServerHandshakeTimeout_SilentRealServer_EndsTheFlowAfterTheTimeout()
    {
        var silent = (IPEndPoint)f.Silent.LocalEndpoint;
        var vip = await f.AddReEncryptionAsync(200, [], new BackendSslFixture.Backend(120, Ip(193), silent, ["handshake timeout 4"]));

        var request = Get(vip);
        await WaitForRowsAsync(f.Node, BackendSslFixture.ModuleTitle, rows => Row(rows, Ip(193), 86) is { Tcp: 1, Handshaking: 1 });
        var (r, elapsed) = await request;

        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(CurlSeconds - 1));
        await WaitForRowsAsync(f.Node, BackendSslFixture.ModuleTitle, rows => Row(rows, Ip(193), 86) is { Tcp: 0, Active: 0, Handshaking: 0 });
    }

    [Fact]
    public async Task RealServerStops_NewRequests_GoToTheOtherServerWithinTheBound()
    {
        var vip = await f.AddReEncryptionAsync(180, [],
            new BackendSslFixture.Backend(100, Ip(187), f.StopA.EndPoint, []),
            new BackendSslFixture.Backend(101, Ip(188), f.StopB.EndPoint, []));
        var before = new HashSet<string>();
        for (var i = 0; i < 2; i++) before.Add(Header((await Get(vip)).Result.Stdout, "X-Backend-Name") ?? "no answer");
        Assert.Equal(["stop-173", "stop-174"], before.Order());

        await f.StopA.StopAsync();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 4; i++)
        {
            var (r, elapsed) = await Get(vip);
            Assert.True(elapsed < TimeSpan.FromSeconds(5), $"request {i} after the stop took {elapsed}");
            Ok(r);
            Assert.Equal("stop-174", Header(r.Stdout, "X-Backend-Name"));
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"4 requests after the stop took {watch.Elapsed}");
    }

    [Fact]
    public async Task ServiceKeepaliveDown_NewFlows_SkipItAlthoughItsServerAnswers()
    {
        // Service 1's real server works, but its keepalive probes a port where nothing listens: once it is Down,
        // only service 2 may take new flows (round robin would otherwise alternate).
        var closed = FreePort("127.191.134.170");
        var vip = await f.AddReEncryptionAsync(210, [],
            new BackendSslFixture.Backend(130, Ip(194), f.Real170.EndPoint, [],
                Keepalive: ["type tcp", $"port {closed}", "frequency 2", "retryperiod 2", "maxfailure 1"]),
            new BackendSslFixture.Backend(131, Ip(195), f.Real171.EndPoint, []));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(12);
        var inARow = 0;
        while (inARow < 2 && DateTime.UtcNow < deadline)
        {
            var (r, _) = await Get(vip);
            Ok(r);
            inARow = Header(r.Stdout, "X-Backend-Name") == "real-171" ? inARow + 1 : 0;
        }
        Assert.True(inARow >= 2, "the service whose keepalive fails kept taking new flows");
        for (var i = 0; i < 6; i++)
        {
            var (r, _) = await Get(vip);
            Ok(r);
            Assert.Equal("real-171", Header(r.Stdout, "X-Backend-Name"));
        }
    }

    [Fact]
    public async Task ServiceWeightZero_NewFlows_GoOnlyToTheOtherService()
    {
        var vip = await f.AddReEncryptionAsync(190, [],
            new BackendSslFixture.Backend(110, Ip(189), f.Real170.EndPoint, [], Weight: 0),
            new BackendSslFixture.Backend(111, Ip(190), f.Real171.EndPoint, []));

        for (var i = 0; i < 4; i++)
        {
            var (r, _) = await Get(vip);
            Ok(r);
            Assert.Equal("real-171", Header(r.Stdout, "X-Backend-Name"));
        }
    }
}
