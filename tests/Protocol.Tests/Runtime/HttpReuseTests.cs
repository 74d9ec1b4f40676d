using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Runtime;
using SslCluster.TestSupport;
using Xunit;
using static SslCluster.Protocol.Tests.Tls.BackendTlsTestKit;

namespace SslCluster.Protocol.Tests.Runtime;

/// <summary>
/// <c>ssl-server N http-reuse</c> through the in-process data plane: real TLS clients (.NET SslStream) on loopback, a
/// real keep-alive HTTP server behind, and the back-end connections counted at the server.
/// </summary>
public sealed class HttpReuseTests
{
    private const string Password = "s3cret pass";

    private static string Config(int serverPort, string reuse, string prelude = "") => $"""
        {prelude}
        ssl associate rsakey k kfile
        ssl associate cert c cfile
        ssl-proxy-list front
          ssl-server 1
          ssl-server 1 rsakey k
          ssl-server 1 rsacert c
          ssl-server 1 vip address 10.60.0.1
          ssl-server 1 cipher ecdhe-rsa-with-aes-128-gcm-sha256 10.60.0.2 {serverPort}
          ssl-server 1 cipher tls13-aes-128-gcm-sha256 10.60.0.2 {serverPort}
          {reuse}
          active
        service ssl2
          type ssl-accel
          slot 2
          add ssl-proxy-list front
          active
        owner o
          content SSL-VIP
            vip address 10.60.0.1
            port 443
            add service ssl2
            active
        """;

    internal sealed class Node : IDisposable
    {
        private readonly MasterKey _key = MasterKey.CreateRandom();

        /// <summary>A node whose ssl-server 1 has <paramref name="reuse"/> lines, and <paramref name="prelude"/> lines before the proxy list.</summary>
        /// <param name="files">Store files beyond the ssl-server's key (kfile) and certificate (cfile).</param>
        /// <param name="config">The whole configuration instead of the proxy list of ssl-server 1 (its key file is kfile, its certificate cfile).</param>
        /// <param name="framesHttpByFirstBytes">The node setting <c>sslcluster.proxy.frame-http-by-first-bytes</c>.</param>
        public Node(int serverPort, string reuse = "ssl-server 1 http-reuse", string prelude = "", IReadOnlyDictionary<string, byte[]>? files = null,
            string? config = null, bool framesHttpByFirstBytes = true)
        {
            var protector = new KeyProtector(_key);
            var key = new KeyFactory(protector, TimeProvider.System).GenerateRsa("kfile", 2048, Password);
            var cert = new CertificateFactory(protector, TimeProvider.System).CreateSelfSigned("cfile", key, key, Password, new SubjectName("vip.test"), 30);
            var store = new Dictionary<string, byte[]> { ["kfile"] = key.Encode(), ["cfile"] = cert.Encode() };
            foreach (var (name, bytes) in files ?? new Dictionary<string, byte[]>()) store[name] = bytes;
            ServerCertificate = CertStoreFile.DecodeShared(cert.Encode()).CertificateDer.ToArray();
            var result = ConfigParser.Parse(config ?? Config(serverPort, reuse, prelude));
            Assert.True(result.Succeeded, string.Join("\n", result.Errors));
            var plan = RuntimePlan.Build(1, result.Config!);
            DataPlane = new DataPlane(_key, AddressMap.Parse("10.60.0.2=127.0.0.1"), TimeSpan.FromSeconds(5)) { FramesHttpByFirstBytes = framesHttpByFirstBytes };
            Listener = plan.Listeners.Single(l => l.Port == 443);
            Runtime = DataPlane.Build(plan, Listener, store);
        }

        /// <summary>The ssl-server's certificate (DER).</summary>
        public byte[] ServerCertificate { get; }

        public DataPlane DataPlane { get; }

        public ListenerPlan Listener { get; }

        public IListenerRuntime Runtime { get; }

