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

/// <summary>A shared resource with a count of the runtimes that lease it.</summary>
internal sealed class Leased<T>(T value)
{
    public T Value { get; } = value;

    public int Leases { get; set; }
}
