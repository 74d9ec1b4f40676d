using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Demo;
using SslCluster.Protocol.Pki;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>What a warm-up did.</summary>
/// <param name="Connections">Client connections that ran to their end.</param>
/// <param name="Requests">Requests answered over them.</param>
/// <param name="Failed">Connections that failed (none in a healthy node; a failure never stops the node).</param>
/// <param name="Elapsed">Wall time, from the throwaway key to the last close.</param>
/// <param name="FirstFailure">What the first failed connection met, or a served connection still open at the end; null when neither.</param>
/// <param name="Stopped">Its time limit, or the caller's cancellation, ended it before every connection had run.</param>
public sealed record WarmUpReport(int Connections, int Requests, int Failed, TimeSpan Elapsed, string? FirstFailure, bool Stopped = false)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Connections:N0} connections, {Requests:N0} requests in {Elapsed.TotalSeconds:0.00} s") +
        (Stopped ? " (stopped before the end)" : "") +
        (Failed > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {Failed:N0} failed, the first: {FirstFailure}")
            : FirstFailure is null ? "" : "; " + FirstFailure);

    /// <summary>Every connection ran and ended, none failed, nothing was left open.</summary>
    public bool Complete => Failed == 0 && !Stopped && FirstFailure is null;
}

/// <summary>
/// Runs a bounded load through a private copy of the data path before the node's listeners accept (beside the cluster's
/// start on two cores or more, before it on one: NodeHost), so that its first clients (the first seconds after a start
/// or a rolling restart) meet compiled code instead of paying for the JIT.
/// </summary>
/// <remarks>
/// <para>
/// Why: .NET compiles a method first without optimizations and again, optimized, once it has been called 30 times, on
/// a background thread that shares the cores with the load. A fresh node did its first 1,000 full TLS 1.2 handshakes at
/// 440-640/s against 1,300-1,450/s once warm, the JIT 27-30% of its CPU and the runtime (type loading) 15%, and it took
/// 5-8 s to reach its steady rate (docs/benchmarks.md, "A node warm before its first client").
/// </para>
/// <para>
/// What runs: a throwaway ECDSA P-256 key and self-signed certificate, sealed with a throwaway master key; the bundled
/// demo HTTP server as back end; two ssl-servers with <c>http-reuse</c> on loopback ports of their own, one TLS 1.2
/// (session tickets) and one TLS 1.3; and clients made by the node's own OpenSSL client, the one re-encryption uses:
/// full handshakes, resumptions, one to four keep-alive requests per connection, a 256 KiB answer on every eighth,
/// the last request asking to close. Connections run a few at a time, as a load does. Nothing of it touches the
/// node's configuration, counters, session cache or ticket keys (it has its own data plane), and everything it opened
/// is closed when it returns.
/// </para>
/// </remarks>
public static class DataPathWarmUp
{
    /// <summary>Clients at once per listener: enough to run the concurrent paths (the back-end pool's take and return).</summary>
    private const int Concurrency = 4;

    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the served connections get to end once the clients have closed, after the limit too.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs <paramref name="connections"/> client connections (half on each listener), stopping early when
    /// <paramref name="limit"/> has passed or <paramref name="cancellationToken"/> is cancelled. Never throws for a
    /// connection that failed or a stop: the report says what happened.
    /// </summary>
    public static async Task<WarmUpReport> RunAsync(int connections, TimeSpan limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(connections);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(limit, TimeSpan.Zero);
        var started = Stopwatch.GetTimestamp();
        var tally = new Tally();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            if (connections > 0) await RunConnectionsAsync(connections, tally, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // Stopped while it was still setting up: what it did is the report.
        }

        return new WarmUpReport(tally.Connections, tally.Requests, tally.FailedCount, Stopwatch.GetElapsedTime(started), tally.First,
            deadline.IsCancellationRequested && tally.Connections + tally.FailedCount < connections);
    }

    private static async Task RunConnectionsAsync(int connections, Tally tally, CancellationToken ct)
    {
        using var master = MasterKey.CreateRandom();
        using var protector = new KeyProtector(master);
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var key = new KeyFactory(protector, TimeProvider.System).GenerateEcdsaP256("warm-up-key", password);
        var cert = new CertificateFactory(protector, TimeProvider.System)
            .CreateSelfSigned("warm-up-cert", key, key, password, new SubjectName(ServerName), 1);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["warm-up-key"] = key.Encode(), ["warm-up-cert"] = cert.Encode() };

