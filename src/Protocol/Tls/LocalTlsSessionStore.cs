using System.Security.Cryptography;

namespace SslCluster.Protocol.Tls;

/// <summary>
/// A bounded, expiring, thread-safe in-memory <see cref="ITlsSessionStore"/> for one process. When full, the least
/// recently stored entry goes; expired entries are dropped when looked up and by <see cref="RemoveExpired"/> (which a
/// cluster node runs every 2 s). Evicted and expired secrets are zeroed. Lookups copy the
/// secret out under the lock; encoding and decoding happen outside it (as hitch's shctx does).
/// </summary>
public sealed class LocalTlsSessionStore : ITlsSessionStore
{
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly Dictionary<(string Id, string BindingKey), LinkedListNode<Entry>> _map = new();
    private readonly LinkedList<Entry> _order = new();
    private readonly Lock _lock = new();

    /// <summary>Creates a store holding at most <paramref name="capacity"/> sessions.</summary>
    public LocalTlsSessionStore(TimeProvider timeProvider, int capacity = 20_000)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _time = timeProvider;
        _capacity = capacity;
    }

    /// <summary>Number of stored entries, expired ones included until they are touched or evicted.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _map.Count;
            }
        }
    }

    /// <inheritdoc />
    public bool TryGet(ReadOnlySpan<byte> id, string bindingKey, out byte[] exportedParams)
    {
        ArgumentNullException.ThrowIfNull(bindingKey);
        exportedParams = [];
        if (id.IsEmpty || id.Length > 32)
        {
            return false;
        }

        var key = (Convert.ToHexString(id), bindingKey);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (!_map.TryGetValue(key, out var node))
            {
                return false;
            }

            if (node.Value.ExpiresAt <= now)
            {
                RemoveLocked(node);
                return false;
            }

            exportedParams = (byte[])node.Value.Params.Clone();
            return true;
        }
    }

    /// <inheritdoc />
    public void Put(byte[] id, string bindingKey, byte[] exportedParams, TimeSpan ttl) =>
        PutUntil(id, bindingKey, exportedParams, _time.GetUtcNow() + ttl);

    /// <summary>
    /// Stores a session until <paramref name="expiresAt"/> (a replica from another node keeps its creator's expiry).
    /// The store owns <paramref name="exportedParams"/> from then on; an already expired session is dropped.
    /// </summary>
    public void PutUntil(byte[] id, string bindingKey, byte[] exportedParams, DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(bindingKey);
        ArgumentNullException.ThrowIfNull(exportedParams);
        var now = _time.GetUtcNow();
        if (id.Length == 0 || id.Length > 32 || expiresAt <= now)
        {
            CryptographicOperations.ZeroMemory(exportedParams);
            return;
        }

        var key = (Convert.ToHexString(id), bindingKey);
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var existing))
            {
                RemoveLocked(existing);
            }

            while (_map.Count >= _capacity)
            {
                // Oldest stored first: close enough to first-to-expire, and O(1).
                RemoveLocked(_order.First!);
            }

            var node = _order.AddLast(new Entry(key, exportedParams, expiresAt));
            _map.Add(key, node);
        }
    }

    /// <summary>
    /// Copies of the newest <paramref name="max"/> live sessions, oldest of them first, so that a receiver storing
    /// them in this order evicts the oldest first (a joining node's catch-up). The caller owns the copies and clears
    /// their secrets.
    /// </summary>
    public IReadOnlyList<(byte[] Id, string BindingKey, byte[] Params, DateTimeOffset ExpiresAt)> Snapshot(int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var now = _time.GetUtcNow();
        var list = new List<(byte[], string, byte[], DateTimeOffset)>();
        lock (_lock)
        {
            for (var node = _order.Last; node is not null && list.Count < max; node = node.Previous)
            {
                var e = node.Value;
                if (e.ExpiresAt > now)
                {
                    list.Add((Convert.FromHexString(e.Key.Id), e.Key.BindingKey, (byte[])e.Params.Clone(), e.ExpiresAt));
                }
            }
        }

        list.Reverse();
        return list;
    }

    /// <summary>Drops every expired entry now (the store also drops them lazily on lookup and when full).</summary>
    public int RemoveExpired()
    {
        var now = _time.GetUtcNow();
        int removed = 0;
        lock (_lock)
        {
            var node = _order.First;
            while (node is not null)
            {
                var next = node.Next;
                if (node.Value.ExpiresAt <= now)
                {
                    RemoveLocked(node);
                    removed++;
                }

                node = next;
            }
        }

        return removed;
    }

    private void RemoveLocked(LinkedListNode<Entry> node)
    {
        _order.Remove(node);
        _map.Remove(node.Value.Key);
        CryptographicOperations.ZeroMemory(node.Value.Params);
    }

    private sealed record Entry((string Id, string BindingKey) Key, byte[] Params, DateTimeOffset ExpiresAt);
}
