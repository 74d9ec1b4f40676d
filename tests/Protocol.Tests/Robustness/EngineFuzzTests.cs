using System.Net.Sockets;
using System.Security.Cryptography;
using SslCluster.OpenSsl;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tests.Support;
using SslCluster.Protocol.Tls;
using SslCluster.TestSupport;
using Xunit;

namespace SslCluster.Protocol.Tests.Robustness;

[CollectionDefinition(nameof(EngineFuzzTests), DisableParallelization = true)]
public sealed class EngineFuzzCollection;

/// <summary>
/// Hostile bytes against the TLS engine, bounded in count and time and seeded (a failure replays): random, truncated,
/// bit-flipped and reordered records and ClientHellos (the seed fixes the mutations; the flights carry OpenSSL's fresh
/// randoms), in-process on the binding and over sockets through the proxy.
/// Nothing may throw out of the engine, every connection must end, and every native SSL must be freed (the live-handle
/// counts come back to where they were). Runs alone: the handle counts are process-wide.
/// </summary>
[Collection(nameof(EngineFuzzTests))]
public sealed class EngineFuzzTests : IDisposable
{
    private const int Seed = 20261205;
    private readonly TestCertificate _rsa = TestCertificates.CreateRsa("fuzz.example");
    private readonly TestCertificate _ecdsa = TestCertificates.CreateEcdsa("fuzz.example");

    public void Dispose()
    {
        _rsa.Dispose();
        _ecdsa.Dispose();
    }

    [Fact]
    public void Engine_RandomTruncatedFlippedAndReorderedInput_NeverThrowsAndFreesEverySsl()
    {
        long before = LiveSslAfterCollection();
        var random = new Random(Seed);
        int failed = 0, established = 0;
        using (var front = SslContext.CreateFront(new FrontContextOptions()))
        using (var server = SslContext.CreateServer(ServerOptions(), "fuzz"))
        using (var client12 = SslClient.CreateContext(new ClientContextOptions { MaxVersion = 0x0303 }))
        using (var client13 = SslClient.CreateContext(new ClientContextOptions { MinVersion = 0x0304 }))
        {
            var flights = new[] { ClientFlights(front, server, client12), ClientFlights(front, server, client13) };
            for (int i = 0; i < 1500; i++)
            {
                var flight = flights[random.Next(flights.Length)];
                byte[] input = (i % 6) switch
                {
                    0 => RandomBytes(random, random.Next(0, 3000)),
                    1 => Flip(random, flight[0], 1 + random.Next(8)),
                    2 => flight[0][..random.Next(flight[0].Length)],
                    3 => [0x16, 0x03, 0x01, .. BitConverter.GetBytes((ushort)random.Next(0, 20000)).Reverse(), .. RandomBytes(random, random.Next(0, 600))],
                    4 => Reorder(random, flight),
                    _ => [.. flight[0], .. RandomBytes(random, random.Next(1, 400))],
                };
                var outcome = Drive(front, server, input, random);
                if (outcome == SslStatus.Failed) failed++;
                if (outcome == SslStatus.Ok) established++;
            }
        }

        // Most inputs are refused; none may escape as an exception, and every SSL is freed.
        Assert.True(failed > 500, $"{failed} refused, {established} established");
        AssertEverySslFreedWithoutTheFinalizer(before);
    }

    [Fact]
    public async Task Proxy_HostileClientHellosOverSockets_EveryConnectionEndsAsAClientFailureAndNothingLeaks()
    {
        long before = LiveSslAfterCollection();
        var random = new Random(Seed + 1);
        byte[][] hellos;
        using (var front = SslContext.CreateFront(new FrontContextOptions()))
        using (var server = SslContext.CreateServer(ServerOptions(), "fuzz"))
        using (var client = SslClient.CreateContext(new ClientContextOptions()))
        {
            var hello = ClientFlights(front, server, client)[0];
            hellos = [.. Enumerable.Range(0, 300).Select(i => (i % 3) switch
            {
                0 => Flip(random, hello, 1 + random.Next(6)),
                1 => hello[..random.Next(1, hello.Length)],
                _ => RandomBytes(random, random.Next(1, 2000)),
            })];
        }

        await using (var harness = ProxyHarness.Start(new EchoBackend(),
            options: new ProxyConnectionOptions { HandshakeTimeout = TimeSpan.FromSeconds(1) }))
        {
            // 30 at a time: each sends its bytes, half-closes, and waits (bounded) for the proxy to close.
            foreach (var batch in hellos.Chunk(30))
            {
                await Task.WhenAll(batch.Select(async bytes =>
                {
                    using var socket = await harness.ConnectRawAsync();
                    await socket.SendAsync(bytes, SocketFlags.None);
                    if (bytes.Length % 2 == 0) socket.Shutdown(SocketShutdown.Send);
                    var buffer = new byte[4096];
                    using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    try
                    {
                        while (await socket.ReceiveAsync(buffer, SocketFlags.None, bound.Token) > 0)
                        {
                        }
                    }
                    catch (SocketException)
                    {
                        // A reset is an end too.
                    }
                }));
            }

            var summaries = await harness.Observer.WaitForClosedAsync(hellos.Length, TimeSpan.FromSeconds(60));
            Assert.Equal(hellos.Length, summaries.Count);
            Assert.DoesNotContain(summaries, s => s.Error == ProxyError.InternalError);
            Assert.All(summaries, s => Assert.True(s.Error.IsClientSide(), $"{s.Error}: {s.Message}"));
            Assert.Equal(0, harness.Backend.Connections);
        }

        AssertEverySslFreedWithoutTheFinalizer(before);
    }

