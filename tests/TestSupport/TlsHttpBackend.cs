using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>Settings of a <see cref="TlsHttpBackend"/>.</summary>
public sealed record TlsHttpBackendOptions
{
    /// <summary>Ask for a client certificate and fail the handshake when none comes.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>Versions served (TLS 1.2 and 1.3 by default).</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>When set, every request is answered <c>302 Found</c> with this <c>Location</c>.</summary>
    public string? RedirectLocation { get; init; }

    /// <summary>The port to listen on; 0 (default) takes a free one. The reference's real servers are on 443.</summary>
    public int Port { get; init; }
}

/// <summary>
/// A real HTTPS server (SslStream over a TCP listener) standing in for the reference's real back-end servers: it
/// listens on a given loopback address (any free port) and answers every HTTP/1.1 request (keep-alive honoured) with
/// <c>200</c>, headers <c>X-Backend-Name</c>, <c>X-Tls-Protocol</c> (the negotiated version, e.g. Tls13) and
/// <c>X-Client-Cert</c> (the subject of the client certificate, or <c>none</c>), and a body naming it. A request for
/// <c>/redirect/HOST/PATH</c> is answered <c>302</c> with <c>Location: http://HOST/PATH</c> (URL rewrite tests).
/// Counts handshakes. <see cref="StopAsync"/> closes the listener and every open connection, as a server that went
/// away.
/// </summary>
public sealed class TlsHttpBackend : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly X509Certificate2 _certificate;
    private readonly TlsHttpBackendOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpClient, byte> _open = new();
    private readonly ConcurrentBag<Task> _handlers = [];
    private readonly Task _acceptLoop;
    private int _handshakes;
    private int _failedHandshakes;
    private int _requests;
    private int _stopped;
    private string? _lastClientSubject;

    /// <param name="address">A loopback address, e.g. 127.191.134.170.</param>
    /// <param name="certificate">The server certificate with its private key (owned by the caller).</param>
    /// <param name="name">Sent back as X-Backend-Name.</param>
    public TlsHttpBackend(IPAddress address, X509Certificate2 certificate, string name, TlsHttpBackendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(certificate);
        _certificate = certificate;
        _options = options ?? new TlsHttpBackendOptions();
        Name = name;
        _listener = new TcpListener(address, _options.Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start(512);
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    public string Name { get; }

    public IPEndPoint EndPoint { get; }

    public int Port => EndPoint.Port;

    /// <summary>TLS handshakes that completed.</summary>
    public int Handshakes => Volatile.Read(ref _handshakes);

    /// <summary>TLS handshakes that failed (bad client certificate, alert from the client, ...).</summary>
    public int FailedHandshakes => Volatile.Read(ref _failedHandshakes);

    /// <summary>HTTP requests answered.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Subject of the last client certificate received, or null when none came yet.</summary>
    public string? LastClientCertificateSubject => Volatile.Read(ref _lastClientSubject);

    /// <summary>The head (request line and headers) of the last request received, or null.</summary>
    public string? LastRequestHead => Volatile.Read(ref _lastHead);

    private string? _lastHead;

    /// <summary>Stops listening and closes every open connection: new connections are refused.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var c in _open.Keys) c.Dispose();
        await _acceptLoop;
        try
        {
            await Task.WhenAll(_handlers).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is TimeoutException or IOException or SocketException or OperationCanceledException or ObjectDisposedException or AuthenticationException)
        {
            // Handlers of vanished clients are abandoned with the test.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                return;
            }

            _open[client] = 0;
            _handlers.Add(Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(client, _stop.Token);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or AuthenticationException)
                {
                    // A client that went away or a failed handshake (counted); nothing to report from a test server.
                }
                finally
                {
                    _open.TryRemove(client, out _);
                    client.Dispose();
                }
            }));
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken ct)
    {
        await using var ssl = new SslStream(client.GetStream(), false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate,
            EnabledSslProtocols = _options.Protocols,
            ClientCertificateRequired = _options.RequireClientCertificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null) return !_options.RequireClientCertificate;
                Volatile.Write(ref _lastClientSubject, certificate.Subject);
                return true;
            },
        };
        using (var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            handshakeTimeout.CancelAfter(TimeSpan.FromSeconds(15));
            try
            {
                await ssl.AuthenticateAsServerAsync(options, handshakeTimeout.Token);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
            {
                Interlocked.Increment(ref _failedHandshakes);
                return;
            }
        }

        Interlocked.Increment(ref _handshakes);
        var clientSubject = ssl.RemoteCertificate?.Subject ?? "none";
        var protocol = ssl.SslProtocol.ToString();
        var buffer = new byte[8192];
        var pending = new StringBuilder();
        while (true)
        {
            int end;
            while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
            {
                int n = await ssl.ReadAsync(buffer, ct);
                if (n == 0 || pending.Length > 64 * 1024) return;
                pending.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }

            var head = pending.ToString(0, end);
            Volatile.Write(ref _lastHead, head);
            pending.Remove(0, end + 4);
            var lines = head.Split("\r\n");
            var target = lines[0].Split(' ') is { Length: >= 2 } parts ? parts[1] : "/";
            var close = lines.Any(l => l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase) && l.Contains("close", StringComparison.OrdinalIgnoreCase))
                || lines[0].EndsWith("HTTP/1.0", StringComparison.Ordinal);
            Interlocked.Increment(ref _requests);
            await ssl.WriteAsync(Response(target, protocol, clientSubject, close), ct);
            await ssl.FlushAsync(ct);
            if (close)
            {
                await ssl.ShutdownAsync();
                return;
            }
        }
    }

    private byte[] Response(string target, string protocol, string clientSubject, bool close)
    {
        string? location = _options.RedirectLocation;
        if (target.StartsWith("/redirect/", StringComparison.Ordinal)) location = "http://" + target["/redirect/".Length..];
        var body = Encoding.UTF8.GetBytes(location is null ? $"hello from {Name}\n" : $"moved to {location}\n");
        var head = new StringBuilder();
        head.Append(location is null ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 302 Found\r\n");
        if (location is not null) head.Append("Location: ").Append(location).Append("\r\n");
        head.Append("X-Backend-Name: ").Append(Name).Append("\r\n");
        head.Append("X-Tls-Protocol: ").Append(protocol).Append("\r\n");
        head.Append("X-Client-Cert: ").Append(clientSubject).Append("\r\n");
        head.Append("Content-Type: text/plain\r\n");
        head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        if (close) head.Append("Connection: close\r\n");
        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
    }
}

