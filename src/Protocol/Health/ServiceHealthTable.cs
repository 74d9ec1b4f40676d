using System.Collections.Immutable;

namespace SslCluster.Protocol.Health;

/// <summary>
/// What every keepalive of the node reports, at one instant: the state of each probed service and global keepalive,
/// and which services take a global keepalive's state (<c>keepalive type named</c>). Immutable.
/// </summary>
public sealed record HealthSnapshot(
    ImmutableDictionary<KeepaliveKey, KeepaliveState> States,
    ImmutableDictionary<string, string> NamedServices)
{
    public static HealthSnapshot Empty { get; } = new(
        ImmutableDictionary<KeepaliveKey, KeepaliveState>.Empty,
        ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal));

    /// <summary>The keepalive that decides <paramref name="service"/>'s state: its own, or the global one it names.</summary>
    public KeepaliveKey KeyOf(string service) =>
        NamedServices.TryGetValue(service, out var global)
            ? new KeepaliveKey(KeepaliveOwner.Global, global)
            : new KeepaliveKey(KeepaliveOwner.Service, service);

    public KeepaliveState? StateOf(KeepaliveKey key) => States.TryGetValue(key, out var s) ? s : null;

    public ServiceHealthState StateOf(string service) => StateOf(KeyOf(service))?.State ?? ServiceHealthState.Alive;
}

/// <summary>
/// The node's keepalive results, read lock-free by the data path: one immutable <see cref="HealthSnapshot"/> replaced
/// atomically (compare-and-swap) by the keepalive runners, so a reader never waits and never sees half an update.
/// </summary>
public sealed class ServiceHealthTable : IServiceHealth, IKeepaliveSink
{
    private HealthSnapshot _snapshot = HealthSnapshot.Empty;

    public HealthSnapshot Snapshot => Volatile.Read(ref _snapshot);

    public ServiceHealthState StateOf(string service) => Snapshot.StateOf(service);

    /// <summary>Records the state of one keepalive.</summary>
    public void Publish(KeepaliveKey key, KeepaliveState state) =>
        Update(s => s with { States = s.States.SetItem(key, state) });

    /// <summary>
    /// Applies a plan: forgets keepalives the plan no longer runs (their services are Alive again, or Suspended in
    /// <c>show service</c>) and takes the plan's named services. States of keepalives that stay are kept.
    /// </summary>
    public void Configure(KeepalivePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var keep = plan.Targets.Select(t => t.Key).ToHashSet();
        var named = plan.NamedServices.ToImmutableDictionary(StringComparer.Ordinal);
        Update(s => s with { States = s.States.RemoveRange(s.States.Keys.Where(k => !keep.Contains(k))), NamedServices = named });
    }

    private void Update(Func<HealthSnapshot, HealthSnapshot> change)
    {
        while (true)
        {
            var current = Volatile.Read(ref _snapshot);
            if (ReferenceEquals(Interlocked.CompareExchange(ref _snapshot, change(current), current), current)) return;
        }
    }
}