    [Fact]
    public async Task Proxy_AbortWhileOpenSslIsInsideTheSniCallback_ConnectionEndsAbortedAndSslFreed()
    {
        long before = LiveSslAfterCollection();
        using var entered = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        byte[] hello;
        using (var front = SslContext.CreateFront(new FrontContextOptions()))
        using (var server = SslContext.CreateServer(ServerOptions(), "fuzz"))
        using (var client = SslClient.CreateContext(new ClientContextOptions()))
        {
            hello = ClientFlights(front, server, client)[0];
        }

        await using (var harness = ProxyHarness.Start(new EchoBackend()))
        {
            TlsFrontEndBinding? Blocking(string? name)
            {
                entered.Release();
                release.Wait(TimeSpan.FromSeconds(5));
                return harness.Binding;
            }

            var (raw, accepted) = await Tls.BackendTlsTestKit.PairAsync();
            using var _raw = raw;
            using var connection = new TlsProxyConnection(accepted, harness.Engine, Blocking, (_, ct) => harness.Backend.ConnectAsync(ct));
            var run = connection.RunAsync();
            await raw.SendAsync(hello, SocketFlags.None);
            Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(10)), "the SNI callback was not reached");

            // The drain deadline fires while OpenSSL waits in our callback on another thread.
            connection.Abort();
            release.Release();
            var summary = await run.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(ProxyError.Aborted, summary.Error);
            Assert.False(summary.BackendDialled);
        }

        AssertEverySslFreedWithoutTheFinalizer(before);
    }

    [Fact]
    public async Task Relay_AbortDuringTheBackendHandshake_AbortedAndTheSslFreedWithoutTheFinalizer()
    {
        long before = LiveSslAfterCollection();
        using var cert = TestCertificates.CreateRsa();
        using var withKey = ServerCertificates.WithKey(cert);
        await using var server = new SslStreamBackend(withKey, System.Security.Authentication.SslProtocols.Tls12, SslBackendMode.Silent);
        var (test, relayEnd) = await Tls.BackendTlsTestKit.PairAsync();
        using var _t = test;
        var client = new BackendTlsClient(Tls.BackendTlsTestKit.Profile(), new OpenSslBackendSessions(TimeProvider.System));
        using var relay = new TcpRelay(relayEnd, async ct => new BackendLink(await server.ConnectAsync(ct), client, null, TimeSpan.FromSeconds(30)), null, null);
        var run = relay.RunAsync();
        await Task.Delay(300);

        // A drain deadline while the real server has not answered the ClientHello: the socket is closed under the handshake.
        relay.Abort();
        var summary = await run.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(ProxyError.Aborted, summary.Error);
        AssertEverySslFreedWithoutTheFinalizer(before);
    }

    [Fact]
    public async Task Proxy_ThreeWavesOf500ConcurrentHandshakes_MemoryDoesNotGrowWaveOnWave()
    {
        byte[] hello;
        using (var front = SslContext.CreateFront(new FrontContextOptions()))
        using (var server = SslContext.CreateServer(ServerOptions(), "fuzz"))
        using (var client = SslClient.CreateContext(new ClientContextOptions()))
        {
            hello = ClientFlights(front, server, client)[0];
        }

        await using var harness = ProxyHarness.Start(new EchoBackend(),
            options: new ProxyConnectionOptions { HandshakeTimeout = TimeSpan.FromSeconds(30) });
        var after = new List<long>();
        var liveSsl = new List<long>();
        for (int wave = 0; wave < 3; wave++)
        {
            // 500 clients send a ClientHello and stall: 500 handshakes in progress at once, then all hang up.
            var sockets = new List<Socket>();
            for (int i = 0; i < 500; i++)
            {
                var socket = await harness.ConnectRawAsync();
                await socket.SendAsync(hello, SocketFlags.None);
                sockets.Add(socket);
            }

            await WaitUntilAsync(() => harness.Listener.ActiveConnections >= 500, "500 handshakes in progress");
            foreach (var socket in sockets) socket.Dispose();
            await WaitUntilAsync(() => harness.Listener.ActiveConnections == 0, "every handshake ended");
            after.Add(GC.GetTotalMemory(forceFullCollection: true));
            liveSsl.Add(SafeSslHandle.Live);
        }

        // What a wave leaves behind is not kept: the third wave ends where the first did (pools warm by then), and no
        // native SSL of any wave is still held.
        Assert.True(after[2] <= after[0] + (8L << 20), $"managed heap after each wave: {string.Join(", ", after.Select(b => b >> 10))} KiB");
        Assert.True(liveSsl[2] <= liveSsl[0], $"live SSL after each wave: {string.Join(", ", liveSsl)}");
        Assert.Equal(1500, harness.Observer.Closed.Count);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what);
            await Task.Delay(20);
        }
    }

    /// <summary>Feeds <paramref name="input"/> in random pieces to a fresh server SSL; what the handshake came to.</summary>
    private static SslStatus Drive(SslContext front, SslContext server, byte[] input, Random random)
    {
        using var ssl = SslConnection.CreateServer(front, _ => server);
        var output = new byte[64 * 1024];
        var clear = new byte[16 * 1024];
        var status = SslStatus.WantInput;
        for (int at = 0; at < input.Length && status is SslStatus.WantInput or SslStatus.Ok;)
        {
            int n = Math.Min(input.Length - at, 1 + random.Next(700));
            ssl.Feed(input.AsSpan(at, n));
            at += n;
            status = status == SslStatus.Ok ? ssl.Read(clear, out _) : ssl.Handshake();
            while (ssl.TakeOutput(output) > 0)
            {
            }
        }

        return status;
    }

    /// <summary>The records a real client sends in one full handshake, flight by flight (ClientHello first).</summary>
    private static List<byte[]> ClientFlights(SslContext front, SslContext serverContext, SslContext clientContext)
    {
        using var client = SslClient.Connect(clientContext, "fuzz.example", null);
        using var server = SslConnection.CreateServer(front, _ => serverContext);
        var flights = new List<byte[]>();
        var buffer = new byte[64 * 1024];
        for (int round = 0; round < 10; round++)
        {
            var c = client.Handshake();
            int n = client.TakeOutput(buffer);
            if (n > 0)
            {
                flights.Add(buffer[..n]);
                server.Feed(buffer.AsSpan(0, n));
            }

            var s = server.Handshake();
            n = server.TakeOutput(buffer);
            if (n > 0) client.Feed(buffer.AsSpan(0, n));
            if (c == SslStatus.Ok && s == SslStatus.Ok) return flights;
        }

        throw new InvalidOperationException("the in-memory handshake did not complete");
    }

    /// <summary>The flights split into records, then shuffled, with one dropped or repeated now and then.</summary>
    private static byte[] Reorder(Random random, List<byte[]> flights)
    {
        var records = new List<byte[]>();
        foreach (var flight in flights)
        {
            for (int at = 0; at + 5 <= flight.Length;)
            {
                int length = 5 + (flight[at + 3] << 8 | flight[at + 4]);
                records.Add(flight.AsSpan(at, Math.Min(length, flight.Length - at)).ToArray());
                at += length;
            }
        }

        var shuffled = records.OrderBy(_ => random.Next()).ToList();
        if (random.Next(2) == 0 && shuffled.Count > 1) shuffled.RemoveAt(random.Next(shuffled.Count));
        if (random.Next(2) == 0) shuffled.Insert(random.Next(shuffled.Count + 1), shuffled[random.Next(shuffled.Count)]);
        return [.. shuffled.SelectMany(r => r)];
    }

    private static byte[] Flip(Random random, byte[] bytes, int count)
    {
        var copy = (byte[])bytes.Clone();
        for (int i = 0; i < count; i++) copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        return copy;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// The live SSL count is back to <paramref name="before"/> without forcing a collection: an SSL that nobody
    /// disposed would only go with the finalizer, so it stays counted here (a collection the runtime runs on its own
    /// meanwhile could hide one, rarely).
    /// </summary>
    private static void AssertEverySslFreedWithoutTheFinalizer(long before)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (SafeSslHandle.Live > before && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }

        Assert.True(SafeSslHandle.Live <= before, $"SSL handles alive: {SafeSslHandle.Live}, before: {before}");
    }

    private static long LiveSslAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return SafeSslHandle.Live;
    }

    private ServerContextOptions ServerOptions() => new()
    {
        Certificates = [OpenSslTestCredentials.ServerCertificate(_rsa), OpenSslTestCredentials.ServerCertificate(_ecdsa)],
        SessionIdContext = "fuzz",
    };
}
