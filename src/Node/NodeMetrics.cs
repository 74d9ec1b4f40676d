using System.Globalization;
using System.Text;
using SslCluster.Protocol.Admin;
using SslCluster.Protocol.Health;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Runtime;

namespace SslCluster.Node;

/// <summary>A certificate a listener of this node uses, and when it stops being valid.</summary>
internal sealed record CertificateInUse(string File, string Subject, DateTimeOffset NotAfter);

/// <summary>What this node's configuration copy holds: the revision in force and the store's as last heard.</summary>
internal sealed record RevisionFigures(long Revision, long StoreRevision, double BehindSeconds);

/// <summary>
/// The node's /metrics in Prometheus text format: this node's own figures only, each labelled with the node, so that
/// a scraper sums the nodes (a node never reports cluster-wide sums as its own). Counters of a module are its flows
/// on this node; <c>show ssl flows</c> is where the cluster-wide sums are.
/// </summary>
internal sealed class NodeMetrics(string node)
{
    private readonly StringBuilder _o = new();
    private readonly string _node = Escape(node);

    public override string ToString() => _o.ToString();

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private void Family(string name, string help, string type) => _o.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    private void Sample(string name, string labels, double value) =>
        _o.Append(CultureInfo.InvariantCulture, $"{name}{{node=\"{_node}\"{(labels.Length > 0 ? "," + labels : "")}}} {value.ToString(CultureInfo.InvariantCulture)}\n");

    private static string L(string name, string value) => $"{name}=\"{Escape(value)}\"";

    public NodeMetrics Flows(FlowRegistry flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        var modules = flows.ModuleRows();
        void ModuleFamily(string name, string help, string type, Func<FlowCounters, long> value)
        {
            Family(name, help, type);
            foreach (var (module, vip, port, c) in modules)
                Sample(name, $"{L("module", module)},{L("virtual", vip)},{L("port", port.ToString(CultureInfo.InvariantCulture))}", value(c));
        }
        ModuleFamily("sslcluster_tcp_proxy_flows", "Connections of a module open on this node now, any phase.", "gauge", c => c.TcpProxyFlows);
        ModuleFamily("sslcluster_active_ssl_flows", "Connections of a module past the handshake on this node now.", "gauge", c => c.ActiveSslFlows);
        ModuleFamily("sslcluster_ssl_flows_in_handshake", "Connections of a module in the TLS handshake on this node now.", "gauge", c => c.InHandshake);
        ModuleFamily("sslcluster_connections_accepted_total", "Connections of a module accepted by this node.", "counter", c => c.Accepted);
        ModuleFamily("sslcluster_handshakes_completed_total", "TLS handshakes completed on this node.", "counter", c => c.HandshakesCompleted);
        ModuleFamily("sslcluster_handshakes_failed_total", "Connections that ended before completing a handshake on this node (a client that sent nothing, a port check, is not one).", "counter", c => c.HandshakesFailed);
        ModuleFamily("sslcluster_sessions_resumed_total", "Handshakes on this node that resumed a session.", "counter", c => c.Resumed);
        ModuleFamily("sslcluster_client_bytes_received_total", "Application bytes received from clients by this node.", "counter", c => c.BytesFromClients);
        ModuleFamily("sslcluster_client_bytes_sent_total", "Application bytes sent to clients by this node.", "counter", c => c.BytesToClients);
        ModuleFamily("sslcluster_header_insertion_requests_total", "Requests that got the inserted header lines on this node.", "counter", c => c.Headers.Requests);
        ModuleFamily("sslcluster_header_lines_removed_total", "Header lines a client sent under an inserted name, taken out on this node.", "counter", c => c.Headers.Removed);
        ModuleFamily("sslcluster_header_requests_refused_total", "Requests refused under header insertion because they could not be framed strictly, on this node.", "counter", c => c.Headers.Refused);

        Family("sslcluster_connections_ended_total",
            "Connections that ended on this node, by outcome (None: a normal end; otherwise the failure and the side it blames), per module or clear-text rule.", "counter");
        void Outcomes(string kind, string owner, string vip, int port, FlowCounters c)
        {
            foreach (var outcome in FlowCounters.Outcomes)
            {
                var n = c.Ended(outcome);
                if (n == 0 && outcome != ProxyError.None) continue;
                Sample("sslcluster_connections_ended_total",
                    $"{L(kind, owner)},{L("virtual", vip)},{L("port", port.ToString(CultureInfo.InvariantCulture))},{L("outcome", outcome.ToString())},{L("side", outcome.Side())}", n);
            }
        }
        foreach (var (module, vip, port, c) in modules) Outcomes("module", module, vip, port, c);

        Family("sslcluster_client_auth_total",
            "Client certificates decided on this node, by result and by the revocation method that decided (none_decided: the chain decided, or no method answered), per module.", "counter");
        foreach (var (module, vip, port, c) in modules)
        {
            foreach (var result in FlowCounters.ClientAuthResults)
            {
                foreach (var method in new Protocol.Config.RevocationMethod?[] { null, Protocol.Config.RevocationMethod.Ocsp, Protocol.Config.RevocationMethod.Crl, Protocol.Config.RevocationMethod.None })
                {
                    var n = c.ClientAuthCount(result, method);
                    if (n == 0) continue;
                    Sample("sslcluster_client_auth_total",
                        $"{L("module", module)},{L("virtual", vip)},{L("port", port.ToString(CultureInfo.InvariantCulture))},{L("result", result.ToString())},{L("revocation", method?.ToString().ToLowerInvariant() ?? "none_decided")}", n);
                }
            }
        }

        var rules = flows.RuleRows();
        foreach (var (rule, vip, port, c) in rules) Outcomes("rule", rule, vip, port, c);

        Family("sslcluster_relay_connections_open", "Clear-text relay connections of a content rule open on this node now.", "gauge");
        foreach (var (rule, vip, port, c) in rules)
            Sample("sslcluster_relay_connections_open", $"{L("rule", rule)},{L("virtual", vip)},{L("port", port.ToString(CultureInfo.InvariantCulture))}", c.TcpProxyFlows);
        Family("sslcluster_relay_connections_accepted_total", "Clear-text relay connections of a content rule accepted by this node.", "counter");
        foreach (var (rule, vip, port, c) in rules)
            Sample("sslcluster_relay_connections_accepted_total", $"{L("rule", rule)},{L("virtual", vip)},{L("port", port.ToString(CultureInfo.InvariantCulture))}", c.Accepted);
        return this;
    }

