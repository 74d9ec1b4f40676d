using SslCluster.Protocol.Config;
using SslCluster.Protocol.Health;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// Picks the server of a new flow among a rule's targets: round robin (weights ignored, as the CSS's default
/// <c>balance roundrobin</c>), weighted round robin (<c>balance weightedrr</c>) or least connections
/// (<c>balance leastconn</c>, open connections divided by weight). Weight 0 and keepalive state Down take no new
/// flows; live flows are never touched. A server that passive health set aside (it refused the last connects) takes
/// new flows only when no other server can. Thread-safe.
/// </summary>
public sealed class TargetBalancer
{
    private readonly IReadOnlyList<ServerTarget> _targets;
    private readonly BalanceMethod _method;
    private readonly IServiceHealth _health;
    private readonly ServiceGauges _gauges;
    private readonly WeightedRoundRobin<ServerTarget> _rotation;
    private readonly PassiveHealth? _passive;

    public TargetBalancer(IReadOnlyList<ServerTarget> targets, BalanceMethod method, IServiceHealth health, ServiceGauges gauges, PassiveHealth? passive = null)
    {
        _passive = passive;
        ArgumentNullException.ThrowIfNull(targets);
        _targets = targets;
        _method = method;
        _health = health;
        _gauges = gauges;
        _rotation = new WeightedRoundRobin<ServerTarget>(targets.Select(t => (t, method == BalanceMethod.RoundRobin ? Math.Min(t.Weight, 1) : t.Weight)));
    }

    public int Count => _targets.Count;

    /// <summary>The next usable target, skipping <paramref name="exclude"/> (already tried for this flow); null when none.</summary>
    public ServerTarget? Next(IReadOnlyCollection<ServerTarget>? exclude = null)
    {
        if (_passive is not null)
        {
            var trusted = Pick(exclude, t => !_passive.IsAvoided(t.Name));
            if (trusted is not null) return trusted;
        }
        return Pick(exclude, null);
    }

    private ServerTarget? Pick(IReadOnlyCollection<ServerTarget>? exclude, Func<ServerTarget, bool>? also)
    {
        bool Usable(ServerTarget t) => t.Weight > 0 && _health.StateOf(t.Name) != ServiceHealthState.Down && exclude?.Contains(t) != true && also?.Invoke(t) != false
            && (t.MaxConnections <= 0 || _gauges.Current(t.Name) < t.MaxConnections);
        if (_method != BalanceMethod.LeastConnections) return _rotation.Next(Usable);
        ServerTarget? best = null;
        double bestLoad = double.MaxValue;
        foreach (var t in _targets)
        {
            if (!Usable(t)) continue;
            double load = (double)_gauges.Current(t.Name) / t.Weight;
            if (load < bestLoad)
            {
                best = t;
                bestLoad = load;
            }
        }
        return best;
    }
}
