using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SslCluster.Protocol.Demo;

/// <summary>
/// The bundled demo origin server: a small HTTP/1.1 server on raw sockets, used by <c>./run.sh</c> and the tests
/// as the clear-text backend behind the TLS offload. Routes:
/// <list type="bullet">
/// <item><c>GET /</c>: an HTML page naming the server and echoing the request headers it received (to see
/// what the proxy inserted).</item>
/// <item><c>GET /bytes/N</c>: N bytes (0 to 4 GiB) of the repeating pattern 00 01 .. FF, streamed from one
/// shared buffer, so memory stays flat whatever N is.</item>
/// <item><c>GET /size/N</c>: the same as text, in 64-byte lines.</item>
/// <item><c>GET /redirect?to=URL</c>: 302 with an absolute Location (a path is made absolute with the Host
/// header), for testing Location rewriting.</item>
/// </list>
/// HEAD works on every route. Keep-alive and pipelining are supported: requests on a connection are answered in
/// order, and bytes that arrive after one request are kept for the next.
/// </summary>
public sealed class DemoHttpServer : IAsyncDisposable
{
    /// <summary>The largest N of <c>/bytes/N</c> and <c>/size/N</c>: 4 GiB.</summary>
    public const long MaxBodyBytes = 4L * 1024 * 1024 * 1024;

    /// <summary>The largest request body read (and thrown away); demo routes take none, so this is generous.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    private const int StreamChunk = 64 * 1024;
    private const string TextLine = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n";

    // Both patterns have a period (256, 64) that divides the chunk size, so chunk after chunk continues the pattern.
    private static readonly byte[] BinaryChunk = CreateBinaryChunk();
    private static readonly byte[] TextChunk = CreateTextChunk();

    private readonly DemoHttpServerOptions _options;
    private readonly byte[] _name;
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _requestCount;
    private long _connectionCount;
    private int _state;
    private volatile DateValue? _date;

    /// <summary>Creates a server; nothing listens until <see cref="StartAsync"/>.</summary>
    public DemoHttpServer(DemoHttpServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.EndPoint);
        if (!options.AllowNonLoopback && !IPAddress.IsLoopback(options.EndPoint.Address))
        {
            throw new ArgumentException(
                $"the demo server listens on loopback only, not on {options.EndPoint.Address}; set AllowNonLoopback to expose it", nameof(options));
        }

        if (string.IsNullOrEmpty(options.Name) || options.Name.Length > 64 || options.Name.Any(c => c is < ' ' or > '~'))
        {
            throw new ArgumentException("the demo server name must be 1 to 64 printable ASCII characters", nameof(options));
        }

        if (options.MaxHeaderBytes < 1024 || options.IdleTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("MaxHeaderBytes must be at least 1024 and IdleTimeout positive", nameof(options));
        }