        await using var backend = new DemoHttpServer(new DemoHttpServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), Name = "warm-up" });
        await backend.StartAsync(ct);
        var parsed = ConfigParser.Parse(Configuration(backend.LocalEndPoint!.Port));
        if (!parsed.Succeeded)
            throw new InvalidOperationException("the warm-up configuration does not parse: " + string.Join("; ", parsed.Errors));
        var plan = RuntimePlan.Build(1, parsed.Config!);

        var tickets = new SessionTicketKeys(TimeProvider.System);
        tickets.Install([TicketKey.Create(DateTimeOffset.UtcNow, TimeSpan.FromHours(1))]);
        // Its own sessions and tickets (replicated the node's way, to nobody), and its log goes nowhere: nothing in
        // this plane is the operator's.
        using var plane = new DataPlane(master, AddressMap.Identity, HandshakeTimeout,
            new ReplicatedTlsSessionStore(master, TimeProvider.System, 4 * connections), log: static _ => { }, tickets: tickets);

        var lanes = new List<Task>();
        var listeners = new List<(Socket Socket, IListenerRuntime Runtime, Task Served)>();
        try
        {
            var share = (connections + 1) / 2;
            foreach (var listener in plan.Listeners.OrderBy(l => l.Port))
            {
                var runtime = plane.Build(plan, listener, files);
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                socket.Listen(64);
                var counters = plane.Flows.For(listener.Modules[0].Name, listener.Vip, listener.Port);
                listeners.Add((socket, runtime, ServeAsync(socket, runtime, listener, counters)));
                var at = (IPEndPoint)socket.LocalEndPoint!;
                // Every other connection offers no session (a full handshake); the others keep their sessions, so on
                // TLS 1.2 they resume with a ticket and on TLS 1.3 with a PSK.
                var (version, tag) = listener.Port == Tls12Port ? (TlsVersion.Tls12, "tls12") : (TlsVersion.Tls13, "tls13");
                var resuming = new BackendTlsProfile($"warm-up/{tag}", null, version, null, null, TimeSpan.FromMinutes(5), ServerName);
                var full = new BackendTlsProfile($"warm-up/{tag}/full", null, version, null, null, TimeSpan.Zero, ServerName);
                var count = Math.Min(share, connections - (listeners.Count - 1) * share);
                var next = -1;
                for (var lane = 0; lane < Concurrency; lane++)
                {
                    lanes.Add(Task.Run(async () =>
                    {
                        var buffer = new byte[16 * 1024];
                        int n;
                        while ((n = Interlocked.Increment(ref next)) < count && !ct.IsCancellationRequested)
                        {
                            try
                            {
                                tally.Done(await ClientAsync(plane, at, n % 2 == 0 ? full : resuming, n, buffer, ct));
                            }
                            catch (Exception e)
                            {
                                // Whatever went wrong is reported, never thrown: a warm-up must not stop the node.
                                if (!ct.IsCancellationRequested) tally.Failed($"{e.GetType().Name}: {e.Message}");
                            }
                        }
                    }, CancellationToken.None));
                }
            }
        }
        finally
        {
            // Here, so that no lane outlives the plane it uses, also when setting up a listener threw. A lane never
            // throws: it reports each connection's failure into the tally.
            await Task.WhenAll(lanes);
            foreach (var (socket, _, _) in listeners) socket.Dispose();
            // Every client has closed its connection, so each served connection has ended or is about to.
            var served = Task.WhenAll(listeners.Select(l => l.Served));
            if (await Task.WhenAny(served, Task.Delay(CloseWait, CancellationToken.None)) != served)
                tally.Lingered($"a served connection was still open {CloseWait.TotalSeconds:0} s after its client's close");
            foreach (var (_, runtime, _) in listeners) runtime.Retire();
        }
    }

    private const string ServerName = "warm-up.sslcluster.invalid";
    private const int Tls12Port = 1443;
    private const int Tls13Port = 1444;

    private static string Configuration(int backendPort) => $"""
        ssl associate ecdsakey wk warm-up-key
        ssl associate cert wc warm-up-cert
        ssl-proxy-list warm12
          ssl-server 1
          ssl-server 1 ecdsakey wk
          ssl-server 1 ecdsacert wc
          ssl-server 1 vip address 127.0.0.1
          ssl-server 1 port {Tls12Port}
          ssl-server 1 cipher ecdhe-ecdsa-with-aes-128-gcm-sha256 127.0.0.1 {backendPort}
          ssl-server 1 http-reuse
          active
        ssl-proxy-list warm13
          ssl-server 1
          ssl-server 1 ecdsakey wk
          ssl-server 1 ecdsacert wc
          ssl-server 1 vip address 127.0.0.1
          ssl-server 1 port {Tls13Port}
          ssl-server 1 cipher tls13-aes-128-gcm-sha256 127.0.0.1 {backendPort}
          ssl-server 1 version tls1.3
          ssl-server 1 http-reuse
          active
        service warm12
          type ssl-accel
          add ssl-proxy-list warm12
          active
        service warm13
          type ssl-accel
          add ssl-proxy-list warm13
          active
        owner warm-up
          content c12
            vip address 127.0.0.1
            port {Tls12Port}
            protocol tcp
            add service warm12
            active
          content c13
            vip address 127.0.0.1
            port {Tls13Port}
            protocol tcp
            add service warm13
            active
        """;

    /// <summary>Runs every connection accepted on <paramref name="socket"/> until the socket is closed; ends when they all have.</summary>
    private static async Task ServeAsync(Socket socket, IListenerRuntime runtime, ListenerPlan listener, FlowCounters counters)
    {
        var runs = new List<Task>();
        var id = 0L;
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await socket.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                break;
            }

            runs.Add(RunAsync(accepted, ++id));
        }

        await Task.WhenAll(runs);

        async Task RunAsync(Socket client, long n)
        {
            using (client)
            {
                if (!runtime.TryAcquire()) return;
                try
                {
                    await runtime.RunAsync(client, listener.Modules[0], counters,
                        new ConnectionState(n, listener.Owner, client.RemoteEndPoint, DateTimeOffset.UtcNow, listener), CancellationToken.None);
                }
                finally
                {
                    runtime.Release();
                }
            }
        }
    }

    /// <summary>One client connection: the handshake, its requests, the close; returns the requests answered.</summary>
    private static async Task<int> ClientAsync(DataPlane plane, IPEndPoint at, BackendTlsProfile profile, int n, byte[] buffer, CancellationToken ct)
    {
        await using var tls = await plane.ConnectTlsAsync(at, profile, HandshakeTimeout, ct);
        var keepAlive = n % 4;
        for (var i = 0; i <= keepAlive; i++)
        {
            var path = n % 8 == 7 && i == 0 ? "/bytes/262144" : "/bytes/100";
            var close = i == keepAlive;
            await tls.WriteAsync(Encoding.ASCII.GetBytes(
                $"GET {path} HTTP/1.1\r\nHost: {ServerName}\r\n{(close ? "Connection: close\r\n" : "")}\r\n"), ct);
            await ReadResponseAsync(tls, buffer, ct);
        }

        // The answer to a request that asked to close ends the connection.
        if (await tls.ReadAsync(buffer, ct) != 0)
            throw new InvalidDataException("bytes after the answer to a request that asked to close");
        return keepAlive + 1;
    }

    /// <summary>Reads one 200 answer with a Content-Length body; the client sends nothing before it has it whole.</summary>
    private static async Task ReadResponseAsync(Stream tls, byte[] buffer, CancellationToken ct)
    {
        var have = 0;
        int headEnd;
        while ((headEnd = buffer.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (have == buffer.Length) throw new InvalidDataException("an answer head larger than 16 KiB");
            var read = await tls.ReadAsync(buffer.AsMemory(have), ct);
            if (read == 0) throw new EndOfStreamException($"the connection closed after {have} bytes of an answer head");
            have += read;
        }

        var head = Encoding.ASCII.GetString(buffer, 0, headEnd);
        if (!head.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
            throw new InvalidDataException("answered " + head.Split("\r\n")[0]);
        var line = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidDataException("an answer without Content-Length");
        var rest = long.Parse(line.AsSpan("Content-Length:".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture) - (have - headEnd - 4);
        while (rest > 0)
        {
            var read = await tls.ReadAsync(buffer, ct);
            if (read == 0) throw new EndOfStreamException($"the connection closed with {rest} bytes of an answer missing");
            rest -= read;
        }

        if (rest < 0) throw new InvalidDataException("bytes beyond the answer's Content-Length");
    }

    private sealed class Tally
    {
        private int _connections;
        private int _requests;
        private int _failed;
        private int _lingering;
        private string? _first;

        public int Connections => Volatile.Read(ref _connections);

        public int Requests => Volatile.Read(ref _requests);

        public int FailedCount => Volatile.Read(ref _failed);

        public string? First => Volatile.Read(ref _first);

        public void Done(int requests)
        {
            Interlocked.Increment(ref _connections);
            Interlocked.Add(ref _requests, requests);
        }

        public void Failed(string why)
        {
            Interlocked.Increment(ref _failed);
            Interlocked.CompareExchange(ref _first, why, null);
        }

        /// <summary>Not a failed client connection (those are counted), but a failure of the warm-up all the same.</summary>
        public void Lingered(string why)
        {
            Interlocked.Increment(ref _lingering);
            Interlocked.CompareExchange(ref _first, why, null);
        }

        public int LingeringCount => Volatile.Read(ref _lingering);
    }
}
