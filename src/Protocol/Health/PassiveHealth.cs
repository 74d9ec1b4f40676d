using System.Collections.Concurrent;

namespace SslCluster.Protocol.Health;

/// <summary>
/// Passive health of the real servers, learnt from the connections themselves: a server that refused or timed out
/// <see cref="FailuresToAvoid"/> connects in a row is avoided for <see cref="AvoidFor"/>, before its keepalive (every
/// few seconds) notices; the next connect after that period is a trial, and one success clears it. Kept per node
/// across revisions (by service name), lock-free per connect.
/// </summary>
public sealed class PassiveHealth(TimeProvider time, int failuresToAvoid = 3, TimeSpan? avoidFor = null)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public int FailuresToAvoid { get; } = failuresToAvoid > 0 ? failuresToAvoid : throw new ArgumentOutOfRangeException(nameof(failuresToAvoid));

    public TimeSpan AvoidFor { get; } = avoidFor ?? TimeSpan.FromSeconds(10);

    /// <summary>Times a server was set aside since start.</summary>
    public long Avoidances => Interlocked.Read(ref _avoidances);

    private long _avoidances;

    /// <summary>A connect to <paramref name="service"/> failed (refused, unreachable, timed out).</summary>
    public void Failed(string service)
    {
        var e = _entries.GetOrAdd(service, _ => new Entry());
        if (Interlocked.Increment(ref e.Consecutive) < FailuresToAvoid) return;
        Interlocked.Exchange(ref e.AvoidUntilTicks, (time.GetUtcNow() + AvoidFor).UtcTicks);
        Interlocked.Increment(ref e.Times);
        Interlocked.Increment(ref _avoidances);
    }

    /// <summary>A connect to <paramref name="service"/> succeeded: it is trusted again.</summary>
    public void Succeeded(string service)
    {
        if (!_entries.TryGetValue(service, out var e)) return;
        Interlocked.Exchange(ref e.Consecutive, 0);
        Interlocked.Exchange(ref e.AvoidUntilTicks, 0);
    }

    /// <summary>Whether new flows should go elsewhere while another server can take them.</summary>
    public bool IsAvoided(string service) =>
        _entries.TryGetValue(service, out var e) && Interlocked.Read(ref e.AvoidUntilTicks) > time.GetUtcNow().UtcTicks;

    /// <summary>Every server known to have failed, with whether it is avoided now and how often it was.</summary>
    public IReadOnlyList<(string Service, bool Avoided, long Times)> Snapshot() =>
        [.. _entries.Select(e => (e.Key, IsAvoided(e.Key), Interlocked.Read(ref e.Value.Times))).OrderBy(e => e.Key, StringComparer.Ordinal)];

    private sealed class Entry
    {
        public long Consecutive;
        public long AvoidUntilTicks;
        public long Times;
    }
}
