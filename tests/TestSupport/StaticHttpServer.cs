using System.Net.Sockets;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>
/// A loopback HTTP/1.1 server answering every request with the current <see cref="Body"/> and
/// <see cref="StatusCode"/> (a CRL distribution point for client-authentication tests). Counts requests.
/// </summary>
public sealed class StaticHttpServer : LoopbackServer
{
    private int _requests;

    /// <summary>What the next requests get.</summary>
    public byte[] Body { get; set; } = [];

    /// <summary>Status of the next answers; 200 by default.</summary>
    public int StatusCode { get; set; } = 200;

    /// <summary>Requests answered so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The URL of <paramref name="path"/> on this server.</summary>
    public string Url(string path = "/ca.crl") => $"http://127.0.0.1:{EndPoint.Port}{path}";

    protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];

        // Bounded: at most 64 KiB of head is read.
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && head.Length < 64 * 1024)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        Interlocked.Increment(ref _requests);
        byte[] body = Body;
        string status = StatusCode == 200 ? "200 OK" : $"{StatusCode} Test";
        byte[] response = [.. Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: application/pkix-crl\r\n" +
            $"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body];
        await socket.SendAsync(response, SocketFlags.None, cancellationToken);
        socket.Shutdown(SocketShutdown.Send);
    }
}
