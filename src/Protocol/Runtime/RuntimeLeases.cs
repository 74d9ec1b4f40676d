namespace SslCluster.Protocol.Runtime;

/// <summary>
/// What one listener runtime holds of the node's shared resources (server credentials, CRL monitors): released when
/// the runtime is retired and its last connection has ended, so a certificate or CRL record that no revision uses any
/// more is let go (keys disposed, CRL fetching stopped). Thread-safe: connections add leases as they build back-end
/// profiles on first use.
/// </summary>
internal sealed class RuntimeLeases
{
    private readonly List<Action> _releases = [];
    private readonly Lock _gate = new();
    private bool _released;

    /// <summary>Records a release to run later; runs it at once when the leases are already released.</summary>
    public void Add(Action release)
    {
        lock (_gate)
        {
            if (!_released)
            {
                _releases.Add(release);
                return;
            }
        }
        release();
    }

    /// <summary>Runs every release once.</summary>
    public void ReleaseAll()
    {
        List<Action> releases;
        lock (_gate)
        {
            if (_released) return;
            _released = true;
            releases = [.. _releases];
            _releases.Clear();
        }
        foreach (var r in releases) r();
    }
}

/// <summary>
/// Shared resources by key (server credentials, CRL monitors), each with a count of the runtimes that lease it: a value
/// is disposed, and forgotten, when its last lease is released. Thread-safe.
/// </summary>
internal sealed class LeaseCache<TKey, TValue> : IDisposable
    where TKey : notnull
    where TValue : class, IDisposable
{
    private readonly Dictionary<TKey, Entry> _entries = [];
    private readonly Lock _gate = new();

    /// <summary>Values held now.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _entries.Count;
        }
    }

    /// <summary>The value held for <paramref name="key"/>, now leased by <paramref name="leases"/>; null when none is held.</summary>
    public TValue? TryLease(TKey key, RuntimeLeases leases)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry)) return null;
            Lease(key, entry, leases);
            return entry.Value;
        }
    }

    /// <summary>
    /// Leases the value held for <paramref name="key"/>, holding <paramref name="fresh"/> when none is. The value
    /// returned is the one held: when it is not <paramref name="fresh"/> (another runtime made one meanwhile), the
    /// caller disposes <paramref name="fresh"/>.
    /// </summary>
    public TValue LeaseOrAdd(TKey key, TValue fresh, RuntimeLeases leases)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry)) _entries[key] = entry = new Entry(fresh);
            Lease(key, entry, leases);
            return entry.Value;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var entry in _entries.Values) entry.Value.Dispose();
            _entries.Clear();
        }
    }

    /// <summary>Counts a lease (under the lock) and records its release.</summary>
    private void Lease(TKey key, Entry entry, RuntimeLeases leases)
    {
        entry.Leases++;
        leases.Add(() =>
        {
            lock (_gate)
            {
                if (--entry.Leases > 0 || !_entries.TryGetValue(key, out var current) || !ReferenceEquals(current, entry)) return;
                _entries.Remove(key);
            }
            entry.Value.Dispose();
        });
    }

    private sealed class Entry(TValue value)
    {
        public TValue Value { get; } = value;

        public int Leases { get; set; }
    }
}
