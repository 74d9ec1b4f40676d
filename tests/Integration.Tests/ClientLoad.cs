using System.Collections.Concurrent;
using System.Net;

namespace SslCluster.Integration.Tests;

/// <summary>
/// A bounded HTTPS client load for the hitless procedures: a few workers, each sending one request per new TLS
/// connection (<c>Connection: close</c>), so new flows follow configuration changes the way new users would; or, with
/// <c>keepAlive</c>, as browsers and API clients do: requests over pooled keep-alive connections (one pool per node
/// address), a new connection only when the pool has none left open.
/// Stops by itself after <c>maxDuration</c> or <c>maxRequests</c>, whichever comes first; counts every failure
/// with its reason, and which real server answered. Given several node URLs, requests go round the nodes (as a DNS
/// name or an L4 balancer in front of a cluster would spread them), and a request whose connection fails is tried
/// again on the next node, up to <c>attempts</c> times: a client "that retries on a new connection". A request
/// fails only when every attempt did.
/// </summary>
public sealed class ClientLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task[] _workers;
    private readonly HttpClient _http;
    private readonly IReadOnlyList<Uri> _urls;
    private readonly int _attempts;
    private long _ok;
    private long _sent;
    private long _retried;
    private long _next;
    private long _slowestTicks;
    private long _connections;
    private readonly bool _keepAlive;

    public ClientLoad(Uri url, int workers, TimeSpan maxDuration, int maxRequests)
        : this([url], workers, maxDuration, maxRequests, attempts: 1)
    {
    }

    public ClientLoad(IReadOnlyList<Uri> urls, int workers, TimeSpan maxDuration, int maxRequests, int attempts, bool keepAlive = false)
    {
        _urls = urls;
        _attempts = attempts;
        _keepAlive = keepAlive;
        _stop = new CancellationTokenSource(maxDuration);
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = keepAlive ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    Interlocked.Increment(ref _connections);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        _workers = Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(maxRequests))).ToArray();
    }

    public long Succeeded => Interlocked.Read(ref _ok);

    /// <summary>TCP connections the load opened (fewer than its requests when it keeps them alive).</summary>
    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>Connections that failed and were tried again on another node (the request may still have succeeded).</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>The longest time a successful request took, retries included.</summary>
    public TimeSpan Slowest => TimeSpan.FromTicks(Interlocked.Read(ref _slowestTicks));

    /// <summary>Successful requests per node URL.</summary>
    public ConcurrentDictionary<string, int> ServedByNode { get; } = new();

    /// <summary>Zeroes the slowest-request figure (to measure one phase of a test).</summary>
    public void ResetSlowest() => Interlocked.Exchange(ref _slowestTicks, 0);

    public ConcurrentQueue<string> Failures { get; } = new();

    public ConcurrentDictionary<string, int> AnsweredBy { get; } = new();

    private async Task WorkAsync(int maxRequests)
    {
        while (!_stop.IsCancellationRequested && Interlocked.Increment(ref _sent) <= maxRequests)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var first = Interlocked.Increment(ref _next);
            string? failure = null;
            for (var attempt = 0; attempt < _attempts; attempt++)
            {
                var url = _urls[(int)((first + attempt) % _urls.Count)];
                failure = await OneRequestAsync(url);
                if (failure is null)
                {
                    Interlocked.Increment(ref _ok);
                    ServedByNode.AddOrUpdate(url.Authority, 1, (_, n) => n + 1);
                    var took = System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks;
                    long seen;
                    while (took > (seen = Interlocked.Read(ref _slowestTicks)) && Interlocked.CompareExchange(ref _slowestTicks, took, seen) != seen)
                    {
                    }
                    break;
                }
                if (_stop.IsCancellationRequested) return;
                if (attempt + 1 < _attempts) Interlocked.Increment(ref _retried);
            }
            if (failure is not null) Failures.Enqueue(failure);
        }
    }

    /// <summary>One request (on a new connection, or a pooled one under keep-alive): null when it succeeded, else why not.</summary>
    private async Task<string?> OneRequestAsync(Uri url)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version11 };
            request.Headers.ConnectionClose = !_keepAlive;
            using var response = await _http.SendAsync(request, _stop.Token);
            var body = await response.Content.ReadAsStringAsync(_stop.Token);
            if (response.StatusCode != HttpStatusCode.OK) return $"{url.Authority}: HTTP {(int)response.StatusCode}";
            var name = response.Headers.TryGetValues("X-Backend-Name", out var v) ? v.First() : "?";
            AnsweredBy.AddOrUpdate(name, 1, (_, n) => n + 1);
            return null;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return "stopped";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return $"{url.Authority}: {e.GetBaseException().Message}";
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> more requests succeeded (bounded by <paramref name="timeout"/>).</summary>
    public async Task WaitForMoreAsync(int count, TimeSpan timeout)
    {
        var target = Succeeded + count;
        var deadline = DateTime.UtcNow + timeout;
        while (Succeeded < target && DateTime.UtcNow < deadline && !_stop.IsCancellationRequested) await Task.Delay(50);
        if (Succeeded < target) throw new TimeoutException($"only {Succeeded} requests succeeded, wanted {target}; failures: {string.Join(" | ", Failures.Take(5))}");
    }

    private int _disposed;

    /// <summary>Stops the load and waits for the workers; the counts stay readable. Safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
        _http.Dispose();
        _stop.Dispose();
    }
}