/// <summary>
/// <c>openssl s_server -www</c> on a loopback address and port, TLS 1.2 only: its status page says "New, TLSv1.2"
/// or "Reused, TLSv1.2", which proves (or disproves) that the client resumed its session. Dispose kills it.
/// </summary>
public sealed class OpenSslWwwServer : IDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _output = new();

    private OpenSslWwwServer(System.Diagnostics.Process process, IPEndPoint endPoint)
    {
        _process = process;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Starts the server on a free port of <paramref name="address"/> and waits until it accepts connections.</summary>
    public static async Task<OpenSslWwwServer> StartAsync(IPAddress address, TestCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(certificate);
        for (var attempt = 0; ; attempt++)
        {
            int port;
            using (var probe = new TcpListener(address, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }

            var psi = new System.Diagnostics.ProcessStartInfo("openssl")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "s_server", "-www", "-tls1_2", "-accept", $"{address}:{port}", "-cert", certificate.CertificatePemPath, "-key", certificate.KeyPemPath })
                psi.ArgumentList.Add(a);
            var process = System.Diagnostics.Process.Start(psi)!;
            var server = new OpenSslWwwServer(process, new IPEndPoint(address, port));
            process.OutputDataReceived += (_, e) => { lock (server._output) server._output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { lock (server._output) server._output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            for (var i = 0; i < 100 && !process.HasExited; i++)
            {
                if (server.Output.Contains("ACCEPT", StringComparison.Ordinal)) return server;
                await Task.Delay(50);
            }
            var why = server.Output;
            server.Dispose();
            if (attempt >= 2) throw new InvalidOperationException("openssl s_server did not start:\n" + why);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
