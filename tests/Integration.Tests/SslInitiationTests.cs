using System.Net;
using System.Net.Sockets;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Integration.Tests.BackendTestKit;

namespace SslCluster.Integration.Tests;

/// <summary>
/// One node running the reference's "SSL Initiation" sample mapped to loopback: clear text to content rule
/// ssl-init (172.18.87.101, here 127.18.87.101 on a free port instead of 80), service ssl-init (10.10.20.111, slot
/// 2), backend-server 111 type initiation towards the real HTTPS server on 127.10.20.111 (a free port instead of
/// 443), module ssl2 in slot 2. A second rule (172.18.87.102, backend-server 112) leads to a server that a test stops.
/// </summary>
public sealed class SslInitiationFixture : IAsyncLifetime
{
    public const string ModuleTitle = "SSL Acceleration Flows for slot 2 (module ssl2)";

    public TestCertificate ServerCertificate { get; } = TestCertificates.CreateRsa("secure.example.com");

    public TlsHttpBackend Real111 { get; private set; } = null!;

    public TlsHttpBackend Real112 { get; private set; } = null!;

    public NodeProcess Node { get; private set; } = null!;

    public int Port { get; } = FreePort("127.18.87.101");

    public int StoppingPort { get; } = FreePort("127.18.87.102");

    private System.Security.Cryptography.X509Certificates.X509Certificate2 _x509 = null!;

    public async Task InitializeAsync()
    {
        _x509 = ServerCertificate.ToX509WithKey();
        Real111 = new TlsHttpBackend(IPAddress.Parse("127.10.20.111"), _x509, "secure-111");
        Real112 = new TlsHttpBackend(IPAddress.Parse("127.10.20.112"), _x509, "secure-112");
        Node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), "--address-map", "private-to-loopback");
        await ConfigureAsync(Node, $"""
            !***** SSL PROXY LIST *****
            ssl-proxy-list ssl-init
              backend-server 111
              backend-server 111 ip address 10.10.20.111
              backend-server 111 server-ip 10.10.20.111
              backend-server 111 server-port {Real111.Port}
              backend-server 111 type initiation
              backend-server 111 cipher rsa-with-rc4-128-md5
              backend-server 112
              backend-server 112 ip address 10.10.20.112
              backend-server 112 server-ip 10.10.20.112
              backend-server 112 server-port {Real112.Port}
              backend-server 112 type initiation
              active
            !***** SERVICE *****
            service ssl-init
              ip address 10.10.20.111
              type ssl-init
              add ssl-proxy-list ssl-init
              slot 2
              active
            service ssl-init-112
              ip address 10.10.20.112
              type ssl-init
              keepalive type none
              add ssl-proxy-list ssl-init
              slot 2
              active
            service ssl2
              slot 2
              type ssl-accel
              keepalive type none
              add ssl-proxy-list ssl-init
              active
            !***** OWNER *****
            owner www.testbackendsssl.com
            content ssl-init
              vip address 172.18.87.101
              protocol tcp
              add service ssl-init
              port {Port}
              active
            content ssl-init-112
              vip address 172.18.87.102
              protocol tcp
              add service ssl-init-112
              port {StoppingPort}
              active
            """);
        await Node.WaitReadyAsync(TimeSpan.FromSeconds(10));
    }

    public async Task DisposeAsync()
    {
        Node?.Dispose();
        if (Real111 is not null) await Real111.DisposeAsync();
        if (Real112 is not null) await Real112.DisposeAsync();
        _x509?.Dispose();
        ServerCertificate.Dispose();
    }
}

[Collection("nodes")]
public sealed class SslInitiationTests(SslInitiationFixture f) : IClassFixture<SslInitiationFixture>
{
    [Fact]
    public async Task CurlClearText_ToTheInitiationVip_ReachesTheRealServerOverTls()
    {
        var (r, _) = await TimedCurl($"http://127.18.87.101:{f.Port}/");

        Ok(r);
        Assert.Contains("HTTP/1.1 200 OK", r.Stdout, StringComparison.Ordinal);
        Assert.Equal("secure-111", Header(r.Stdout, "X-Backend-Name"));
        Assert.StartsWith("Tls1", Header(r.Stdout, "X-Tls-Protocol"), StringComparison.Ordinal);
        Assert.Contains("hello from secure-111", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShowSslFlows_OpenInitiatedConnections_ShowTheBackendServerRowUnderModuleSsl2()
    {
        var open = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var tcp = new TcpClient();
                open.Add(tcp);
                await tcp.ConnectAsync(IPAddress.Parse("127.18.87.101"), f.Port);
                Assert.Contains("X-Tls-Protocol: Tls1", await KeepAliveGetAsync(tcp.GetStream()), StringComparison.Ordinal);
            }

            var rows = await WaitForRowsAsync(f.Node, SslInitiationFixture.ModuleTitle, rows => Row(rows, "10.10.20.111", f.Port) is { Active: 2 });
            Assert.Equal(new FlowRowText("10.10.20.111", f.Port, 2, 2, 0), Row(rows, "10.10.20.111", f.Port));
        }
        finally
        {
            foreach (var tcp in open) tcp.Dispose();
        }

        await WaitForRowsAsync(f.Node, SslInitiationFixture.ModuleTitle, rows => Row(rows, "10.10.20.111", f.Port) is { Tcp: 0, Active: 0, Handshaking: 0 });
    }

    [Fact]
    public async Task RealServerStops_InitiatedRequests_FailFastInsteadOfHanging()
    {
        var (first, _) = await TimedCurl($"http://127.18.87.102:{f.StoppingPort}/");
        Ok(first);
        Assert.Equal("secure-112", Header(first.Stdout, "X-Backend-Name"));

        await f.Real112.StopAsync();
        for (var i = 0; i < 3; i++)
        {
            var (r, elapsed) = await TimedCurl($"http://127.18.87.102:{f.StoppingPort}/");
            Assert.NotEqual(0, r.ExitCode);
            Assert.DoesNotContain("200 OK", r.Stdout, StringComparison.Ordinal);
            Assert.True(elapsed < TimeSpan.FromSeconds(5), $"request {i} to the stopped server took {elapsed}");
        }

        var (still, _) = await TimedCurl($"http://127.18.87.101:{f.Port}/");
        Ok(still);
    }
}
