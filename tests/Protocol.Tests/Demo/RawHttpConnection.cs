using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SslCluster.Protocol.Tests.Demo;

/// <summary>One response as read off the wire.</summary>
internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A deliberately dumb HTTP/1.1 client on a socket, for what HttpClient will not do: pipelining, malformed
/// requests, HTTP/1.0, watching the server close.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly List<byte> _pending = [];

    private RawHttpConnection(Socket socket)
    {
        _socket = socket;
    }

    public static async Task<RawHttpConnection> OpenAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return new RawHttpConnection(socket);
    }

    public async Task SendAsync(string text) => await _socket.SendAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Reads one response; a HEAD response (or 1xx/204/304) has no body whatever its Content-Length.</summary>
    public async Task<RawResponse> ReadResponseAsync(bool head = false)
    {
        var headEnd = await FillUntilAsync(() => IndexOf("\r\n\r\n"u8.ToArray()));
        var headText = Encoding.ASCII.GetString(_pending.GetRange(0, headEnd).ToArray());
        _pending.RemoveRange(0, headEnd + 4);
        var lines = headText.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        var length = head ? 0 : int.Parse(headers["Content-Length"], CultureInfo.InvariantCulture);
        await FillUntilAsync(() => _pending.Count >= length ? length : -1);
        var body = _pending.GetRange(0, length).ToArray();
        _pending.RemoveRange(0, length);
        return new RawResponse(status, headers, body);
    }

    /// <summary>True when the server closes the connection (read returns 0) with nothing more to read.</summary>
    public async Task<bool> ServerClosedAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    return _pending.Count == 0;
                }

                _pending.AddRange(buffer.AsSpan(0, read).ToArray());
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return _pending.Count == 0;
        }
    }

    public void Dispose() => _socket.Dispose();

    private async Task<int> FillUntilAsync(Func<int> found)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var index = found();
            if (index >= 0)
            {
                return index;
            }

            var read = await _socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (read == 0)
            {
                throw new IOException("the server closed the connection in the middle of a response");
            }

            _pending.AddRange(buffer.AsSpan(0, read).ToArray());
        }
    }

    private int IndexOf(byte[] pattern)
    {
        for (var i = 0; i + pattern.Length <= _pending.Count; i++)
        {
            var match = true;
            for (var j = 0; j < pattern.Length && match; j++)
            {
                match = _pending[i + j] == pattern[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }
}
