using System.Globalization;
using System.Text;
using SslCluster.Protocol.Health;

namespace SslCluster.Protocol.Config;

/// <summary>
/// <c>show content</c> and <c>show ssl-proxy-list</c> in the CSS's layout: one block per object, its state, its
/// members with their keepalive state and connections on this node (<c>show service</c> and <c>show keepalive</c>
/// are <see cref="HealthPrinter"/>'s).
/// </summary>
public static class ShowPrinter
{
    public static string ShowContent(RunningConfig config, HealthSnapshot health, IReadOnlyDictionary<string, ServiceConnections>? connections = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(health);
        var o = new StringBuilder();
        foreach (var (owner, rule) in config.ContentRules)
        {
            if (name is not null && rule.Name != name) continue;
            o.Append(CultureInfo.InvariantCulture, $"Name: {rule.Name,-24} Owner: {owner.Name}\n");
            o.Append(CultureInfo.InvariantCulture, $"  State: {State(rule.State),-22} Balance: {Balance(rule.Balance)}\n");
            o.Append(CultureInfo.InvariantCulture, $"  VIP: {rule.VipAddress ?? "0.0.0.0",-24} Protocol: {Protocol(rule.Protocol),-6} Port: {(rule.Port is { } p ? N(p) : "ANY")}\n");
            o.Append(CultureInfo.InvariantCulture, $"  Sticky: {Sticky(rule.Sticky)}\n");
            o.Append("  Services:\n");
            if (rule.Services.Count == 0) o.Append("    (none)\n");
            var i = 0;
            foreach (var serviceName in rule.Services)
            {
                i++;
                if (!config.Services.TryGetValue(serviceName, out var s))
                {
                    o.Append(CultureInfo.InvariantCulture, $"    {i,2}: {serviceName,-24} (not configured)\n");
                    continue;
                }
                var c = connections?.GetValueOrDefault(s.Name) ?? new ServiceConnections(0, 0);
                o.Append(CultureInfo.InvariantCulture,
                    $"    {i,2}: {s.Name,-24} {HealthPrinter.StateWord(s, health),-10} Weight: {s.Weight,-3} Hits: {c.Total,-8} Current: {c.Current}\n");
            }
            o.Append('\n');
        }
        if (name is not null && o.Length == 0)
            return $"%% Content rule '{name}' does not exist{Suggest.DidYouMean(name, config.ContentRules.Select(r => r.Rule.Name))}\n";
        return o.Length == 0 ? "No content rules are configured.\n" : o.ToString();
    }

    public static string ShowSslProxyList(RunningConfig config, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var o = new StringBuilder();
        foreach (var list in config.ProxyLists.Values)
        {
            if (name is not null && list.Name != name) continue;
            var modules = config.SslModules.Where(m => m.ProxyList == list.Name).Select(m => m.Slot is { } slot ? $"{m.Name} (slot {N(slot)})" : m.Name).ToList();
            o.Append(CultureInfo.InvariantCulture, $"SSL Proxy List: {list.Name,-20} State: {State(list.State)}\n");
            if (list.Description is { } d) o.Append(CultureInfo.InvariantCulture, $"  Description: {d}\n");
            o.Append(CultureInfo.InvariantCulture, $"  Modules: {(modules.Count == 0 ? "(none: a back-end list, used by every module)" : string.Join(", ", modules))}\n");
            foreach (var s in list.SslServers.Values)
            {
                o.Append(CultureInfo.InvariantCulture, $"  ssl-server {N(s.Number)}: VIP {s.VipAddress ?? "(none)"}:{N(s.Port)}  key {s.RsaKey ?? s.EcdsaKey ?? "(none)"}  cert {s.RsaCert ?? s.EcdsaCert ?? "(none)"}\n");
                foreach (var c in s.Ciphers)
                {
                    var suites = CipherCatalog.TryGet(c.Name, out var info) ? string.Join(", ", info.IanaSuites.Take(2)) + (info.IanaSuites.Count > 2 ? ", ..." : "") : "?";
                    o.Append(CultureInfo.InvariantCulture, $"    cipher {c.Name} -> {c.DestinationAddress}:{N(c.DestinationPort)}  (negotiates {suites})\n");
                }
                o.Append(CultureInfo.InvariantCulture, $"    session-cache {N(s.SessionCacheSeconds)} s, handshake timeout {N(s.HandshakeTimeoutSeconds)} s, version {(s.MinimumVersion == TlsVersionFloor.Tls13 ? "tls1.3" : "tls1.2+")}");
                o.Append(CultureInfo.InvariantCulture, $", client authentication {(s.ClientAuth.Enabled ? "enabled (" + ConfigPrinter.FailureWord(s.ClientAuth.Failure) + ")" : "disabled")}");
                o.Append(CultureInfo.InvariantCulture, $", urlrewrite rules {N(s.UrlRewrites.Count)}\n");
            }
            foreach (var b in list.BackendServers.Values)
            {
                var type = b.Type == BackendServerType.Initiation ? "initiation" : "backend-ssl";
                var pickUp = $"{b.IpAddress ?? "(none)"}:{(b.Port is { } p ? N(p) : "ANY")}";
                var server = $"{b.ServerIp ?? b.IpAddress ?? "(none)"}:{N(b.ServerPort ?? 443)}";
                o.Append(CultureInfo.InvariantCulture, $"  backend-server {N(b.Number)}: {type}  {pickUp} -> {server}\n");
                o.Append(CultureInfo.InvariantCulture,
                    $"    server certificate {(b.CaCert is { } ca ? "verified against cacert " + ca : "UNVERIFIED (no cacert)")}, client certificate {b.RsaCert ?? "none"}, {(b.MinimumVersion == TlsVersionFloor.Tls13 ? "TLS 1.3 (no session reuse)" : $"TLS 1.2, session reuse {N(b.SessionCacheSeconds)} s")}\n");
            }
            o.Append('\n');
        }
        if (name is not null && o.Length == 0)
            return $"%% SSL proxy list '{name}' does not exist{Suggest.DidYouMean(name, config.ProxyLists.Keys)}\n";
        return o.Length == 0 ? "No ssl-proxy-lists are configured.\n" : o.ToString();
    }

    private static string N(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string State(AdminState state) => state == AdminState.Active ? "Active" : "Suspended";

    private static string Protocol(ContentProtocol p) => p switch { ContentProtocol.Tcp => "TCP", ContentProtocol.Udp => "UDP", _ => "Any" };

    private static string Balance(BalanceMethod b) => b switch
    {
        BalanceMethod.WeightedRoundRobin => "Weighted Round Robin",
        BalanceMethod.LeastConnections => "Least Connections",
        _ => "Round Robin",
    };

    private static string Sticky(Stickiness s) => s switch
    {
        Stickiness.SslSessionId => "SSL session ID",
        Stickiness.SourceIp => "source IP",
        _ => "none",
    };
}
