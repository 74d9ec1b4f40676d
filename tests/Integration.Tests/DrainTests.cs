using System.Net;
using SslCluster.Protocol.Demo;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Integration.Tests;

/// <summary>SIGTERM drains: no new connections, the open ones finish (within the drain timeout), then the node exits.</summary>
[Collection("nodes")]
public sealed class DrainTests
{
    /// <summary>
    /// A node configured by <paramref name="configure"/> (from the TLS VIP's port and the demo back end's), ready;
    /// <paramref name="nodeArgs"/> go to the node.
    /// </summary>
    internal static async Task<(NodeProcess Node, DemoHttpServer Backend, int Https)> StartAsync(Func<int, int, string> configure, params string[] nodeArgs)
    {
        var https = NodeProcess.FreePort();
        var clear = NodeProcess.FreePort();
        var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, clear), Name = "drain backend" });
        await backend.StartAsync();
        NodeProcess? node = null;
        try
        {
            node = await NodeProcess.StartAsync(NodeProcess.NewDataDir(), nodeArgs);
            await node.MakeKeyAsync("k", "c", "localhost");
            var applied = await node.CtlWithInputAsync(configure(https, clear), "configure", "-");
            Assert.True(applied.ExitCode == 0, applied.ToString());
            await node.WaitReadyAsync(TimeSpan.FromSeconds(10));
            return (node, backend, https);
        }
        catch
        {
            // A node that never became ready (a probed port taken meanwhile) must not outlive the test.
            node?.Dispose();
            await backend.DisposeAsync();
            throw;
        }
    }

    /// <summary>curl downloading <paramref name="size"/> bytes through the VIP at <paramref name="rate"/>; it prints the bytes it got.</summary>
    private static Task<ProcessResult> DownloadAsync(int https, long size, string rate, int maxSeconds) =>
        Run.ProcessAsync("curl", ["-sSk", "--limit-rate", rate, "--max-time", maxSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-o", "/dev/null", "-w", "%{size_download}", $"https://127.0.0.1:{https}/bytes/{size}"], null, TimeSpan.FromSeconds(maxSeconds + 10));

    [Fact]
    public async Task Sigterm_DownloadInProgress_FinishesWhileNewConnectionsAreRefusedThenNodeExits()
    {
        var (node, backend, https) = await StartAsync((https, clear) => NodeProcess.OneVip(https, clear));
        using var _ = node;
        await using var __ = backend;

        // 16 MB at 4 MB/s: about 4 s on the wire, so the SIGTERM lands in the middle of it.
        const long size = 16_000_000;
        var download = DownloadAsync(https, size, "4M", 30);
        await Task.Delay(1000);
        var exit = node.TerminateAsync(TimeSpan.FromSeconds(40));
        await Task.Delay(1000);

        var late = await Run.ProcessAsync("curl", ["-sSk", "--max-time", "5", $"https://127.0.0.1:{https}/"], null, TimeSpan.FromSeconds(10));
        Assert.NotEqual(0, late.ExitCode);
        var finished = await download;
        Assert.True(finished.ExitCode == 0 && finished.Stdout.Trim() == size.ToString(System.Globalization.CultureInfo.InvariantCulture), finished.ToString());
        Assert.Equal(0, await exit);
    }

    [Fact]
    public async Task Sigterm_IdleKeepAliveClientsThatAgreedHttp11_ClosedCleanlyAndTheNodeExitsLongBeforeItsDrainTimeout()
    {
        // The default configuration (nothing that reads HTTP): clients that agree http/1.1 by ALPN, as browsers and
        // curl do, one answered request each, then idle, as open tabs are. Before, they held the drain to its 30 s
        // deadline and were cut there.
        var (node, backend, https) = await StartAsync((https, clear) => NodeProcess.OneVip(https, clear));
        using var _ = node;
        await using var __ = backend;
        var clients = new List<System.Net.Security.SslStream>();
        try
        {
            for (var i = 0; i < 30; i++)
            {
                var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, https);
                var ssl = new System.Net.Security.SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
                clients.Add(ssl);
                await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                    ApplicationProtocols = [System.Net.Security.SslApplicationProtocol.Http11],
                });
                Assert.Equal(System.Net.Security.SslApplicationProtocol.Http11, ssl.NegotiatedApplicationProtocol);
                await ssl.WriteAsync("GET /bytes/100 HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
                await SslCluster.TestSupport.HttpAnswer.ReadAsync(ssl);
            }

            // close_notify: SslStream reads 0 (a connection cut without it throws).
            await TerminatesEarlyAsync(node, TimeSpan.FromSeconds(20), clients);
        }
        finally
        {
            foreach (var ssl in clients) await ssl.DisposeAsync();
        }
    }

    [Fact]
    public async Task Sigterm_IdleHttpClientConnectionsThatOfferNoAlpn_ClosedAndTheNodeExitsLongBeforeItsDrainTimeout()
    {
        // .NET's HttpClient offers no ALPN for HTTP/1.1 requests (as wrk and many API clients): its flows are known as
        // HTTP by their first request line, so a drain closes them between two requests too. Before, they held the
        // drain to its 30 s deadline.
        var (node, backend, https) = await StartAsync((https, clear) => NodeProcess.OneVip(https, clear));
        using var _ = node;
        await using var __ = backend;
        const int Clients = 30;
        var (clients, connections) = await IdleHttpClientsAsync(new Uri($"https://localhost:{https}/bytes/100"), Clients);
        try
        {
            // None offered a protocol by ALPN: their flows are judged by their first bytes.
            foreach (var connection in connections)
            {
                Assert.Equal(SslCluster.Protocol.Tls.ClientHelloParseStatus.Ok,
                    SslCluster.Protocol.Tls.ClientHelloParser.TryParse(connection.First, out var hello));
                Assert.Empty(hello!.ApplicationProtocols);
            }

            await TerminatesEarlyAsync(node, TimeSpan.FromSeconds(10));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task Sigterm_Http2ClientsIdleAndOneMidStream_GoAwayTheStreamFinishesAndTheNodeExitsLongBeforeItsDrainTimeout()
    {
        // Clients that agreed h2 by ALPN, relayed to a real HTTP/2 server: the drain sends each GOAWAY, lets the streams
        // they opened finish, then closes them. Before, they held the drain to its 30 s deadline and were cut there, the
        // stream under way with them.
        await using var backend = await Http2Backend.StartAsync();
        var https = NodeProcess.FreePort();
        using var node = await NodeProcess.StartAsync(NodeProcess.NewDataDir());
        await node.MakeKeyAsync("k", "c", "localhost");
        var config = NodeProcess.OneVip(https, backend.Port).Replace($"{backend.Port}\n", $"{backend.Port}\n  ssl-server 1 alpn h2 http/1.1\n", StringComparison.Ordinal);
        Assert.Contains("alpn h2", config, StringComparison.Ordinal);
        var applied = await node.CtlWithInputAsync(config, "configure", "-");
        Assert.True(applied.ExitCode == 0, applied.ToString());
        await node.WaitReadyAsync(TimeSpan.FromSeconds(10));

        const int Clients = 30;
        var clients = new List<HttpClient>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var client = new HttpClient(new SocketsHttpHandler
                {
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
                    SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
                })
                {
                    DefaultRequestVersion = HttpVersion.Version20,
                    DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
                    Timeout = TimeSpan.FromSeconds(20),
                };
                clients.Add(client);
                using var answer = await client.GetAsync(new Uri($"https://localhost:{https}/idle/{i}"));
                Assert.Equal(HttpVersion.Version20, answer.Version);
                Assert.StartsWith($"/idle/{i} on connection ", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            Assert.Equal(Clients, backend.Opened);

            // One more stream, under way when the drain starts: its second half comes 3 s after its first.
            using var slow = await clients[0].GetAsync(new Uri($"https://localhost:{https}/slow?ms=3000"), HttpCompletionOption.ResponseHeadersRead);
            var body = await slow.Content.ReadAsStreamAsync();
            var first = new byte[1];
            await body.ReadExactlyAsync(first);

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var exit = node.TerminateAsync(TimeSpan.FromSeconds(40));
            var rest = await new StreamReader(body).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Matches("^/slow on connection [^ ]+\n$", (char)first[0] + rest);
            Assert.Equal(0, await exit);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the node exited after {clock.Elapsed.TotalSeconds:F1} s (its drain timeout is 30 s)");
            Assert.Equal(Clients, backend.Closed);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="count"/> HttpClients, each with one answered GET of <paramref name="url"/> (100 bytes), their one
    /// connection then idle in its pool; and those connections' streams.
    /// </summary>
    private static async Task<(List<HttpClient> Clients, IReadOnlyCollection<FirstWriteStream> Connections)> IdleHttpClientsAsync(Uri url, int count)
    {
        var connections = new System.Collections.Concurrent.ConcurrentBag<FirstWriteStream>();
        var clients = new List<HttpClient>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var handler = new SocketsHttpHandler
                {
                    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
                    SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
                    ConnectCallback = async (context, ct) =>
                    {
                        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                        await socket.ConnectAsync(context.DnsEndPoint, ct);
                        var stream = new FirstWriteStream(socket);
                        connections.Add(stream);
                        return stream;
                    },
                };
                var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
                clients.Add(client);
                Assert.Equal(100, (await client.GetStringAsync(url)).Length);
            }
            Assert.Equal(count, connections.Count);
            return (clients, connections);
        }
        catch
        {
            foreach (var client in clients) client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// SIGTERM: each of <paramref name="clients"/> (idle) reads the clean end of its connection within 5 s (0 bytes; a
    /// cut throws), and the node exits with 0 within <paramref name="exitWithin"/>, well before its 30 s drain timeout
    /// would cut what is left.
    /// </summary>
    internal static async Task TerminatesEarlyAsync(NodeProcess node, TimeSpan exitWithin, IEnumerable<Stream>? clients = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var exit = node.TerminateAsync(TimeSpan.FromSeconds(40));
        foreach (var client in clients ?? []) Assert.Equal(0, await client.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        var closed = clock.Elapsed;
        Assert.Equal(0, await exit);
        Assert.True(closed < TimeSpan.FromSeconds(5), $"the idle clients were closed after {closed.TotalSeconds:F1} s");
        Assert.True(clock.Elapsed < exitWithin, $"the node exited after {clock.Elapsed.TotalSeconds:F1} s (its drain timeout is 30 s)");
    }

    /// <summary>A client connection's stream that keeps its first write (the TLS client's ClientHello).</summary>
    private sealed class FirstWriteStream(System.Net.Sockets.Socket socket) : System.Net.Sockets.NetworkStream(socket, ownsSocket: true)
    {
        public byte[] First { get; private set; } = [];

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (First.Length == 0) First = buffer.ToArray();
            return base.WriteAsync(buffer, cancellationToken);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (First.Length == 0) First = buffer.ToArray();
            base.Write(buffer);
        }
    }

    [Fact]
    public async Task Sigterm_DownloadStillRunningAtTheDrainTimeout_IsClosedThenNodeExits()
    {
        // The drain gives open connections 1 s; the drain phase itself would wait 6 s (drain-timeout + 5 s).
        var (node, backend, https) = await StartAsync((https, clear) => NodeProcess.OneVip(https, clear), "--set", "sslcluster.proxy.drain-timeout=1s");
        using var _ = node;
        await using var __ = backend;

        // 200 MB at 8 MB/s: about 25 s on the wire, far longer than the drain allows.
        const long size = 200_000_000;
        var download = DownloadAsync(https, size, "8M", 40);
        await Task.Delay(1000);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var exit = node.TerminateAsync(TimeSpan.FromSeconds(40));

        // The drain closes it at its deadline and the node goes on to exit: curl sees a cut transfer a second or two after
        // the SIGTERM, not the 25 s the transfer needs nor the drain phase's own 6 s.
        var cut = await download;
        var after = clock.Elapsed;
        Assert.NotEqual(0, cut.ExitCode);
        Assert.True(long.Parse(cut.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture) < size, cut.ToString());
        Assert.True(after < TimeSpan.FromSeconds(4.5), $"the download ended {after.TotalSeconds:F1} s after the SIGTERM");
        Assert.Equal(0, await exit);
    }
}

/// <summary>Clear-text relays are connections like any other: a drain waits for them, and removing their rule does not cut them.</summary>
[Collection("nodes")]
public sealed class ClearTextDrainTests
{
    private const long Size = 16_000_000;

    private static string WithClearRule(int https, int clear, int plain) => NodeProcess.OneVip(https, clear) + $"""

        service web
          ip address 127.0.0.1
          port {clear}
          active
        owner o
          content plain
            vip address 127.0.0.1
            port {plain}
            add service web
            active
        """;

    /// <summary>
    /// A download at 4 MB/s (16 MB: about 4 s on the wire); answers the byte count curl received. Loopback socket buffers
    /// hold several MB, so a test that cuts the relay needs more than they hold still to come.
    /// </summary>
    private static Task<ProcessResult> DownloadAsync(string url) =>
        Run.ProcessAsync("curl", ["-sSk", "--limit-rate", "4M", "--max-time", "30", "-o", "/dev/null", "-w", "%{size_download}", url], null, TimeSpan.FromSeconds(40));

    private static void Whole(ProcessResult r, long size = Size) =>
        Assert.True(r.ExitCode == 0 && r.Stdout.Trim() == size.ToString(System.Globalization.CultureInfo.InvariantCulture), r.ToString());

    private static async Task<(NodeProcess Node, DemoHttpServer Backend, int Https, int Plain)> StartAsync()
    {
        var plain = NodeProcess.FreePort();
        var (node, backend, https) = await DrainTests.StartAsync((https, clear) => WithClearRule(https, clear, plain));
        return (node, backend, https, plain);
    }

    [Fact]
    public async Task Sigterm_ClearTextDownloadInProgress_FinishesThenNodeExits()
    {
        // The relay is the node's only connection: if the drain did not wait for it, the node would exit under it.
        var (node, backend, _, plain) = await StartAsync();
        await using var _ = backend;
        using var __ = node;
        var relayed = DownloadAsync($"http://127.0.0.1:{plain}/bytes/{Size}");
        await Task.Delay(1000);

        var exit = node.TerminateAsync(TimeSpan.FromSeconds(40));
        await Task.Delay(1000);
        var late = await Run.ProcessAsync("curl", ["-sS", "--max-time", "5", $"http://127.0.0.1:{plain}/"], null, TimeSpan.FromSeconds(10));

        Assert.NotEqual(0, late.ExitCode);
        Whole(await relayed);
        Assert.Equal(0, await exit);
    }

    [Fact]
    public async Task Sigterm_IdleKeepAliveClientsOfAClearTextRule_ClosedWithAFinAndTheNodeExitsLongBeforeItsDrainTimeout()
    {
        // A content rule's relay frames a flow whose first bytes are an HTTP/1.x request line, so a drain closes its idle
        // keep-alive clients between two requests (with a FIN, not a reset) as it does TLS ones. Before, they held it to
        // its deadline.
        var (node, backend, _, plain) = await StartAsync();
        await using var _ = backend;
        using var __ = node;
        var clients = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var tcp = new System.Net.Sockets.TcpClient();
                clients.Add(tcp);
                await tcp.ConnectAsync(IPAddress.Loopback, plain);
                await tcp.GetStream().WriteAsync("GET /bytes/100 HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
                Assert.StartsWith("HTTP/1.1 200", await SslCluster.TestSupport.HttpAnswer.ReadAsync(tcp.GetStream()), StringComparison.Ordinal);
            }

            // A FIN reads as 0; a reset would throw.
            await DrainTests.TerminatesEarlyAsync(node, TimeSpan.FromSeconds(10), clients.Select(tcp => tcp.GetStream()));
        }
        finally
        {
            foreach (var tcp in clients) tcp.Dispose();
        }
    }

    [Fact]
    public async Task RemoveClearTextRule_DownloadInProgress_FinishesAndNewConnectionsAreRefused()
    {
        var (node, backend, _, plain) = await StartAsync();
        await using var _ = backend;
        using var __ = node;
        var relayed = DownloadAsync($"http://127.0.0.1:{plain}/bytes/{2 * Size}");
        await Task.Delay(1000);

        var removed = await node.CtlWithInputAsync("owner o\n  no content plain\n", "configure", "-");
        Assert.True(removed.ExitCode == 0, removed.ToString());
        // Its connection actor still runs it, on the revision it started with, under the rule that is gone.
        var open = await node.CtlAsync("-o", "json", "show", "connections");
        using var json = System.Text.Json.JsonDocument.Parse(open.Stdout);
        var row = json.RootElement.GetProperty("nodes")[0].GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("owner").GetString() == "o/plain");
        Assert.Equal("Relaying", row.GetProperty("phase").GetString());
        var applied = long.Parse(removed.Stdout.Split('\n').First(l => l.Contains("revision", StringComparison.Ordinal)).Split(' ').Last(), System.Globalization.CultureInfo.InvariantCulture);
        var started = row.GetProperty("revision").GetInt64();
        Assert.True(started < applied, open.Stdout);
        var late = await Run.ProcessAsync("curl", ["-sS", "--max-time", "5", $"http://127.0.0.1:{plain}/"], null, TimeSpan.FromSeconds(10));

        Assert.NotEqual(0, late.ExitCode);
        Whole(await relayed, 2 * Size);
    }
}