        /// <summary>One client connection: the TLS handshake, then <paramref name="send"/> runs with the client's stream.</summary>
        public async Task<T> ClientAsync<T>(Func<SslStream, Task<T>> send)
        {
            var (test, relayEnd) = await PairAsync();
            using var _ = test;
            var run = RunAsync(relayEnd, new ConnectionState(1, "m", null, DateTimeOffset.UtcNow));
            T result;
            await using (var ssl = await HandshakeAsync(test))
            {
                result = await send(ssl).WaitAsync(Bound);
            }
            test.Shutdown(SocketShutdown.Send);
            await run.WaitAsync(Bound);
            return result;
        }

        /// <summary>
        /// One client connection run through the node under <paramref name="state"/>, as its actor runs it: the client's
        /// socket, the node's run, and the client's TLS stream once the handshake is done.
        /// </summary>
        /// <param name="alpn">The protocol the client offers by ALPN; null offers none.</param>
        public async Task<Open> OpenAsync(ConnectionState state, string? alpn = null)
        {
            var (test, relayEnd) = await PairAsync();
            var run = RunAsync(relayEnd, state);
            try
            {
                return new Open(test, run, await HandshakeAsync(test, alpn));
            }
            catch
            {
                test.Dispose();
                throw;
            }
        }

        /// <summary>Runs the node's side of one connection (no token: aborted through <paramref name="state"/>, as its actor does).</summary>
        public Task RunAsync(Socket relayEnd, ConnectionState state) =>
            Runtime.RunAsync(relayEnd, Listener.Modules.Single(), DataPlane.Flows.For("ssl2", "10.60.0.1", 443), state, CancellationToken.None);

