using System.Net.Sockets;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>
/// A one-request-per-connection HTTP/1.1 server: reads the request head, answers 200 with a fixed body and
/// <c>Connection: close</c>, then closes (the close the proxy must turn into close_notify).
/// </summary>
public sealed class HttpTestBackend(string body = "hello from the backend\n") : LoopbackServer
{
    /// <summary>The body every response carries.</summary>
    public string Body { get; } = body;

    /// <summary>The last request line received (for assertions).</summary>
    public string? LastRequestLine { get; private set; }

    protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
            if (head.Length > 64 * 1024)
            {
                return;
            }
        }

        LastRequestLine = head.ToString().Split("\r\n")[0];
        byte[] payload = Encoding.UTF8.GetBytes(Body);
        string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n" +
            $"Content-Length: {payload.Length}\r\n\r\n";
        byte[] bytes = [.. Encoding.ASCII.GetBytes(response), .. payload];
        await socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
        socket.Shutdown(SocketShutdown.Send);

        // Read until the peer closes so that unread input never turns our FIN into a reset.
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linger.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, linger.Token) > 0)
            {
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The peer kept its side open; closing is fine for a test.
        }
    }
}
