using System.Net.Security;
using System.Security.Authentication;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// In-process data plane: a TLS-terminating listener whose cipher destination is a content rule of ssl-accel-backend
/// services, re-encrypting to a real TLS server on loopback, with the backend-server row counted under the module.
/// </summary>
public sealed class DataPlaneReencryptionTests
{
    private const string Password = "s3cret pass";

    private static string Config(int serverPort, bool cacert) => $"""
        ssl associate rsakey k kfile
        ssl associate cert c cfile
        ssl associate cert ca cafile
        ssl-proxy-list front
          ssl-server 100
          ssl-server 100 rsakey k
          ssl-server 100 rsacert c
          ssl-server 100 vip address 10.50.0.1
          ssl-server 100 cipher rsa-with-rc4-128-md5 10.50.0.2 85
          active
        ssl-proxy-list back
          backend-server 10
          backend-server 10 ip address 10.50.0.3
          backend-server 10 port 86
          backend-server 10 server-ip 10.50.0.4
          backend-server 10 server-port {serverPort}
          {(cacert ? "backend-server 10 cacert ca" : "")}
          active
        service bessl
          type ssl-accel-backend
          ip address 10.50.0.3
          port 86
          add ssl-proxy-list back
          active
        service ssl2
          type ssl-accel
          slot 2
          add ssl-proxy-list front
          active
        owner o
          content HTTP-VIP
            vip address 10.50.0.2
            port 85
            add service bessl
            active
          content SSL-VIP
            vip address 10.50.0.1
            port 443
            add service ssl2
            active
        """;

    private sealed class Fixture : IDisposable
    {
        public Fixture(int serverPort, bool cacert, TestCertificateAuthority ca, Microsoft.Extensions.Logging.ILogger? connections = null)
        {
            MasterKey = MasterKey.CreateRandom();
            var protector = new KeyProtector(MasterKey);
            var key = new KeyFactory(protector, TimeProvider.System).GenerateRsa("kfile", 2048, Password);
            var cert = new CertificateFactory(protector, TimeProvider.System).CreateSelfSigned("cfile", key, key, Password, new SubjectName("vip.test"), 30);
            Files = new Dictionary<string, byte[]>
            {
                ["kfile"] = key.Encode(),
                ["cfile"] = cert.Encode(),
                ["cafile"] = CertStoreFile.FromCertificate("cafile", ca.Certificate.RawData, DateTimeOffset.UtcNow).Encode(),
            };
            var result = ConfigParser.Parse(Config(serverPort, cacert));
            Assert.True(result.Succeeded, string.Join("\n", result.Errors));
            Plan = RuntimePlan.Build(1, result.Config!);
            DataPlane = new DataPlane(MasterKey, AddressMap.Parse("10.50.0.4=127.0.0.1"), TimeSpan.FromSeconds(5))
            {
                Log = new ConnectionLog(connections ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System),
            };
            Listener = Plan.Listeners.Single(l => l.Port == 443);
            Runtime = DataPlane.Build(Plan, Listener, Files);
        }

        public MasterKey MasterKey { get; }

        public Dictionary<string, byte[]> Files { get; }

        public RuntimePlan Plan { get; }

        public DataPlane DataPlane { get; }

        public ListenerPlan Listener { get; }

        public IListenerRuntime Runtime { get; }

        public void Dispose()
        {
            DataPlane.Dispose();
            MasterKey.Dispose();
        }
    }

    private static async Task<SslStream> ConnectClientAsync(System.Net.Sockets.Socket test)
    {
        var ssl = new SslStream(new System.Net.Sockets.NetworkStream(test, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "vip.test",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }).WaitAsync(Bound);
        return ssl;
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (int i = 0; i < 200 && !condition(); i++) await Task.Delay(25);
        return condition();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RunAsync_CipherDestinationIsSslAccelBackendRule_ReencryptsAndCountsTheBackendServerRow(bool cacert)
    {
        using var ca = TestCertificateAuthority.Create();
        using var serverCert = ServerCertificates.Issue(ca, "real.server.test");
        using var withKey = ServerCertificates.WithKey(serverCert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12 | SslProtocols.Tls13);
        using var fixture = new Fixture(server.EndPoint.Port, cacert, ca);
        var module = fixture.Listener.Modules.Single();
        var front = fixture.DataPlane.Flows.For("ssl2", "10.50.0.1", 443);
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        var run = fixture.Runtime.RunAsync(relayEnd, module, front, new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), CancellationToken.None);

        await using (var ssl = await ConnectClientAsync(test))
        {
            await ssl.WriteAsync("hello through two TLS legs"u8.ToArray());
            var echo = new byte[26];
            await ssl.ReadExactlyAsync(echo).AsTask().WaitAsync(Bound);
            Assert.Equal("hello through two TLS legs", Text(echo));
            Assert.Equal(1, server.Handshakes);

            // While the connection is open: one TCP flow, one active SSL flow on the backend-server row of ssl2.
            FlowRow? Row() => fixture.DataPlane.Flows.RowsOf("ssl2").SingleOrDefault(r => r.Virtual == "10.50.0.3" && r.Port == 86);
            Assert.True(await EventuallyAsync(() => Row() is { ActiveSslFlows: 1 }), $"row: {Row()}");
            Assert.Equal(new FlowRow("10.50.0.3", 86, 1, 1, 0, 1, 1, 0, 0) { ServerLeg = true }, Row());
            Assert.Equal(1, fixture.DataPlane.Gauges.Current("bessl"));
            Assert.Equal((1L, 1L, 0L), (front.TcpProxyFlows, front.ActiveSslFlows, front.InHandshake));

            await ssl.ShutdownAsync();
            test.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            await ReadToEndAsync(test);
        }

        await run.WaitAsync(Bound);
        var after = fixture.DataPlane.Flows.RowsOf("ssl2").Single(r => r.Virtual == "10.50.0.3");
        Assert.Equal((0L, 0L, 0L), (after.TcpProxyFlows, after.ActiveSslFlows, after.InHandshake));
        Assert.Equal((1L, 1L, 0L), (after.Accepted, after.HandshakesCompleted, after.HandshakesFailed));
        Assert.Equal(0, fixture.DataPlane.Gauges.Current("bessl"));
        Assert.Equal(new SslCluster.Protocol.Health.ServiceConnections(1, 0), fixture.DataPlane.Gauges.Snapshot()["bessl"]);
        Assert.Equal((0L, 0L, 0L), (front.TcpProxyFlows, front.ActiveSslFlows, front.InHandshake));
    }

