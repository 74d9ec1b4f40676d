using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Net;

/// <summary>Bounded load through one listener on 127.0.0.1: many connections at once, one large transfer.</summary>
public sealed class LoadTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Listener_1000ConcurrentTlsConnections_AllCompleteAndReportOnceEach(bool epollSocketWaits)
    {
        const int count = 1000;
        // Both ways a client's waits can go: the runtime's socket engine (the default) and epoll (SSLCLUSTER_SOCKET_WAITS).
        await using var harness = ProxyHarness.Start(new EchoBackend(), ecdsa: true,
            options: new ProxyConnectionOptions { EpollSocketWaits = epollSocketWaits });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        using var handshakeGate = new SemaphoreSlim(64);
        var clients = new SslStream[count];

        // Phase 1: all 1,000 connections handshake and stay open (64 handshakes in flight at a time).
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await handshakeGate.WaitAsync(deadline.Token);
            try
            {
                var socket = await harness.ConnectRawAsync();
                var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    EnabledSslProtocols = i % 2 == 0 ? SslProtocols.Tls13 : SslProtocols.Tls12,
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                }, deadline.Token);
                clients[i] = ssl;
            }
            finally
            {
                handshakeGate.Release();
            }
        }));
        await WaitUntilAsync(() => harness.Observer.ActiveSsl == count, deadline.Token);
        Assert.Equal(count, harness.Listener.ActiveConnections);

        // Phase 2: every connection exchanges data while all are open, then closes.
        await Task.WhenAll(clients.Select(async (ssl, i) =>
        {
            byte[] message = BitConverter.GetBytes(i);
            await ssl.WriteAsync(message, deadline.Token);
            byte[] echo = new byte[4];
            await ssl.ReadExactlyAsync(echo, deadline.Token);
            Assert.Equal(message, echo);
            await ssl.ShutdownAsync();
            await ssl.DisposeAsync();
        }));

        var closed = await harness.Observer.WaitForClosedAsync(count, TimeSpan.FromSeconds(60));
        Assert.All(closed, s =>
        {
            Assert.True(s.Error == ProxyError.None, s.Message);
            Assert.Equal(4, s.ClientToBackendBytes);
            Assert.Equal(4, s.BackendToClientBytes);
        });
        var perConnection = harness.Observer.Events.GroupBy(e => e.Id).ToList();
        Assert.Equal(count, perConnection.Count);
        Assert.All(perConnection, g => Assert.Equal(
            ["HandshakeStarted", "HandshakeCompleted", "BackendConnected", "Closed"], g.Select(e => e.Event)));
        Assert.Equal(0, harness.Observer.ActiveSsl);
        Assert.Equal(0, harness.Observer.InHandshake);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connection_256MiBDownload_CompletesWithBoundedLiveMemory(bool epollSocketWaits)
    {
        const long size = 256L * 1024 * 1024;
        await using var harness = ProxyHarness.Start(EchoBackend.Source(size),
            options: new ProxyConnectionOptions { EpollSocketWaits = epollSocketWaits });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var socket = await harness.ConnectRawAsync();
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }, deadline.Token);
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        long maxLive = baseline;
        long received = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                // A full collection measures what is still referenced: buffered transfer data would show here.
                maxLive = Math.Max(maxLive, GC.GetTotalMemory(forceFullCollection: true));
                try
                {
                    await Task.Delay(500, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                    // Transfer finished.
                }
            }
        });

        // The read loop runs on the pool: under xunit's SynchronizationContext every continuation would queue
        // behind the test framework's scheduler and the test would measure that instead of the proxy.
        received = await Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = await ssl.ReadAsync(buffer, deadline.Token)) > 0)
            {
                total += n;
            }

            return total;
        });

        await sampling.CancelAsync();
        await sampler;
        Assert.Equal(size, received);

        // Close our side now: the proxy otherwise waits its close linger for us after its close_notify.
        socket.Dispose();
        Assert.True(maxLive - baseline < 32L * 1024 * 1024,
            $"live heap grew by {(maxLive - baseline) / 1024 / 1024} MiB during a {size / 1024 / 1024} MiB transfer");
        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.None, summary.Error);
        Assert.Equal(size, summary.BackendToClientBytes);
        Assert.True(summary.ClientBytesSent > size);
    }

    [Fact]
    public async Task Listener_StopWithAbort_AbortsOpenConnectionsOnce()
    {
        await using var harness = ProxyHarness.Start(new EchoBackend());
        using var socket = await harness.ConnectRawAsync();
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        await WaitUntilAsync(() => harness.Observer.Events.Any(e => e.Event == "BackendConnected"),
            CancellationToken.None);

        await harness.Listener.StopAsync(abortConnections: true).WaitAsync(TimeSpan.FromSeconds(10));

        var summary = Assert.Single(await harness.Observer.WaitForClosedAsync(1));
        Assert.Equal(ProxyError.Aborted, summary.Error);
        Assert.Equal(0, harness.Listener.ActiveConnections);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, bounded.Token);
        }
    }
}
