using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>
/// A real server behind TLS for back-end SSL tests: HTTP/1.1 keep-alive over SslStream, answering every request
/// with 200, the server's name in <c>X-Backend-Name</c> and the negotiated protocol in <c>X-Tls-Protocol</c>.
/// Counts handshakes and requests. Stops by itself on dispose.
/// </summary>
public sealed class HttpsTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly X509Certificate2 _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _handshakes;
    private int _requests;

    public HttpsTestServer(IPEndPoint endpoint, string name, TestCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Name = name;
        using var pub = certificate.ToX509();
        _certificate = certificate.Key is RSA rsa ? pub.CopyWithPrivateKey(rsa) : pub.CopyWithPrivateKey((ECDsa)certificate.Key);
        _listener = new TcpListener(endpoint);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start(512);
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _loop = AcceptLoopAsync();
    }

    public string Name { get; }

    public IPEndPoint EndPoint { get; }

    public int Handshakes => Volatile.Read(ref _handshakes);

    public int Requests => Volatile.Read(ref _requests);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            await using var ssl = new SslStream(client.GetStream());
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, timeout.Token);
            Interlocked.Increment(ref _handshakes);
            var buffer = new byte[16 * 1024];
            var pending = new StringBuilder();
            while (true)
            {
                var n = await ssl.ReadAsync(buffer, timeout.Token);
                if (n == 0) return;
                pending.Append(Encoding.ASCII.GetString(buffer, 0, n));
                int end;
                while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var head = pending.ToString(0, end);
                    pending.Remove(0, end + 4);
                    Interlocked.Increment(ref _requests);
                    var close = head.Contains("Connection: close", StringComparison.OrdinalIgnoreCase);
                    var body = $"hello from {Name}\n";
                    var response = $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nX-Backend-Name: {Name}\r\nX-Tls-Protocol: {ssl.SslProtocol}\r\n" +
                        $"{(close ? "Connection: close\r\n" : "")}\r\n{body}";
                    await ssl.WriteAsync(Encoding.ASCII.GetBytes(response), timeout.Token);
                    if (close)
                    {
                        await ssl.ShutdownAsync();
                        return;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Security.Authentication.AuthenticationException or SocketException)
        {
            // A client that went away, or the server stopping: nothing to report.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _certificate.Dispose();
        _stop.Dispose();
    }
}
