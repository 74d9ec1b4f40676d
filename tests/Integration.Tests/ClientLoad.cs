using System.Collections.Concurrent;
using System.Net;

namespace SslCluster.Integration.Tests;

/// <summary>
/// A bounded HTTPS client load for the hitless procedures: a few workers, each sending one request per new TLS
/// connection (<c>Connection: close</c>), so new flows follow configuration changes the way new users would.
/// Stops by itself after <c>maxDuration</c> or <c>maxRequests</c>, whichever comes first; counts every failure
/// with its reason, and which real server answered.
/// </summary>
public sealed class ClientLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task[] _workers;
    private readonly HttpClient _http;
    private long _ok;
    private long _sent;

    public ClientLoad(Uri url, int workers, TimeSpan maxDuration, int maxRequests)
    {
        _stop = new CancellationTokenSource(maxDuration);
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        _workers = Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(url, maxRequests))).ToArray();
    }

    public long Succeeded => Interlocked.Read(ref _ok);

    public ConcurrentQueue<string> Failures { get; } = new();

    public ConcurrentDictionary<string, int> AnsweredBy { get; } = new();

    private async Task WorkAsync(Uri url, int maxRequests)
    {
        while (!_stop.IsCancellationRequested && Interlocked.Increment(ref _sent) <= maxRequests)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version11 };
                request.Headers.ConnectionClose = true;
                using var response = await _http.SendAsync(request, _stop.Token);
                var body = await response.Content.ReadAsStringAsync(_stop.Token);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Failures.Enqueue($"HTTP {(int)response.StatusCode}");
                    continue;
                }
                var name = response.Headers.TryGetValues("X-Backend-Name", out var v) ? v.First() : "?";
                AnsweredBy.AddOrUpdate(name, 1, (_, n) => n + 1);
                Interlocked.Increment(ref _ok);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                Failures.Enqueue(e.GetBaseException().Message);
            }
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
