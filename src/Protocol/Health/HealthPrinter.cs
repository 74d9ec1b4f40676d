using System.Globalization;
using System.Text;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Health;

/// <summary>Connection counts of one service, for <c>show service</c>.</summary>
public sealed record ServiceConnections(long Total, long Current);

/// <summary>
/// <c>show service [NAME]</c> and <c>show keepalive [NAME]</c>, laid out as the CSS prints them: the state word is
/// exactly the CSS's (Alive, Dying, Down, Suspended), because scripts such as kal-service-check grep for "Alive".
/// Pure: configuration, a health snapshot and connection counts in, text out.
/// </summary>
public static class HealthPrinter
{
    public static string ShowService(RunningConfig config, HealthSnapshot health, IReadOnlyDictionary<string, ServiceConnections>? connections = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(health);
        var plan = KeepalivePlan.Build(config).Targets.ToDictionary(t => t.Key);
        var o = new StringBuilder();
        var index = 0;
        foreach (var s in config.Services.Values)
        {
            index++;
            if (name is not null && s.Name != name) continue;
            var key = health.KeyOf(s.Name);
            var state = health.StateOf(key);
            var conns = connections?.GetValueOrDefault(s.Name) ?? new ServiceConnections(0, 0);
            var (k, global) = EffectiveKeepalive(config, s);
            var port = plan.GetValueOrDefault(key)?.Port ?? k.EffectivePort(s.Port);
            o.Append(CultureInfo.InvariantCulture, $"Name: {s.Name,-24} Index: {index}\n");
            o.Append(CultureInfo.InvariantCulture, $"  Type: {TypeText(s.Type),-18} State: {StateWord(s, health)}\n");
            o.Append(CultureInfo.InvariantCulture, $"  Rule ( {s.IpAddress ?? "0.0.0.0"}  {ProtocolText(s.Protocol)}  {(s.Port is { } p ? p.ToString(CultureInfo.InvariantCulture) : "ANY")} )\n");
            o.Append(CultureInfo.InvariantCulture, $"  Keepalive: ({KeepaliveText(k, port)}{(global is null ? "" : " " + global)} {k.FrequencySeconds} {k.MaxFailure} {k.RetryPeriodSeconds})\n");
            if (s.Slot is { } slot) o.Append(CultureInfo.InvariantCulture, $"  Slot: {slot}\n");
            if (s.ProxyList is { } pl) o.Append(CultureInfo.InvariantCulture, $"  SSL Proxy List: {pl}\n");
            o.Append(CultureInfo.InvariantCulture, $"  State Transitions: {state?.Transitions ?? 0,-10} Weight: {s.Weight}\n");
            o.Append(CultureInfo.InvariantCulture, $"  Total Connections: {conns.Total,-10} Current Connections: {conns.Current}\n");
            o.Append('\n');
        }
        if (name is not null && o.Length == 0) return $"%% Service '{name}' does not exist{Suggest.DidYouMean(name, config.Services.Keys)}\n";
        return o.ToString();
    }

    public static string ShowKeepalive(RunningConfig config, HealthSnapshot health, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(health);
        var plan = KeepalivePlan.Build(config).Targets.ToDictionary(t => t.Key);
        var o = new StringBuilder();
        var index = 0;
        foreach (var kal in config.Keepalives.Values)
        {
            index++;
            if (name is not null && kal.Name != name) continue;
            var key = new KeepaliveKey(KeepaliveOwner.Global, kal.Name);
            var assigned = config.Services.Values.Where(s => s.Keepalive.Type == KeepaliveType.Named && s.Keepalive.Named == kal.Name).Select(s => s.Name);
            Block(o, $"Keepalive Name: {kal.Name,-20} Index: {index}", kal.Description, kal.IpAddress, kal.Settings, null,
                kal.State == AdminState.Active ? StateText(health.StateOf(key)) : "Suspended", health.StateOf(key), plan.GetValueOrDefault(key));
            o.Append(CultureInfo.InvariantCulture, $"  Assigned Services: {string.Join(", ", assigned)}\n\n");
        }
        foreach (var s in config.Services.Values)
        {
            if (name is not null && s.Name != name) continue;
            if (name is null && s.Keepalive.Type is KeepaliveType.None or KeepaliveType.Named) continue;
            var key = health.KeyOf(s.Name);
            var (settings, global) = EffectiveKeepalive(config, s);
            Block(o, $"Service Name: {s.Name}", null, s.IpAddress, settings, global, StateWord(s, health), health.StateOf(key), plan.GetValueOrDefault(key), s.Port);
            o.Append('\n');
        }
        if (name is not null && o.Length == 0)
            return $"%% No keepalive named '{name}'{Suggest.DidYouMean(name, config.Keepalives.Keys.Concat(config.Services.Keys))}\n";
        return o.ToString();
    }

