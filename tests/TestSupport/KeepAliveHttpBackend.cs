using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace SslCluster.TestSupport;

/// <summary>
/// A keep-alive HTTP/1.1 server for back-end connection re-use: answers every request on a connection (heads, then a
/// Content-Length body) with 200 and a body naming the connection and the request's number on it, and keeps the
/// connection open unless the request says <c>Connection: close</c> (then it answers with it and closes). Records every
/// request head. A first line that is not an HTTP/1.x request line turns the connection into an echo.
/// </summary>
public sealed class KeepAliveHttpBackend : LoopbackServer
{
    private int _connectionNumber;
    private int _closedByPeer;

    /// <summary>Connections the peer (the proxy) closed, seen as an end of input between requests.</summary>
    public int ClosedByPeer => Volatile.Read(ref _closedByPeer);

    /// <summary>Every request head received, in arrival order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Close an idle connection this long after each answer, without saying so (a server's keep-alive timeout).</summary>
    public TimeSpan? CloseIdleAfter { get; init; }

    /// <summary>Close the connection, unanswered, when its request number N arrives (a server that gave up as the request came).</summary>
    public int? DropRequestNumber { get; init; }

    /// <summary>Answer with <c>Connection: close</c> (and close) every time.</summary>
    public bool AlwaysClose { get; init; }

    /// <summary>Bytes of '.' put before the body's line (a large answer for a client that reads slowly).</summary>
    public int BodyPadding { get; init; }

    protected override async Task HandleAsync(Socket socket, CancellationToken cancellationToken)
    {
        var connection = Interlocked.Increment(ref _connectionNumber);
        var buffer = new byte[64 * 1024];
        var held = new List<byte>();
        var served = 0;
        while (true)
        {
            int end;
            while ((end = HeadEnd(held)) < 0)
            {
                int n;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    if (served > 0 && CloseIdleAfter is { } after) idle.CancelAfter(after);
                    try
                    {
                        n = await socket.ReceiveAsync(buffer, SocketFlags.None, idle.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        return; // the keep-alive time ran out: close without a word
                    }
                }
                if (n == 0)
                {
                    if (held.Count == 0) Interlocked.Increment(ref _closedByPeer);
                    return;
                }
                held.AddRange(buffer.AsSpan(0, n));
                if (held.Count > 0 && IsNotHttp(held))
                {
                    await EchoAsync(socket, held.ToArray(), buffer, cancellationToken);
                    return;
                }
            }
            var head = Encoding.Latin1.GetString(held.GetRange(0, end).ToArray());
            held.RemoveRange(0, end);
            var length = ContentLength(head);
            while (held.Count < length)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (n == 0) return;
                held.AddRange(buffer.AsSpan(0, n));
            }
            held.RemoveRange(0, length);
            served++;
            if (served == DropRequestNumber) return;
            Requests.Enqueue(head);
            var close = AlwaysClose || head.Contains("\r\nConnection: close", StringComparison.OrdinalIgnoreCase);
            var body = Encoding.ASCII.GetBytes(new string('.', BodyPadding) + $"connection {connection} request {served} {head.Split(' ')[1]}\n");
            var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n" +
                (close ? "Connection: close\r\n" : "") + "\r\n";
            await socket.SendAsync((byte[])[.. Encoding.ASCII.GetBytes(response), .. body], SocketFlags.None, cancellationToken);
            if (close)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }
        }
    }

    private static bool IsNotHttp(List<byte> held)
    {
        var lf = held.IndexOf((byte)'\n');
        if (lf < 0) return false;
        var line = Encoding.Latin1.GetString(held.GetRange(0, lf).ToArray()).TrimEnd('\r');
        return !line.EndsWith(" HTTP/1.1", StringComparison.Ordinal) && !line.EndsWith(" HTTP/1.0", StringComparison.Ordinal);
    }

    private static async Task EchoAsync(Socket socket, byte[] first, byte[] buffer, CancellationToken cancellationToken)
    {
        await socket.SendAsync(first, SocketFlags.None, cancellationToken);
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0)
        {
            await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, cancellationToken);
        }
        socket.Shutdown(SocketShutdown.Send);
    }

    private static int HeadEnd(List<byte> held)
    {
        for (var i = 3; i < held.Count; i++)
        {
            if (held[i] == '\n' && held[i - 1] == '\r' && held[i - 2] == '\n' && held[i - 3] == '\r') return i + 1;
        }
        return -1;
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) return int.Parse(line[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        return 0;
    }
}