        _options = options;
        _name = Encoding.ASCII.GetBytes(options.Name);
    }

    /// <summary>The bound address (with the real port when port 0 was asked for); null before start.</summary>
    public IPEndPoint? LocalEndPoint => (IPEndPoint?)_listener?.LocalEndPoint;

    /// <summary>Requests answered so far, error responses included.</summary>
    public long RequestCount => Interlocked.Read(ref _requestCount);

    /// <summary>Connections accepted so far.</summary>
    public long ConnectionCount => Interlocked.Read(ref _connectionCount);

    /// <summary>Connections open now.</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>Binds and starts accepting. A server starts once; make a new one to listen again.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("the demo server was already started");
        }

        var listener = new Socket(_options.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(_options.EndPoint);
            listener.Listen(_options.Backlog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        _acceptLoop = Task.Run(() => AcceptLoopAsync(listener, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops listening and closes every connection, then waits for their tasks to end. In-flight responses are
    /// cut off: this is a test backend, and a stop that waits for a 4 GiB download helps no one.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.WaitAsync(cancellationToken);
        }

        await Task.WhenAll(_connections.Values).WaitAsync(cancellationToken);
    }

    /// <summary>Stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stopping)
    {
        long nextId = 0;
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // Out of descriptors or a connection reset before accept: pause briefly rather than spin.
                await Task.Delay(10, CancellationToken.None);
                continue;
            }

            socket.NoDelay = true;
            Interlocked.Increment(ref _connectionCount);
            var id = ++nextId;
            var connection = new Connection(this, socket, stopping);
            // Registered before it runs, so Stop always sees it; removed by itself when done.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[id] = Task.Run(async () =>
            {
                await started.Task;
                try
                {
                    await connection.RunAsync();
                }
                finally
                {
                    _connections.TryRemove(id, out _);
                }
            }, CancellationToken.None);
            started.SetResult();
        }
    }

    /// <summary>The Date header value, formatted once per second rather than once per response.</summary>
    private byte[] CurrentDate()
    {
        var now = _options.TimeProvider.GetUtcNow();
        var second = now.ToUnixTimeSeconds();
        var cached = _date;
        if (cached is not null && cached.Second == second)
        {
            return cached.Value;
        }

        var value = Encoding.ASCII.GetBytes(now.ToString("r", CultureInfo.InvariantCulture));
        _date = new DateValue(second, value);
        return value;
    }

    private static byte[] CreateBinaryChunk()
    {
        var chunk = new byte[StreamChunk];
        for (var i = 0; i < chunk.Length; i++)
        {
            chunk[i] = (byte)i;
        }

        return chunk;
    }

    private static byte[] CreateTextChunk()
    {
        var line = Encoding.ASCII.GetBytes(TextLine);
        var chunk = new byte[StreamChunk];
        for (var i = 0; i < chunk.Length; i += line.Length)
        {
            line.CopyTo(chunk, i);
        }

        return chunk;
    }

    /// <summary>One accepted connection: reads requests, answers them in order, closes on error or request.</summary>
    private sealed class Connection
    {
        private readonly DemoHttpServer _server;
        private readonly Socket _socket;
        private readonly CancellationTokenSource _timeout;
        private readonly HttpRequestHead _head = new();
        private byte[] _buffer = [];
        private int _start;
        private int _end;
        private int _requestsOnConnection;

        public Connection(DemoHttpServer server, Socket socket, CancellationToken stopping)
        {
            _server = server;
            _socket = socket;
            _timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        }

        private DemoHttpServerOptions Options => _server._options;

        public async Task RunAsync()
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Options.MaxHeaderBytes);
            var graceful = false;
            try
            {
                while (await ServeOneAsync())
                {
                }

                graceful = true;
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
            {
                // Client went away, timed out, or the server is stopping: nothing to answer.
            }
            finally
            {
                if (graceful)
                {
                    await LingeringCloseAsync();
                }

                _socket.Dispose();
                _timeout.Dispose();
                ArrayPool<byte>.Shared.Return(_buffer);
            }
        }

        /// <summary>Reads and answers one request; false when the connection should close.</summary>
        private async Task<bool> ServeOneAsync()
        {
            int headEnd;
            while (true)
            {
                SkipLeadingEmptyLines();
                headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
                if (headEnd >= 0)
                {
                    break;
                }

                if (_end - _start >= Options.MaxHeaderBytes)
                {
                    _head.ForceClose();
                    await SendSimpleAsync(431, "Request Header Fields Too Large",
                        $"the request line and headers exceed {Options.MaxHeaderBytes} bytes", keepAlive: false, isHead: false);
                    return false;
                }

                if (!await ReceiveMoreAsync())
                {
                    return false;
                }
            }

            var headStart = _start;
            _start += headEnd + 4;
            _requestsOnConnection++;
            if (!_head.Parse(_buffer, headStart, headEnd))
            {
                await SendSimpleAsync(_head.ErrorStatus, _head.ErrorStatus == 505 ? "HTTP Version Not Supported" : "Bad Request",
                    _head.ErrorReason!, keepAlive: false, isHead: false);
                return false;
            }

            var isHead = _head.Method == HttpMethodKind.Head;
            if (_head.HasTransferEncoding)
            {
                // A chunked body would have to be decoded to find the next request; the demo routes take no body,
                // so answer and close instead of guessing.
                await SendSimpleAsync(501, "Not Implemented", "request bodies with Transfer-Encoding are not accepted by the demo server", keepAlive: false, isHead);
                return false;
            }

            if (_head.ContentLength > MaxRequestBodyBytes)
            {
                await SendSimpleAsync(413, "Content Too Large", $"request bodies are limited to {MaxRequestBodyBytes} bytes", keepAlive: false, isHead);
                return false;
            }

            // Copy what the route needs out of the buffer before the body is read: reading may compact the buffer.
            var target = Encoding.ASCII.GetString(_buffer, _head.TargetStart, _head.TargetLength);
            var host = _head.HostStart >= 0 ? Encoding.Latin1.GetString(_buffer, _head.HostStart, _head.HostLength) : null;
            var page = _head.Method != HttpMethodKind.Other && PathOf(target) == "/" ? RenderHomePage(target) : null;
            var keepAlive = _head.KeepAlive;
            var method = _head.Method;
            if (!await DiscardBodyAsync(_head.ContentLength))
            {
                return false;
            }

            if (method == HttpMethodKind.Other)
            {
                await SendSimpleAsync(405, "Method Not Allowed", "the demo server answers GET and HEAD", keepAlive, isHead: false, "Allow: GET, HEAD\r\n");
                return keepAlive;
            }

            await RouteAsync(target, host, page, keepAlive, isHead);
            return keepAlive;
        }

        /// <summary>Answers a GET or HEAD; <paramref name="page"/> is the home page, rendered before the body was skipped.</summary>
        private async Task RouteAsync(string target, string? host, byte[]? page, bool keepAlive, bool isHead)
        {
            var path = PathOf(target);
            if (path is null)
            {
                await SendSimpleAsync(400, "Bad Request", "the request target is neither a path nor an absolute http URL", keepAlive, isHead);
                return;
            }

            if (page is not null)
            {
                await SendAsync(200, "OK", "text/html; charset=utf-8", page, keepAlive, isHead);
                return;
            }

            if (path.StartsWith("/bytes/", StringComparison.Ordinal) || path.StartsWith("/size/", StringComparison.Ordinal))
            {
                var binary = path[1] == 'b';
                var count = ParseCount(path[(binary ? "/bytes/".Length : "/size/".Length)..]);
                if (count < 0)
                {
                    await SendSimpleAsync(400, "Bad Request", $"N must be a whole number from 0 to {MaxBodyBytes}", keepAlive, isHead);
                    return;
                }

                await StreamAsync(binary, count, keepAlive, isHead);
                return;
            }

            if (path == "/redirect")
            {
                var location = RedirectLocation(target, host, out var problem);
                if (location is null)
                {
                    await SendSimpleAsync(400, "Bad Request", problem!, keepAlive, isHead);
                    return;
                }

                var body = Encoding.ASCII.GetBytes($"redirecting to {location}\n");
                await SendAsync(302, "Found", "text/plain; charset=us-ascii", body, keepAlive, isHead, $"Location: {location}\r\n");
                return;
            }

            await SendSimpleAsync(404, "Not Found", $"no such page: {path}; try /, /bytes/N, /size/N or /redirect?to=URL", keepAlive, isHead);
        }

        private async Task StreamAsync(bool binary, long count, bool keepAlive, bool isHead)
        {
            var contentType = binary ? "application/octet-stream" : "text/plain; charset=us-ascii";
            await SendHeadAsync(200, "OK", contentType, count, keepAlive, extraHeaders: null);
            if (isHead)
            {
                return;
            }

            var chunk = binary ? BinaryChunk : TextChunk;
            var remaining = count;
            while (remaining > 0)
            {
                var size = (int)Math.Min(remaining, chunk.Length);
                await SendRawAsync(chunk.AsMemory(0, size));
                remaining -= size;
            }
        }

        private Task SendSimpleAsync(int status, string reason, string message, bool keepAlive, bool isHead, string? extraHeaders = null) =>
            SendAsync(status, reason, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes($"{status} {reason}: {message}\n"), keepAlive, isHead, extraHeaders);

        private async Task SendAsync(int status, string reason, string contentType, byte[] body, bool keepAlive, bool isHead, string? extraHeaders = null)
        {
            // Head and body in one pooled buffer and one write: small responses leave in one segment.
            var bodyLength = isHead ? 0 : body.Length;
            var buffer = ArrayPool<byte>.Shared.Rent(HeadUpperBound(reason, contentType, extraHeaders) + bodyLength);
            try
            {
                var headLength = WriteHead(buffer, status, reason, contentType, body.Length, keepAlive, extraHeaders);
                body.AsSpan(0, bodyLength).CopyTo(buffer.AsSpan(headLength));
                await SendRawAsync(buffer.AsMemory(0, headLength + bodyLength));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private async Task SendHeadAsync(int status, string reason, string contentType, long contentLength, bool keepAlive, string? extraHeaders)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(HeadUpperBound(reason, contentType, extraHeaders));
            try
            {
                var headLength = WriteHead(buffer, status, reason, contentType, contentLength, keepAlive, extraHeaders);
                await SendRawAsync(buffer.AsMemory(0, headLength));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private int HeadUpperBound(string reason, string contentType, string? extraHeaders) =>
            256 + reason.Length + contentType.Length + _server._name.Length + (extraHeaders?.Length ?? 0);

        /// <summary>Writes the status line and headers (ASCII) into <paramref name="destination"/>; returns the length.</summary>
        private int WriteHead(byte[] destination, int status, string reason, string contentType, long contentLength, bool keepAlive, string? extraHeaders)
        {
            Interlocked.Increment(ref _server._requestCount);
            var written = 0;
            void Append(ReadOnlySpan<char> text) => written += Encoding.ASCII.GetBytes(text, destination.AsSpan(written));
            void AppendBytes(ReadOnlySpan<byte> bytes)
            {
                bytes.CopyTo(destination.AsSpan(written));
                written += bytes.Length;
            }

            void AppendNumber(long value)
            {
                value.TryFormat(destination.AsSpan(written), out var digits, default, CultureInfo.InvariantCulture);
                written += digits;
            }

            AppendBytes("HTTP/1.1 "u8);
            AppendNumber(status);
            AppendBytes(" "u8);
            Append(reason);
            AppendBytes("\r\nDate: "u8);
            AppendBytes(_server.CurrentDate());
            AppendBytes("\r\nServer: sslcluster-demo\r\nX-Backend-Name: "u8);
            AppendBytes(_server._name);
            AppendBytes("\r\nContent-Type: "u8);
            Append(contentType);
            AppendBytes("\r\nContent-Length: "u8);
            AppendNumber(contentLength);
            AppendBytes("\r\nCache-Control: no-store\r\n"u8);
            if (extraHeaders is not null)
            {
                Append(extraHeaders);
            }

            if (!keepAlive)
            {
                AppendBytes("Connection: close\r\n"u8);
            }
            else if (_head.Version == 10)
            {
                AppendBytes("Connection: keep-alive\r\n"u8);
            }

            AppendBytes("\r\n"u8);
            return written;
        }

        private async ValueTask SendRawAsync(ReadOnlyMemory<byte> data)
        {
            // A client that accepts nothing for IdleTimeout is stalled: give up on it instead of holding the task.
            _timeout.CancelAfter(Options.IdleTimeout);
            while (!data.IsEmpty)
            {
                var sent = await _socket.SendAsync(data, SocketFlags.None, _timeout.Token);
                data = data[sent..];
            }

            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        }

        private async Task<bool> ReceiveMoreAsync()
        {
            if (_start > 0)
            {
                // Keep the unread bytes (a partial or pipelined next request) at the front of the buffer.
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            _timeout.CancelAfter(Options.IdleTimeout);
            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end, Options.MaxHeaderBytes - _end), SocketFlags.None, _timeout.Token);
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            _end += read;
            return read > 0;
        }

        private async Task<bool> DiscardBodyAsync(long length)
        {
            while (length > 0)
            {
                if (_start == _end && !await ReceiveMoreAsync())
                {
                    return false;
                }

                var take = (int)Math.Min(length, _end - _start);
                _start += take;
                length -= take;
            }

            return true;
        }

        private void SkipLeadingEmptyLines()
        {
            // RFC 9112 section 2.2: a server should ignore empty lines before a request line (some clients send
            // an extra CRLF after a body).
            while (_end - _start >= 2 && _buffer[_start] == '\r' && _buffer[_start + 1] == '\n')
            {
                _start += 2;
            }
        }

        private async Task LingeringCloseAsync()
        {
            // Half-close, then read what the client still sends for a moment: closing with unread bytes in the
            // receive queue makes the kernel send a reset, which can destroy the response before the client
            // reads it (a pipelining client has often sent more requests already).
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
                _timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var drained = 0;
                while (drained < 1024 * 1024)
                {
                    var read = await _socket.ReceiveAsync(_buffer.AsMemory(0, Math.Min(_buffer.Length, Options.MaxHeaderBytes)), SocketFlags.None, _timeout.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    drained += read;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Timed out or reset: either way the response is out.
            }
        }

        private byte[] RenderHomePage(string target)
        {
            var name = WebUtility.HtmlEncode(Options.Name);
            var method = Encoding.ASCII.GetString(_buffer, _head.MethodStart, _head.MethodLength);
            var html = new StringBuilder(2048)
                .Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").Append(name).Append("</title></head>\n<body>\n")
                .Append("<h1>").Append(name).Append("</h1>\n")
                .Append(CultureInfo.InvariantCulture,
                    $"<p>{WebUtility.HtmlEncode(method)} {WebUtility.HtmlEncode(target)} HTTP/1.{_head.Version % 10} from {WebUtility.HtmlEncode(_socket.RemoteEndPoint?.ToString() ?? "?")}, request {_requestsOnConnection} on this connection</p>\n")
                .Append("<table id=\"request-headers\">\n<tr><th>Header</th><th>Value</th></tr>\n");
            foreach (var header in _head.Headers)
            {
                html.Append("<tr><td>")
                    .Append(WebUtility.HtmlEncode(Encoding.ASCII.GetString(_buffer, header.NameStart, header.NameLength)))
                    .Append("</td><td>")
                    .Append(WebUtility.HtmlEncode(Encoding.Latin1.GetString(_buffer, header.ValueStart, header.ValueLength)))
                    .Append("</td></tr>\n");
            }

            html.Append("</table>\n</body></html>\n");
            return Encoding.UTF8.GetBytes(html.ToString());
        }

        // "/x?y" -> "/x"; "http://host/x?y" -> "/x"; anything else -> null.
        private static string? PathOf(string target)
        {
            var path = target;
            if (!target.StartsWith('/'))
            {
                var schemeEnd = target.IndexOf("://", StringComparison.Ordinal);
                var scheme = schemeEnd > 0 ? target[..schemeEnd] : string.Empty;
                if (!scheme.Equals("http", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
                {
                    return null;
                }

                var slash = target.IndexOf('/', schemeEnd + 3);
                path = slash < 0 ? "/" : target[slash..];
            }

            var query = path.IndexOf('?', StringComparison.Ordinal);
            return query < 0 ? path : path[..query];
        }

        private static long ParseCount(string text)
        {
            if (text.Length is 0 or > 10 || !text.All(char.IsAsciiDigit))
            {
                return -1;
            }

            var value = long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
            return value <= MaxBodyBytes ? value : -1;
        }

        private static string? RedirectLocation(string target, string? host, out string? problem)
        {
            problem = null;
            var queryStart = target.IndexOf('?', StringComparison.Ordinal);
            string? to = null;
            if (queryStart >= 0)
            {
                foreach (var pair in target[(queryStart + 1)..].Split('&'))
                {
                    if (pair.StartsWith("to=", StringComparison.Ordinal))
                    {
                        to = Uri.UnescapeDataString(pair[3..]);
                        break;
                    }
                }
            }

            if (string.IsNullOrEmpty(to))
            {
                problem = "give the target as /redirect?to=URL (an absolute http(s) URL or a path starting with /)";
                return null;
            }

            if (to.Any(char.IsControl))
            {
                problem = "the redirect target contains a control character";
                return null;
            }

            if (to.StartsWith('/') && !to.StartsWith("//", StringComparison.Ordinal))
            {
                if (string.IsNullOrEmpty(host) || host.Any(c => c is <= ' ' or > '~' or '/' or '?' or '#' or '@'))
                {
                    problem = "a path redirect needs a valid Host header to make the Location absolute";
                    return null;
                }

                to = $"http://{host}{to}";
            }

            if (!Uri.TryCreate(to, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                problem = "the redirect target must be an absolute http(s) URL or a path starting with /";
                return null;
            }

            // AbsoluteUri is escaped ASCII, so the header can carry any URL safely.
            return uri.AbsoluteUri;
        }
    }

    // Swapped whole, so a reader never sees the second of one value with the bytes of another.
    private sealed record DateValue(long Second, byte[] Value);
}
