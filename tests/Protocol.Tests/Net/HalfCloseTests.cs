using SslCluster.Protocol.Tls;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Org.BouncyCastle.Tls;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>Half-close per side, seen from real clients and backends on 127.0.0.1.</summary>
public sealed class HalfCloseTests
{
    public static TheoryData<string> Versions => ["1.2", "1.3"];

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task BackendClosesAfterResponse_ClientReceivesAllBytesThenCloseNotify(string version)
    {
        string body = new('x', 100_000);
        await using var harness = ProxyHarness.Start(new HttpTestBackend(body));
        using var client = await BcTestClient.ConnectAsync(harness.Port, Version(version));

        client.Stream.Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8);

        // ReadToEnd returns only on close_notify: a bare TCP close would throw TlsNoCloseNotifyException.
        string response = Encoding.ASCII.GetString(await Task.Run(client.ReadToEnd));
        Assert.EndsWith(body, response);
        Assert.StartsWith("HTTP/1.1 200 OK", response);

        // Our TCP close ends the proxy's wait for us (its close linger) after its close_notify.
        client.Dispose();
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(response.Length, summary.BackendToClientBytes);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task ClientSendsCloseNotify_BackendSeesEof(string version)
    {
        var backend = new EchoBackend();
        await using var harness = ProxyHarness.Start(backend);
        using var client = await BcTestClient.ConnectAsync(harness.Port, Version(version));
        client.Stream.Write("ping"u8);
        var echo = new byte[4];
        int read = 0;
        while (read < 4)
        {
            read += await Task.Run(() => client.Stream.Read(echo, read, 4 - read));
        }

        client.Protocol.Close();

        Assert.True(await backend.WaitForEofsAsync(1, TimeSpan.FromSeconds(10)));
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(4, summary.ClientToBackendBytes);
        Assert.Equal(4, summary.BackendToClientBytes);
    }

    [Fact]
    public async Task Tls13ClientCloseNotify_BackendAnswersAfterEof_ClientStillReceivesAnswer()
    {
        var backend = EchoBackend.ReplyAfterEof();
        await using var harness = ProxyHarness.Start(backend);
        await using var ssl = await ConnectSslStreamAsync(harness, SslProtocols.Tls13);

        await ssl.WriteAsync("answered-after-eof"u8.ToArray());
        await ssl.ShutdownAsync();

        // The backend only answers once it saw EOF, i.e. after the proxy processed our close_notify.
        var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ssl.CopyToAsync(received, timeout.Token);
        Assert.Equal("answered-after-eof", Encoding.ASCII.GetString(received.ToArray()));
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(0, summary.BackendBytesDiscarded);
    }

    [Fact]
    public async Task Tls12ClientCloseNotify_BackendAnswersAfterEof_AnswerDiscardedAsRfc5246Requires()
    {
        var backend = EchoBackend.ReplyAfterEof();
        await using var harness = ProxyHarness.Start(backend);
        await using var ssl = await ConnectSslStreamAsync(harness, SslProtocols.Tls12);

        await ssl.WriteAsync("too-late"u8.ToArray());
        await ssl.ShutdownAsync();

        var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ssl.CopyToAsync(received, timeout.Token);
        Assert.Equal(0, received.Length);
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal("too-late".Length, summary.BackendBytesDiscarded);
    }

    [Fact]
    public async Task ClientTcpEofWithoutCloseNotify_IsNormalCloseAndBackendSeesEof()
    {
        var backend = new EchoBackend();
        await using var harness = ProxyHarness.Start(backend);
        using var socket = await harness.ConnectRawAsync();
        await using (var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false)))
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            await ssl.WriteAsync("x"u8.ToArray());
            var one = new byte[1];
            Assert.Equal(1, await ssl.ReadAsync(one));
        }

        socket.Shutdown(SocketShutdown.Send);

        Assert.True(await backend.WaitForEofsAsync(1, TimeSpan.FromSeconds(10)));
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
    }

    [Fact]
    public async Task ClientTcpEofWithoutCloseNotify_WhenRequired_IsClientTruncated()
    {
        var backend = new EchoBackend();
        await using var harness = ProxyHarness.Start(backend,
            engineOptions: new Protocol.Tls.TlsEngineOptions { RequireClientCloseNotify = true });
        using var socket = await harness.ConnectRawAsync();
        await using (var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false)))
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            await ssl.WriteAsync("x"u8.ToArray());
            Assert.Equal(1, await ssl.ReadAsync(new byte[1]));
        }

        socket.Shutdown(SocketShutdown.Send);

        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.ClientTruncated, summary.Error);
        Assert.True(summary.Error.IsClientSide());
    }

    [Fact]
    public async Task PlainTcpRelay_HalfCloseBothWays_EchoesAndCloses()
    {
        var backend = new EchoBackend();
        await using var _ = backend;
        var observer = new RecordingObserver();
        var (accepted, connected) = await ReadinessWaits.PairAsync();
        using var client = connected;
        using var relay = new TcpRelay(accepted, backend.ConnectAsync, observer: observer);
        var run = relay.RunAsync();

        await client.SendAsync("plain text"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        var buffer = new byte[1024];
        int n;
        while ((n = await client.ReceiveAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("plain text", Encoding.ASCII.GetString(received.ToArray()));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(10, summary.ClientToBackendBytes);
        Assert.Equal(10, summary.BackendToClientBytes);
        Assert.Equal(1, backend.EofsSeen);
        Assert.Equal(["BackendConnected", "Closed"], observer.Events.Select(e => e.Event));
    }

    [Fact]
    public async Task PlainTcpRelay_AbortWhileItRuns_ClientGetsAResetNotAFin()
    {
        var backend = new EchoBackend();
        await using var _ = backend;
        var (accepted, connected) = await ReadinessWaits.PairAsync();
        using var client = connected;
        using var relay = new TcpRelay(accepted, backend.ConnectAsync);
        var run = relay.RunAsync();
        await client.SendAsync("ping"u8.ToArray());
        var echoed = new byte[4];
        Assert.Equal(4, await client.ReceiveAsync(echoed, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)));

        // Clear text has no close_notify: a FIN here would end an HTTP/1.0 answer as if it were whole.
        relay.Abort();

        var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ProxyError.Aborted, summary.Error);
        client.ReceiveTimeout = 5000;
        var e = Assert.Throws<SocketException>(() => client.Receive(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    private static async Task<SslStream> ConnectSslStreamAsync(ProxyHarness harness, SslProtocols protocols)
    {
        var socket = await harness.ConnectRawAsync();
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        return ssl;
    }

    private static ProtocolVersion Version(string version) =>
        version == "1.3" ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12;
}