    private static void Block(StringBuilder o, string title, string? description, string? address, KeepaliveSettings k, string? global, string stateWord, KeepaliveState? state, KeepaliveTarget? target, int? servicePort = null)
    {
        var port = target?.Port ?? k.EffectivePort(servicePort);
        o.Append(title).Append('\n');
        if (description is not null) o.Append(CultureInfo.InvariantCulture, $"  Description: {description}\n");
        o.Append(CultureInfo.InvariantCulture, $"  Address: {target?.Address ?? address ?? "-",-18} Port: {port}\n");
        o.Append(CultureInfo.InvariantCulture, $"  State: {stateWord,-20} Type: {KeepaliveText(k, port)}{(global is null ? "" : " " + global)}\n");
        o.Append(CultureInfo.InvariantCulture, $"  Frequency: {k.FrequencySeconds,-6} Max Failure: {k.MaxFailure,-4} Retry Period: {k.RetryPeriodSeconds}\n");
        if (state is null)
        {
            o.Append("  Not probed\n");
            return;
        }
        o.Append(CultureInfo.InvariantCulture, $"  Probes Sent: {state.ProbesSent,-8} Successes: {state.Successes,-8} Failures: {state.Failures,-8} State Transitions: {state.Transitions}\n");
        o.Append(CultureInfo.InvariantCulture, $"  Consecutive Failures: {state.ConsecutiveFailures}   Since: {state.Since:yyyy-MM-dd HH:mm:ss}Z\n");
        o.Append(CultureInfo.InvariantCulture, $"  Last Result: {state.LastDetail ?? "-"}\n");
        o.Append(CultureInfo.InvariantCulture, $"  Last Failure: {(state.LastFailureReason is { } r ? $"{r} at {state.LastFailureAt:yyyy-MM-dd HH:mm:ss}Z" : "-")}\n");
        if (target is { Modules.Count: > 0 } t)
        {
            var next = state.ModuleFor(t.Modules);
            o.Append(CultureInfo.InvariantCulture, $"  SSL Module: {next} (last sent by {state.LastModule ?? "-"}; candidates {string.Join(", ", t.Modules)})\n");
        }
    }

    /// <summary>The settings that decide a service's keepalive: its own, or those of the global keepalive it names.</summary>
    private static (KeepaliveSettings Settings, string? Global) EffectiveKeepalive(RunningConfig config, Service s) =>
        s.Keepalive.Type == KeepaliveType.Named && s.Keepalive.Named is { } n
            ? (config.Keepalives.GetValueOrDefault(n)?.Settings ?? s.Keepalive, $"named {n}")
            : (s.Keepalive, null);

    /// <summary>Suspended when the service is, else what its keepalive says (Alive when nothing probes it).</summary>
    public static string StateWord(Service service, HealthSnapshot health)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(health);
        return service.State != AdminState.Active ? "Suspended" : StateText(health.StateOf(service.Name));
    }

    private static string StateText(KeepaliveState? state) => StateText(state?.State ?? ServiceHealthState.Alive);

    private static string StateText(ServiceHealthState state) => state switch
    {
        ServiceHealthState.Dying => "Dying",
        ServiceHealthState.Down => "Down",
        _ => "Alive",
    };

    /// <summary>The CSS's keepalive word: <c>ICMP</c>, <c>TCP-80</c>, <c>SSL-443</c>, <c>HTTP-80:GET:/</c>, ...</summary>
    private static string KeepaliveText(KeepaliveSettings k, int probedPort)
    {
        var port = probedPort.ToString(CultureInfo.InvariantCulture);
        return k.Type switch
        {
            KeepaliveType.None => "NONE",
            KeepaliveType.Icmp => "ICMP",
            KeepaliveType.Tcp => $"TCP-{port}",
            KeepaliveType.Ssl => $"SSL-{port}",
            KeepaliveType.Http => $"HTTP{(k.Encrypt ? "S" : "")}-{port}:{(k.MethodHead ? "HEAD" : "GET")}:{k.Uri ?? "/"}",
            KeepaliveType.Named => "NAMED",
            _ => $"SCRIPT {k.Script}{(k.ScriptArgs is { } a ? $" \"{a}\"" : "")}",
        };
    }

    private static string TypeText(ServiceType t) => t switch
    {
        ServiceType.SslAccel => "SSL-Accel",
        ServiceType.SslAccelBackend => "SSL-Accel-Backend",
        ServiceType.SslInit => "SSL-Init",
        _ => "Local",
    };

    private static string ProtocolText(ContentProtocol p) => p switch
    {
        ContentProtocol.Tcp => "TCP",
        ContentProtocol.Udp => "UDP",
        _ => "ANY",
    };
}