    [Fact]
    public async Task RunAsync_BackendCertificateFromAnotherCa_FlowRefusedAndRowCountsAFailedHandshake()
    {
        using var ca = TestCertificateAuthority.Create();
        using var other = TestCertificateAuthority.Create("Other");
        using var serverCert = ServerCertificates.Issue(other, "impostor.test");
        using var withKey = ServerCertificates.WithKey(serverCert);
        await using var server = new SslStreamBackend(withKey, SslProtocols.Tls12);
        using var fixture = new Fixture(server.EndPoint.Port, cacert: true, ca);
        var front = fixture.DataPlane.Flows.For("ssl2", "10.50.0.1", 443);
        var (test, relayEnd) = await PairAsync();
        using var _t = test;
        var run = fixture.Runtime.RunAsync(relayEnd, fixture.Listener.Modules.Single(), front, new ConnectionState(1, "m", null, DateTimeOffset.UtcNow), CancellationToken.None);

        await using (var ssl = await ConnectClientAsync(test))
        {
            await ssl.WriteAsync("x"u8.ToArray());
            // The flow fails: the client gets an alert or the end of the connection, never data.
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                var buffer = new byte[16];
                if (await ssl.ReadAsync(buffer).AsTask().WaitAsync(Bound) == 0) throw new IOException("closed");
            });
        }

        await run.WaitAsync(Bound);
        var row = fixture.DataPlane.Flows.RowsOf("ssl2").Single(r => r.Virtual == "10.50.0.3");
        Assert.Equal((0L, 0L, 0L), (row.TcpProxyFlows, row.ActiveSslFlows, row.InHandshake));
        Assert.Equal((1L, 0L, 1L), (row.Accepted, row.HandshakesCompleted, row.HandshakesFailed));
        Assert.Equal(0, fixture.DataPlane.Gauges.Current("bessl"));
    }

    /// <summary>Connection log lines, as the node's logger gets them.</summary>
    private sealed class LogLines : Microsoft.Extensions.Logging.ILogger
    {
        public System.Collections.Concurrent.ConcurrentQueue<(int Id, string Message)> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) => Lines.Enqueue((eventId.Id, formatter(state, exception)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RunAsync_ClientClosesBeforeItsFirstByte_CountedAsEmptyNeitherFailedNorLogged(bool reset)
    {
        // A load balancer's or monitor's port check: connect, then close (FIN) or abort (RST) without a byte. Forty of
        // them, as a few checkers over some minutes send, then one client that sends a byte of garbage and closes.
        using var ca = TestCertificateAuthority.Create();
        var log = new LogLines();
        using var fixture = new Fixture(1, cacert: false, ca, log);
        var module = fixture.Listener.Modules.Single();
        var front = fixture.DataPlane.Flows.For("ssl2", "10.50.0.1", 443);
        for (var i = 0; i < 40; i++)
        {
            var (test, relayEnd) = await PairAsync();
            var run = fixture.Runtime.RunAsync(relayEnd, module, front, new ConnectionState(i, "ssl2", null, DateTimeOffset.UtcNow), CancellationToken.None);
            if (reset) test.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            test.Dispose();
            await run.WaitAsync(Bound);
        }

        Assert.Equal(40, front.Ended(SslCluster.Protocol.Net.ProxyError.ClientClosedEmpty));
        Assert.Equal((0L, 0L, 0L), (front.HandshakesCompleted, front.HandshakesFailed, front.InHandshake));
        Assert.Equal(0L, front.TcpProxyFlows);
        Assert.Empty(log.Lines);
        Assert.Equal(0, fixture.DataPlane.Gauges.Current("bessl")); // no back end was dialled

        var (garbage, garbageEnd) = await PairAsync();
        var last = fixture.Runtime.RunAsync(garbageEnd, module, front, new ConnectionState(41, "ssl2", null, DateTimeOffset.UtcNow), CancellationToken.None);
        using (garbage)
        {
            await garbage.SendAsync(new byte[] { 0x16 }, System.Net.Sockets.SocketFlags.None);
            garbage.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            await ReadToEndAsync(garbage);
        }

        await last.WaitAsync(Bound);
        Assert.Equal(1L, front.HandshakesFailed);
        Assert.Equal(1, front.Ended(SslCluster.Protocol.Net.ProxyError.ClientHandshakeFailed));
        var line = Assert.Single(log.Lines);
        Assert.Equal(1001, line.Id);
        Assert.Contains("after 1 bytes", line.Message, StringComparison.Ordinal);
    }
}