        /// <summary>The client's TLS handshake over <paramref name="test"/> (the pair's client end).</summary>
        public static async Task<SslStream> HandshakeAsync(Socket test, string? alpn = null)
        {
            var ssl = new SslStream(new NetworkStream(test, ownsSocket: false));
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "vip.test",
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
                ApplicationProtocols = alpn is null ? null : [new SslApplicationProtocol(alpn)],
            }).WaitAsync(Bound);
            return ssl;
        }

        /// <summary>
        /// Listens on 127.0.0.1 and runs the first <paramref name="connections"/> accepted connections through the node
        /// (for clients that dial, such as openssl s_client); the port, and the task that ends when they all ended.
        /// </summary>
        public (int Port, Task Served) Serve(int connections)
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            listener.Listen(connections);
            var port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
            async Task RunAll()
            {
                using (listener)
                {
                    var runs = new List<Task>();
                    for (int i = 0; i < connections; i++)
                    {
                        var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30));
                        var id = i + 1;
                        runs.Add(Task.Run(async () =>
                        {
                            using (accepted)
                            {
                                await Runtime.RunAsync(accepted, Listener.Modules.Single(), DataPlane.Flows.For("ssl2", "10.60.0.1", 443),
                                    new ConnectionState(id, "m", null, DateTimeOffset.UtcNow), CancellationToken.None);
                            }
                        }));
                    }
                    await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(60));
                }
            }
            return (port, RunAll());
        }

        public void Dispose()
        {
            Runtime.Retire();
            DataPlane.Dispose();
            _key.Dispose();
        }
    }

    /// <summary>A client connection of <see cref="Node.OpenAsync"/>: its socket, the node's run of it, its TLS stream.</summary>
    internal sealed record Open(Socket Test, Task Run, SslStream Ssl) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Ssl.DisposeAsync();
            Test.Dispose();
        }
    }

    /// <summary>Sends the request, reads until the proxy closes (the answer to a request that asked to close).</summary>
    private static async Task<string> OneRequestAsync(SslStream ssl, string request)
    {
        await ssl.WriteAsync(Encoding.ASCII.GetBytes(request));
        var all = new MemoryStream();
        await ssl.CopyToAsync(all);
        return Encoding.ASCII.GetString(all.ToArray());
    }

    private static string Get(string path, bool close = true, string extra = "") =>
        $"GET {path} HTTP/1.1\r\nHost: vip.test\r\n{extra}{(close ? "Connection: close\r\n" : "")}\r\n";

    /// <summary>Sends a keep-alive GET for <paramref name="path"/> and reads its answer.</summary>
    private static async Task<string> AskAsync(SslStream ssl, string path)
    {
        await ssl.WriteAsync(Encoding.ASCII.GetBytes(Get(path, close: false)));
        return await ReadResponseAsync(ssl);
    }

    /// <summary>Writes <paramref name="text"/> (Latin-1) to the client's TLS stream, bounded in time.</summary>
    internal static Task WriteAsync(SslStream ssl, string text) => ssl.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask().WaitAsync(Bound);

    /// <summary>Reads one response with a Content-Length body off a keep-alive connection.</summary>
    internal static Task<string> ReadResponseAsync(SslStream ssl) => HttpAnswer.ReadAsync(ssl);

    [Fact]
    public async Task RunAsync_StateAbortedWhileTheClientIsIdleBetweenRequests_ClosesTheClientAndEndsAborted()
    {
        // What a connection actor does when it stops (a drain's deadline, its agent stopping): no token, the shared state.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        var (run, ssl) = (open.Run, open.Ssl);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", await AskAsync(ssl, "/first").WaitAsync(Bound), StringComparison.Ordinal);

        state.Abort();

        await run.WaitAsync(Bound);
        Assert.Equal(ProxyError.Aborted, state.Outcome);
        // The client's connection is gone: a read ends (closed or reset), it never waits.
        var read = await Record.ExceptionAsync(async () => Assert.Equal(0, await ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound)));
        Assert.True(read is null or IOException, read?.ToString());
    }

    [Fact]
    public async Task GoAway_KeepAliveClientIdleBetweenRequests_ClosedWithCloseNotifyAndEndsClean()
    {
        // What a drain does to every connection (the connection actor's DrainConnections): the idle client is closed now.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        var (run, ssl) = (open.Run, open.Ssl);
        var answer = await AskAsync(ssl, "/a").WaitAsync(Bound);
        // Released: the relay gave its back-end connection back and the client waits between two requests.
        Assert.Equal(0, await BackendConnectionsAsync(node, until: 0));

        state.GoAway();

        // SslStream returns 0 for close_notify and throws for a connection cut without it.
        Assert.Equal(0, await ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
        await run.WaitAsync(Bound);
        Assert.EndsWith("connection 1 request 1 /a\n", answer, StringComparison.Ordinal);
        Assert.Equal(ProxyError.None, state.Outcome);
        // The back-end connection stays in the pool for the node's other clients until it closes.
        Assert.Equal(0, server.ClosedByPeer);
    }

    [Fact]
    public async Task GoAway_KeepAliveClientSendingItsNextRequest_ThatAnswerSaysCloseThenClosed()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        var (run, ssl) = (open.Run, open.Ssl);
        var first = await AskAsync(ssl, "/a").WaitAsync(Bound);

        // The next request is under way (half its head sent, so the client is not between two messages whatever the
        // machine's pauses) when the drain begins: that request is the last.
        await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /b HTTP/1.1\r\nHo"));
        await Task.Delay(50);
        state.GoAway();
        await ssl.WriteAsync(Encoding.ASCII.GetBytes("st: vip.test\r\n\r\n"));
        var second = await ReadResponseAsync(ssl).WaitAsync(Bound);

        Assert.Equal(0, await ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
        await run.WaitAsync(Bound);
        Assert.DoesNotContain("Connection: close", first, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n\r\n", second, StringComparison.Ordinal);
        Assert.EndsWith("connection 1 request 2 /b\n", second, StringComparison.Ordinal);
        Assert.Equal(ProxyError.None, state.Outcome);
        // Our close, not the server's: the request went to it unchanged, and the next client re-uses its connection.
        Assert.All(server.Requests, head => Assert.DoesNotContain("Connection", head, StringComparison.OrdinalIgnoreCase));
        Assert.EndsWith("connection 1 request 3 /next\n", await node.ClientAsync(next => OneRequestAsync(next, Get("/next"))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GoAway_BeforeTheFirstRequest_ThatRequestIsAnsweredWithCloseNotCut()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        // A drain that began before the data path attached itself to the state reaches it when it does.
        state.GoAway();
        await using var open = await node.OpenAsync(state);
        var (run, ssl) = (open.Run, open.Ssl);

        // Sent right after the handshake, as a client does: within the grace a drain gives a first request.
        var answer = await AskAsync(ssl, "/a").WaitAsync(Bound);

        Assert.Equal(0, await ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
        await run.WaitAsync(Bound);
        Assert.Contains("\r\nConnection: close\r\n\r\n", answer, StringComparison.Ordinal);
        Assert.Equal(ProxyError.None, state.Outcome);
    }

    [Fact]
    public async Task GoAway_IdleHttp10KeepAliveClientWithAServerConnectionOfItsOwn_BothClosedOnceIdle()
    {
        // An HTTP/1.0 request makes the server connection the client's own: it is never given back while the client idles.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        await open.Ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /a HTTP/1.0\r\nHost: vip.test\r\nConnection: keep-alive\r\n\r\n"));
        var answer = await ReadResponseAsync(open.Ssl).WaitAsync(Bound);
        // Idle past the release time, it still holds its server connection.
        await Task.Delay(800);
        Assert.Equal(1, node.DataPlane.Gauges.Snapshot().Values.Sum(g => g.Current));

        state.GoAway();

        Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
        await open.Run.WaitAsync(Bound);
        Assert.EndsWith("connection 1 request 1 /a\n", answer, StringComparison.Ordinal);
        Assert.Equal(ProxyError.None, state.Outcome);
        for (var i = 0; i < 200 && server.ClosedByPeer == 0; i++) await Task.Delay(25);
        Assert.Equal(1, server.ClosedByPeer);
    }

    [Fact]
    public async Task GoAway_ClientSilentSinceItsHandshake_ClosedWithCloseNotifyAfterTheGraceWithoutAServerConnection()
    {
        // A browser's preconnect: the handshake, then nothing.
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        await using var open = await node.OpenAsync(state);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        state.GoAway();

        Assert.Equal(0, await open.Ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
        await open.Run.WaitAsync(Bound);
        // Not before the grace a first request is given (1 s from the handshake), and long before the 60 s it may take.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10));
        Assert.Equal(ProxyError.None, state.Outcome);
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task GoAway_ManyBusyKeepAliveClients_EveryRequestAnsweredWholeAndEachClientClosedAfterAnAnswerSayingSo()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        const int Clients = 60;
        var states = Enumerable.Range(0, Clients).Select(i => new ConnectionState(i, "m", null, DateTimeOffset.UtcNow)).ToArray();
        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            await using var open = await node.OpenAsync(states[c]);
            var (run, ssl) = (open.Run, open.Ssl);
            var answered = 0;
            // Requests back to back, as a busy client sends them, until an answer says the connection closes (bounded).
            for (var i = 0; i < 2_000; i++)
            {
                string answer;
                try
                {
                    answer = await AskAsync(ssl, $"/{c}/{i}").WaitAsync(Bound);
                }
                catch (IOException)
                {
                    // A client the machine kept from sending for half a second was idle, and closed as such: with
                    // close_notify, or a reset when its request crossed the close. That request never reached the
                    // server (the counts below): the client knows it had no answer, as on any keep-alive connection
                    // its server closed, and sends it again elsewhere.
                    await run.WaitAsync(Bound);
                    return (answered, Told: false);
                }
                Assert.EndsWith($" /{c}/{i}\n", answer, StringComparison.Ordinal);
                answered++;
                if (answer.Contains("\r\nConnection: close\r\n", StringComparison.Ordinal))
                {
                    Assert.Equal(0, await ssl.ReadAsync(new byte[16]).AsTask().WaitAsync(Bound));
                    await run.WaitAsync(Bound);
                    return (answered, Told: true);
                }
            }
            throw new InvalidOperationException($"client {c} answered {answered} times was never closed");
        })).ToList();

        // Drain once every client is under way.
        while (server.Requests.Count < Clients * 20) await Task.Delay(10);
        foreach (var state in states) state.GoAway();
        var results = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));

        // Busy clients are told by an answer; at most a few that the loaded machine held back were closed while idle.
        Assert.InRange(results.Count(r => r.Told), Clients * 3 / 4, Clients);
        Assert.All(states, s => Assert.Equal(ProxyError.None, s.Outcome));
        Assert.Equal(results.Sum(r => r.answered), server.Requests.Count);
    }

    [Fact]
    public async Task RunAsync_StateAbortedBeforeTheRunStarts_EndsAbortedWithoutAHandshake()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var (test, relayEnd) = await PairAsync();
        using var _ = test;
        var state = new ConnectionState(1, "m", null, DateTimeOffset.UtcNow);
        state.Abort();

        await node.RunAsync(relayEnd, state).WaitAsync(Bound);

        Assert.Equal(ProxyError.Aborted, state.Outcome);
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_SequentialClientsAskingToClose_ShareOneBackendConnectionAndEachIsClosedAfterItsAnswer()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        var answers = new List<string>();
        for (var i = 0; i < 300; i++) answers.Add(await node.ClientAsync(ssl => OneRequestAsync(ssl, Get($"/{i}"))));

        for (var i = 0; i < answers.Count; i++)
        {
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", answers[i], StringComparison.Ordinal);
            Assert.Contains("\r\nConnection: close\r\n\r\n", answers[i], StringComparison.Ordinal);
            Assert.EndsWith($"connection 1 request {i + 1} /{i}\n", answers[i], StringComparison.Ordinal);
        }
        Assert.Equal(1, server.Connections);
        // The client's close was ours to honour: the server never saw it.
        Assert.All(server.Requests, head => Assert.DoesNotContain("Connection", head, StringComparison.OrdinalIgnoreCase));
        // The idle connection is not load for least-connections and maxconns.
        Assert.Equal(0, node.DataPlane.Gauges.Snapshot().Values.Sum(g => g.Current));
    }

    [Fact]
    public async Task HttpReuse_ConcurrentClients_EveryAnswerWholeAndFewerServerConnectionsThanClients()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        var clients = Enumerable.Range(0, 40).Select(c => Task.Run(async () =>
        {
            var ok = 0;
            for (var i = 0; i < 25; i++)
            {
                var answer = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get($"/{c}/{i}")));
                if (answer.StartsWith("HTTP/1.1 200 OK\r\n", StringComparison.Ordinal) && answer.EndsWith($" /{c}/{i}\n", StringComparison.Ordinal)) ok++;
            }
            return ok;
        })).ToList();

        Assert.Equal(1000, (await Task.WhenAll(clients)).Sum());
        Assert.Equal(1000, server.Requests.Count);
        Assert.InRange(server.Connections, 1, 40);
    }

    [Fact]
    public async Task HttpReuse_KeepAliveClient_AllItsRequestsOnOneConnectionWhichTheNextClientReuses()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        var first = await node.ClientAsync(async ssl =>
        {
            var pages = new List<string>();
            for (var i = 0; i < 5; i++)
            {
                pages.Add(await AskAsync(ssl, $"/k{i}"));
            }
            return pages;
        });
        var next = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/next")));

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"connection 1 request {i + 1} /k{i}\n"), first.Select(p => p[(p.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]));
        Assert.All(first, p => Assert.DoesNotContain("Connection: close", p, StringComparison.Ordinal));
        Assert.EndsWith("connection 1 request 6 /next\n", next, StringComparison.Ordinal);
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_KeepAliveClientIdleBetweenRequests_HoldsNoServerConnectionAndAnotherClientUsesIt()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        var (a, heldWhileIdle, other, b) = await node.ClientAsync(async ssl =>
        {
            var a = await AskAsync(ssl, "/a");
            // The answer went out whole and the client sends nothing: the server connection goes back to the pool.
            var held = await BackendConnectionsAsync(node, until: 0);
            var other = await node.ClientAsync(second => OneRequestAsync(second, Get("/other")));
            // The next request comes in two writes with a pause between: it waits for its head, then takes a connection.
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("GET /b HTTP/1.1\r\nHo"));
            await Task.Delay(100);
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("st: vip.test\r\n\r\n"));
            return (a, held, other, await ReadResponseAsync(ssl));
        });

        Assert.EndsWith("connection 1 request 1 /a\n", a, StringComparison.Ordinal);
        Assert.Equal(0, heldWhileIdle);
        Assert.EndsWith("connection 1 request 2 /other\n", other, StringComparison.Ordinal);
        Assert.EndsWith("connection 1 request 3 /b\n", b, StringComparison.Ordinal);
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_KeepAliveClientIdleLongerThanTheIdleTimeout_ClosedWithCloseNotify()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, reuse: "ssl-server 1 http-reuse\nssl-server 1 idle timeout 1");

        var (answer, read, waited) = await node.ClientAsync(async ssl =>
        {
            var answer = await AskAsync(ssl, "/a");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // SslStream returns 0 for close_notify and throws for a connection cut without it.
            var read = await ssl.ReadAsync(new byte[16]);
            return (answer, read, clock.Elapsed);
        });

        Assert.EndsWith("connection 1 request 1 /a\n", answer, StringComparison.Ordinal);
        Assert.Equal(0, read);
        Assert.InRange(waited, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task HttpReuse_ManyKeepAliveClientsInterleavedAndPipelining_EveryAnswerToItsOwnRequest()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        const int Clients = 60, Rounds = 30;

        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(() => node.ClientAsync(async ssl =>
        {
            var random = new Random(c);
            var wrong = new List<string>();
            for (var i = 0; i < Rounds; i++)
            {
                // Every third round sends two requests in one write (pipelining); the others one, after a short pause.
                var paths = i % 3 == 0 ? new[] { $"/{c}/{i}a", $"/{c}/{i}b" } : [$"/{c}/{i}"];
                if (paths.Length == 1) await Task.Delay(random.Next(3));
                await ssl.WriteAsync(Encoding.ASCII.GetBytes(string.Concat(paths.Select(p => Get(p, close: false)))));
                foreach (var path in paths)
                {
                    var answer = await ReadResponseAsync(ssl);
                    if (!answer.StartsWith("HTTP/1.1 200 OK\r\n", StringComparison.Ordinal) || !answer.EndsWith($" {path}\n", StringComparison.Ordinal)) wrong.Add(answer);
                }
            }
            return wrong;
        }))).ToList();

        var wrongAnswers = (await Task.WhenAll(clients)).SelectMany(w => w).ToList();
        Assert.Empty(wrongAnswers);
        Assert.Equal(Clients * (Rounds + Rounds / 3), server.Requests.Count);
        Assert.InRange(server.Connections, 1, Clients);
        Assert.Equal(0, await BackendConnectionsAsync(node, until: 0));
    }

    [Fact]
    public async Task HttpReuse_ManyIdleKeepAliveClients_EveryOneGivesItsServerConnectionBack()
    {
        // Each client's request goes in two writes, as clients often send a head: a wait of the relay can then wake for
        // bytes a receive took already, and must go back to waiting where the release finds it, not into a receive that
        // holds the back-end connection until the client speaks again.
        const int Clients = 100;
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        var opens = new List<Open>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var open = await node.OpenAsync(new ConnectionState(i + 1, "m", null, DateTimeOffset.UtcNow));
                opens.Add(open);
                await open.Ssl.WriteAsync(Encoding.ASCII.GetBytes($"GET /{i} HTTP/1.1\r\n"));
                await open.Ssl.WriteAsync(Encoding.ASCII.GetBytes("Host: vip.test\r\n\r\n"));
                Assert.EndsWith($" /{i}\n", await ReadResponseAsync(open.Ssl).WaitAsync(Bound), StringComparison.Ordinal);
            }

            Assert.Equal(0, await BackendConnectionsAsync(node, until: 0));
            // And each idle client can still ask again.
            Assert.EndsWith(" /again\n", await AskAsync(opens[0].Ssl, "/again").WaitAsync(Bound), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var open in opens) await open.DisposeAsync();
        }
    }

    [Fact]
    public async Task HttpReuse_ClientsPausingAroundTheIdleRelease_EveryAnswerToItsOwnRequest()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);
        const int Clients = 30, Rounds = 8;
        var idle = BackendPool.IdleClientAfter;

        // Pauses from 0.7x to 1.5x the idle time: next requests arrive before, during and after the sweeps release.
        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(() => node.ClientAsync(async ssl =>
        {
            var random = new Random(c);
            var wrong = new List<string>();
            for (var i = 0; i < Rounds; i++)
            {
                await Task.Delay(idle * (0.7 + (random.NextDouble() * 0.8)));
                var answer = await AskAsync(ssl, $"/{c}/{i}");
                if (!answer.EndsWith($" /{c}/{i}\n", StringComparison.Ordinal)) wrong.Add(answer);
            }
            return wrong;
        }))).ToList();

        Assert.Empty((await Task.WhenAll(clients)).SelectMany(w => w));
        Assert.Equal(Clients * Rounds, server.Requests.Count);
        Assert.InRange(server.Connections, 1, Clients);
    }

    [Fact]
    public async Task HttpReuse_ServerClosesWhileTheClientIsIdle_ClientClosedCleanlyNotReleased()
    {
        await using var server = new KeepAliveHttpBackend { CloseIdleAfter = TimeSpan.FromMilliseconds(100) };
        using var node = new Node(server.EndPoint.Port);

        var (answer, read) = await node.ClientAsync(async ssl =>
        {
            var answer = await AskAsync(ssl, "/a");
            // The server ends its connection 100 ms later, before the idle release (0.5 s) could: the client is closed
            // with close_notify (a read of 0), as a server closing a keep-alive connection does.
            return (answer, await ssl.ReadAsync(new byte[16]));
        });

        Assert.EndsWith("connection 1 request 1 /a\n", answer, StringComparison.Ordinal);
        Assert.Equal(0, read);
    }

    [Fact]
    public async Task HttpReuse_ClientReadsItsLargeAnswerLate_AnswerWholeAndItsNextRequestAnswered()
    {
        await using var server = new KeepAliveHttpBackend { BodyPadding = 4 << 20 };
        using var node = new Node(server.EndPoint.Port);

        var (first, second) = await node.ClientAsync(async ssl =>
        {
            await ssl.WriteAsync(Encoding.ASCII.GetBytes(Get("/big", close: false)));
            // Nothing read for three idle times while the 4 MiB answer is on its way: whatever the socket buffers took,
            // the answer arrives whole and the next request is answered.
            await Task.Delay(BackendPool.IdleClientAfter * 3);
            var first = await ReadResponseAsync(ssl);
            // The second answer is as large; the client then ends between two messages, and the relay must end too
            // (a wait for the back end that ends with nothing to read left its read unstoppable before).
            return (first, await AskAsync(ssl, "/next"));
        });

        Assert.EndsWith("connection 1 request 1 /big\n", first, StringComparison.Ordinal);
        Assert.EndsWith(" request 2 /next\n", second, StringComparison.Ordinal);
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_PostAfterTheIdleRelease_GetsAConnectionOfItsOwn()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        var (held, post) = await node.ClientAsync(async ssl =>
        {
            await AskAsync(ssl, "/a");
            var held = await BackendConnectionsAsync(node, until: 0);
            await ssl.WriteAsync(Encoding.ASCII.GetBytes("POST /order HTTP/1.1\r\nHost: vip.test\r\nContent-Length: 5\r\n\r\nitems"));
            return (held, await ReadResponseAsync(ssl));
        });

        Assert.Equal(0, held);
        // A POST is never sent over an idle connection (its server may close it as it arrives): a new one is dialled.
        Assert.EndsWith("connection 2 request 1 /order\n", post, StringComparison.Ordinal);
        Assert.Equal(2, server.Connections);
    }

    /// <summary>Back-end connections the node counts as in use (idle ones in the pool are not), once it is <paramref name="until"/> or after 5 s.</summary>
    private static async Task<long> BackendConnectionsAsync(Node node, long until)
    {
        long current = 0;
        for (var i = 0; i < 200; i++)
        {
            current = node.DataPlane.Gauges.Snapshot().Values.Sum(g => g.Current);
            if (current == until) break;
            await Task.Delay(25);
        }
        return current;
    }

    [Fact]
    public async Task HttpReuse_ServerClosedTheIdleConnection_NextClientGetsAFreshOne()
    {
        await using var server = new KeepAliveHttpBackend { CloseIdleAfter = TimeSpan.FromMilliseconds(100) };
        using var node = new Node(server.EndPoint.Port);

        var one = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/one")));
        await Task.Delay(500);
        var two = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/two")));

        Assert.EndsWith("connection 1 request 1 /one\n", one, StringComparison.Ordinal);
        Assert.EndsWith("connection 2 request 1 /two\n", two, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpReuse_ServerDropsTheRequestOnTheIdleConnection_GetIsSentAgainOnAFreshOne()
    {
        // The server closes as the second request on a connection arrives: the race with a keep-alive timeout.
        await using var server = new KeepAliveHttpBackend { DropRequestNumber = 2 };
        using var node = new Node(server.EndPoint.Port);

        var one = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/one")));
        var two = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/two")));

        Assert.EndsWith("connection 1 request 1 /one\n", one, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", two, StringComparison.Ordinal);
        Assert.EndsWith("connection 2 request 1 /two\n", two, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpReuse_Post_NeverSentOnAnIdleConnection()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/warm")));
        var post = await node.ClientAsync(ssl => OneRequestAsync(ssl,
            "POST /order HTTP/1.1\r\nHost: vip.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nitems"));

        Assert.EndsWith("connection 2 request 1 /order\n", post, StringComparison.Ordinal);
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_ServerAnswersWithConnectionClose_ItsConnectionIsNotKept()
    {
        await using var server = new KeepAliveHttpBackend { AlwaysClose = true };
        using var node = new Node(server.EndPoint.Port);

        for (var i = 0; i < 3; i++)
        {
            var answer = await node.ClientAsync(ssl => OneRequestAsync(ssl, Get($"/{i}", close: false)));
            Assert.EndsWith($"connection {i + 1} request 1 /{i}\n", answer, StringComparison.Ordinal);
        }
        Assert.Equal(3, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_ClientThatIsNotHttp_BytesPassUntouchedOnItsOwnConnection()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/warm")));
        var echo = await node.ClientAsync(async ssl =>
        {
            await ssl.WriteAsync("HELO relay.test\r\nconnection: close\r\n\r\n"u8.ToArray());
            var buffer = new byte[38];
            await ssl.ReadExactlyAsync(buffer);
            return Encoding.ASCII.GetString(buffer);
        });

        Assert.Equal("HELO relay.test\r\nconnection: close\r\n\r\n", echo);
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_ClientLeavesWithoutARequest_NoServerConnection()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port);

        var read = await node.ClientAsync(async ssl =>
        {
            await ssl.ShutdownAsync();
            return await ssl.ReadAsync(new byte[16]);
        });

        Assert.Equal(0, read);
        Assert.Equal(0, server.Connections);
    }

    [Fact]
    public async Task HttpReuse_RevisionRetired_ItsIdleConnectionsClosedOnceItsLastFlowEnded()
    {
        await using var server = new KeepAliveHttpBackend();
        var node = new Node(server.EndPoint.Port);

        await node.ClientAsync(ssl => OneRequestAsync(ssl, Get("/one")));
        Assert.Equal(0, server.ClosedByPeer);
        node.Dispose();

        for (var i = 0; i < 200 && server.ClosedByPeer == 0; i++) await Task.Delay(25);
        Assert.Equal(1, server.ClosedByPeer);
    }

    [Fact]
    public async Task WithoutHttpReuse_SequentialClients_OneServerConnectionEach()
    {
        await using var server = new KeepAliveHttpBackend();
        using var node = new Node(server.EndPoint.Port, reuse: "");

        for (var i = 0; i < 3; i++) await node.ClientAsync(ssl => OneRequestAsync(ssl, Get($"/{i}")));

        Assert.Equal(3, server.Connections);
        Assert.All(server.Requests, head => Assert.Contains("Connection: close", head, StringComparison.Ordinal));
    }
}
