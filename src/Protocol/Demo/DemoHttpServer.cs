using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SslCluster.Protocol.Demo;

public sealed record DemoHttpServerOptions
{
    public required IPEndPoint EndPoint { get; init; }

    /// <summary>Named in every page, so a test or a person sees which backend answered.</summary>
    public string ServerName { get; init; } = "demo backend";

    /// <summary>Largest request head accepted; a longer one gets 431.</summary>
    public int MaxHeadBytes { get; init; } = 16 * 1024;
}

/// <summary>
/// The bundled demo backend of <c>./run.sh</c>, also used by tests and benchmarks: a small HTTP/1.1 origin server on
/// raw sockets, keep-alive and pipelining-safe. <c>GET /</c> names the server and echoes the request headers it
/// received; <c>GET /bytes/N</c> streams N bytes from one reusable buffer (bounded memory whatever N);
/// <c>GET /redirect?to=URL</c> answers 302 with an absolute Location; HEAD is honoured.
/// </summary>
public sealed class DemoHttpServer : IAsyncDisposable
{
    private static readonly byte[] Filler = CreateFiller();
    private readonly DemoHttpServerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _requests;

    public DemoHttpServer(DemoHttpServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("not started"));

    public long Requests => Interlocked.Read(ref _requests);

    public Task StartAsync()
    {
        var listener = new Socket(_options.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(_options.EndPoint);
        listener.Listen(1024);
        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoopAsync);
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        socket.NoDelay = true;
        var buffer = ArrayPool<byte>.Shared.Rent(_options.MaxHeadBytes + 1);
        var filled = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                // Read until a whole head is buffered; keep what follows it (a pipelined request).
                int end;
                while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (filled >= _options.MaxHeadBytes)
                    {
                        await SendSimpleAsync(socket, 431, "Request Header Fields Too Large", "request head too large\n", close: true);
                        return;
                    }
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled, _options.MaxHeadBytes - filled), SocketFlags.None, _stop.Token);
                    if (n == 0) return;
                    filled += n;
                }
                var head = Encoding.ASCII.GetString(buffer, 0, end);
                var consumed = end + 4;
                Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                filled -= consumed;
                Interlocked.Increment(ref _requests);
                if (!await RespondAsync(socket, head)) return;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the server stops: nothing to answer.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            socket.Dispose();
        }
    }

    /// <summary>Answers one request; false when the connection must close afterwards.</summary>
    private async Task<bool> RespondAsync(Socket socket, string head)
    {
        var lines = head.Split("\r\n");
        var parts = lines[0].Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            await SendSimpleAsync(socket, 400, "Bad Request", "malformed request line\n", close: true);
            return false;
        }
        var (method, target, version) = (parts[0], parts[1], parts[2]);
        var close = version == "HTTP/1.0";
        foreach (var line in lines.Skip(1))
        {
            if (line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase))
                close = line.Contains("close", StringComparison.OrdinalIgnoreCase) || (version == "HTTP/1.0" && !line.Contains("keep-alive", StringComparison.OrdinalIgnoreCase));
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) && line[15..].Trim() != "0")
            {
                // The demo backend takes no bodies; refusing keeps the framing of the connection correct.
                await SendSimpleAsync(socket, 413, "Content Too Large", "this backend takes no request bodies\n", close: true);
                return false;
            }
        }
        var headOnly = method == "HEAD";
        if (method is not ("GET" or "HEAD"))
        {
            await SendSimpleAsync(socket, 405, "Method Not Allowed", "GET and HEAD only\n", close);
            return !close;
        }
        if (target.StartsWith("/bytes/", StringComparison.Ordinal) || target.StartsWith("/size/", StringComparison.Ordinal))
        {
            if (!long.TryParse(target.AsSpan(target.IndexOf('/', 1) + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size > 4L << 30)
            {
                await SendSimpleAsync(socket, 400, "Bad Request", "write /bytes/N with N up to 4294967296\n", close);
                return !close;
            }
            var header = $"HTTP/1.1 200 OK\r\nServer: {_options.ServerName}\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n{(close ? "Connection: close\r\n" : "")}\r\n";
            await SendAllAsync(socket, Encoding.ASCII.GetBytes(header));
            if (!headOnly)
            {
                for (var left = size; left > 0;)
                {
                    var chunk = (int)Math.Min(left, Filler.Length);
                    await SendAllAsync(socket, Filler.AsMemory(0, chunk));
                    left -= chunk;
                }
            }
            return !close;
        }
        if (target.StartsWith("/redirect?to=", StringComparison.Ordinal))
        {
            var to = Uri.UnescapeDataString(target["/redirect?to=".Length..]);
            var response = $"HTTP/1.1 302 Found\r\nServer: {_options.ServerName}\r\nLocation: {to}\r\nContent-Length: 0\r\n{(close ? "Connection: close\r\n" : "")}\r\n";
            await SendAllAsync(socket, Encoding.ASCII.GetBytes(response));
            return !close;
        }
        if (target is "/" or "/index.html")
        {
            var body = new StringBuilder()
                .Append("<html><body><h1>").Append(WebUtility.HtmlEncode(_options.ServerName)).Append("</h1>\n<p>")
                .Append(WebUtility.HtmlEncode(lines[0])).Append("</p>\n<pre>\n");
            foreach (var line in lines.Skip(1)) body.Append(WebUtility.HtmlEncode(line)).Append('\n');
            body.Append("</pre></body></html>\n");
            await SendSimpleAsync(socket, 200, "OK", body.ToString(), close, "text/html; charset=utf-8", headOnly);
            return !close;
        }
        await SendSimpleAsync(socket, 404, "Not Found", "try /, /bytes/N or /redirect?to=URL\n", close, headOnly: headOnly);
        return !close;
    }

    private async Task SendSimpleAsync(Socket socket, int status, string reason, string body, bool close, string type = "text/plain; charset=utf-8", bool headOnly = false)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = $"HTTP/1.1 {status} {reason}\r\nServer: {_options.ServerName}\r\nContent-Type: {type}\r\nContent-Length: {bytes.Length}\r\n{(close ? "Connection: close\r\n" : "")}\r\n";
        await SendAllAsync(socket, Encoding.ASCII.GetBytes(head));
        if (!headOnly) await SendAllAsync(socket, bytes);
    }

    private async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (data.Length > 0)
        {
            var n = await socket.SendAsync(data, SocketFlags.None, _stop.Token);
            data = data[n..];
        }
    }

    private static byte[] CreateFiller()
    {
        var b = new byte[64 * 1024];
        for (var i = 0; i < b.Length; i++) b[i] = (byte)('a' + (i % 26));
        return b;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Dispose();
        if (_acceptLoop is not null) await _acceptLoop;
        _stop.Dispose();
    }
}