    public NodeMetrics Keepalives(HealthSnapshot health)
    {
        ArgumentNullException.ThrowIfNull(health);
        Family("sslcluster_keepalive_state", "The keepalive state of each probed target as this node balances on it (1 for the current state).", "gauge");
        foreach (var (key, state) in health.States.OrderBy(s => s.Key.ToString(), StringComparer.Ordinal))
        {
            foreach (var s in Enum.GetValues<ServiceHealthState>())
                Sample("sslcluster_keepalive_state", $"{L("target", key.ToString())},{L("state", s.ToString().ToLowerInvariant())}", state.State == s ? 1 : 0);
        }
        return this;
    }

    public NodeMetrics Limits(NodeLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Single("sslcluster_node_connections", "Connections open on this node now, of every kind.", "gauge", limits.Open);
        Family("sslcluster_limit", "The node's configured limits (0: no limit).", "gauge");
        Sample("sslcluster_limit", L("name", "max-connections"), limits.Settings.MaxConnections);
        Sample("sslcluster_limit", L("name", "max-handshake-rate"), limits.Settings.MaxHandshakeRate);
        Sample("sslcluster_limit", L("name", "max-handshake-rate-per-source"), limits.Settings.MaxHandshakeRatePerSource);
        Single("sslcluster_connections_waiting", "New connections waiting for room in a full node's listener queues now (when-full = queue).", "gauge", limits.Waiting);
        Single("sslcluster_connections_queued_total", "New connections that waited for room before being served.", "counter", limits.Queued);
        Family("sslcluster_limit_refusals_total", "New connections refused by a limit (node connections, a module's max-conns, the handshake rate in total or per client address).", "counter");
        foreach (var why in Enum.GetValues<LimitRefusal>().Where(w => w != LimitRefusal.None))
            Sample("sslcluster_limit_refusals_total", L("limit", why.ToString()), limits.Refused(why));
        return this;
    }

    public NodeMetrics Passive(PassiveHealth passive)
    {
        ArgumentNullException.ThrowIfNull(passive);
        var servers = passive.Snapshot();
        Family("sslcluster_backend_avoided", "1 while passive health sets a real server aside after failed connects.", "gauge");
        foreach (var (service, avoided, _) in servers) Sample("sslcluster_backend_avoided", L("service", service), avoided ? 1 : 0);
        Family("sslcluster_backend_avoidances_total", "Times passive health set a real server aside.", "counter");
        foreach (var (service, _, times) in servers) Sample("sslcluster_backend_avoidances_total", L("service", service), times);
        return this;
    }

    public NodeMetrics Revision(RevisionFigures r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return Single("sslcluster_config_revision", "The configuration revision in force on this node.", "gauge", r.Revision)
            .Single("sslcluster_config_store_revision", "The configuration store's revision as this node last heard it.", "gauge", r.StoreRevision)
            .Single("sslcluster_config_behind_seconds", "How long this node has run a revision older than the store's (0 when it has not).", "gauge", Math.Round(r.BehindSeconds, 3));
    }

    public NodeMetrics Certificates(IEnumerable<CertificateInUse> certificates, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        Family("sslcluster_certificate_expiry_seconds", "Seconds until a certificate that a listener of this node uses expires (negative: expired).", "gauge");
        foreach (var c in certificates.OrderBy(c => c.File, StringComparer.Ordinal))
            Sample("sslcluster_certificate_expiry_seconds", $"{L("file", c.File)},{L("subject", c.Subject)}", Math.Floor((c.NotAfter - now).TotalSeconds));
        return this;
    }

    public NodeMetrics Sessions(SessionCacheResponse sessions)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        return Single("sslcluster_tls_sessions_held", "TLS 1.2 sessions this node can resume (its own and other nodes').", "gauge", sessions.Held)
            .Single("sslcluster_tls_sessions_created_total", "TLS 1.2 sessions created by full handshakes on this node.", "counter", sessions.Created)
            .Single("sslcluster_tls_sessions_from_peers_total", "TLS 1.2 sessions taken from other nodes.", "counter", sessions.FromPeers)
            .Single("sslcluster_tls_sessions_refused_total", "Session copies refused (damaged, another master key, expired).", "counter", sessions.Refused)
            .Single("sslcluster_tls_tickets_issued_total", "TLS 1.2 session tickets issued by this node.", "counter", sessions.TicketsIssued)
            .Single("sslcluster_tls_tickets_opened_total", "Session tickets this node opened.", "counter", sessions.TicketsOpened)
            .Single("sslcluster_tls_tickets_refused_total", "Session tickets refused (unknown key, damaged, other ssl-server, expired).", "counter", sessions.TicketsRefused)
            .Single("sslcluster_tls_ticket_keys", "Ticket keys this node holds.", "gauge", sessions.TicketKeys.Count);
    }

    /// <summary>A gauge or counter of the node alone (no other label).</summary>
    public NodeMetrics Single(string name, string help, string type, double value)
    {
        Family(name, help, type);
        Sample(name, "", value);
        return this;
    }
}
