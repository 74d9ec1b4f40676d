using System.Collections.Concurrent;
using System.Net;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Tests.Support;

/// <summary>Records every observer call and keeps the live counters a module would keep.</summary>
public sealed class RecordingObserver : IConnectionObserver
{
    private readonly ConcurrentQueue<(long Id, string Event)> _events = new();
    private readonly ConcurrentQueue<ConnectionSummary> _closed = new();
    private int _inHandshake;
    private int _activeSsl;
    private int _maxInHandshake;

    public int InHandshake => Volatile.Read(ref _inHandshake);

    public int ActiveSsl => Volatile.Read(ref _activeSsl);

    public int MaxInHandshake => Volatile.Read(ref _maxInHandshake);

    public IReadOnlyCollection<ConnectionSummary> Closed => _closed;

    public IReadOnlyCollection<(long Id, string Event)> Events => _events;

    public void HandshakeStarted(long connectionId, EndPoint? client)
    {
        _events.Enqueue((connectionId, nameof(HandshakeStarted)));
        int now = Interlocked.Increment(ref _inHandshake);
        int max;
        while (now > (max = Volatile.Read(ref _maxInHandshake)) &&
               Interlocked.CompareExchange(ref _maxInHandshake, now, max) != max)
        {
        }
    }

    public void HandshakeCompleted(long connectionId, HandshakeInfo handshake)
    {
        _events.Enqueue((connectionId, nameof(HandshakeCompleted)));
        Interlocked.Decrement(ref _inHandshake);
        Interlocked.Increment(ref _activeSsl);
    }

    public void BackendConnected(long connectionId, EndPoint? backend) =>
        _events.Enqueue((connectionId, nameof(BackendConnected)));

    void IConnectionObserver.Closed(long connectionId, ConnectionSummary summary)
    {
        _events.Enqueue((connectionId, nameof(Closed)));
        if (summary.Handshake is null)
        {
            Interlocked.Decrement(ref _inHandshake);
        }
        else
        {
            Interlocked.Decrement(ref _activeSsl);
        }

        _closed.Enqueue(summary);
    }

    /// <summary>Waits (bounded) until <paramref name="count"/> connections have closed.</summary>
    public async Task<IReadOnlyList<ConnectionSummary>> WaitForClosedAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (_closed.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"only {_closed.Count} of {count} connections closed: " +
                    string.Join("; ", _closed.Select(s => $"{s.Error} {s.Message}")));
            }

            await Task.Delay(10);
        }

        return [.. _closed];
    }
}
