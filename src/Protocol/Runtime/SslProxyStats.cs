using System.Globalization;
using System.Text;
using SslCluster.Protocol.Config;
using SslCluster.Protocol.Net;
using SslCluster.Protocol.Tls;

namespace SslCluster.Protocol.Runtime;

/// <summary>
/// The SSL Services Module's statistics commands over the cluster's counters: <c>show ssl-proxy stats [tcp | ssl |
/// hdr | pki | app-if]</c> (every module of every node summed), and <c>show ssl-proxy service [NAME]</c> (the SSLM
/// services of every context, with their configuration and counters). The counter names are ours, in the SSLM's
/// layout of "name : value" pairs; each is documented in <c>docs/configuration.md</c>.
/// </summary>
public static class SslProxyStats
{
    /// <summary>The categories <c>show ssl-proxy stats</c> takes.</summary>
    public static IReadOnlyList<string> Categories { get; } = ["tcp", "ssl", "hdr", "pki", "app-if"];

    /// <summary>
    /// The categories <c>clear ssl-proxy stats</c> takes: app-if is not one, since its counters are made of the tcp and
    /// ssl ones.
    /// </summary>
    public static IReadOnlyList<string> ClearCategories { get; } = ["tcp", "ssl", "hdr", "pki"];

    /// <summary>The statistics of every row of <paramref name="modules"/>, summed; one category, or all of them when null.</summary>
    /// <exception cref="ArgumentException">An unknown category.</exception>
    public static string Stats(IEnumerable<ModuleFlows> modules, string? category, IReadOnlyList<string> nodes)
    {
        ArgumentNullException.ThrowIfNull(modules);
        ArgumentNullException.ThrowIfNull(nodes);
        if (category is not null && !Categories.Contains(category))
            throw new ArgumentException($"unknown statistics '{category}'{Suggest.DidYouMean(category, Categories)}; write show ssl-proxy stats [{string.Join(" | ", Categories)}]", nameof(category));
        var all = Legs.Of(modules.SelectMany(m => m.Rows));
        var o = new StringBuilder();
        o.Append("Counters summed over ").Append(nodes.Count == 1 ? "1 node" : $"{N(nodes.Count)} nodes")
            .Append(nodes.Count > 0 ? $" ({string.Join(", ", nodes)})" : "").Append(" since start or the last clear ssl-proxy stats\n");
        if (category is null or "tcp") Tcp(o, all);
        if (category is null or "ssl") Ssl(o, all);
        if (category is null or "hdr") Headers(o, all);
        if (category is null or "pki") Pki(o, all);
        if (category is null or "app-if") AppIf(o, all);
        return o.ToString();
    }

    /// <summary>
    /// <c>show ssl-proxy service</c>: every SSLM proxy service with its context, kind, addresses, state and open
    /// connections; with <paramref name="name"/> (<c>NAME</c>, or <c>NAME@CONTEXT</c> when several contexts use it)
    /// that service's configuration and counters. A line starting <c>%%</c> says what was not found.
    /// </summary>
    public static string Service(RunningConfig config, IEnumerable<ModuleFlows> modules, string? name)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(modules);
        var byModule = modules.ToDictionary(m => m.Module, StringComparer.Ordinal);
        var services = config.Contexts.Values.SelectMany(c => c.Services.Values.Select(s => (Context: c, Service: s))).ToList();
        var lowered = SslmLowering.Lower(config);
        if (name is null)
        {
            if (services.Count == 0) return "No SSL proxy services are configured.\n";
            var rows = new List<string[]> { new[] { "Service", "Context", "Type", "Virtual", "Server", "Status", "Open" } };
            rows.AddRange(services.OrderBy(x => x.Context.Name, StringComparer.Ordinal).ThenBy(x => x.Service.Name, StringComparer.Ordinal).Select(x => new[]
            {
                x.Service.Name, x.Context.Name, x.Service.Client ? "client" : "server", Endpoint(x.Service.Virtual), Endpoint(x.Service.Server),
                Status(x.Service, x.Context, lowered), N(Rows(byModule, x.Service, x.Context).Where(r => !r.ServerLeg).Sum(r => r.TcpProxyFlows)),
            }));
            return Table(rows);
        }

        var found = SslmLowering.ServicesNamed(config, name);
        var wanted = name.IndexOf('@', StringComparison.Ordinal) is > 0 and var at ? name[..at] : name;
        if (found.Count == 0)
            return $"%% no SSL proxy service '{name}'{Suggest.DidYouMean(wanted, services.Select(x => x.Service.Name))}\n";
        if (found.Count > 1)
            return $"%% service '{name}' is in contexts {string.Join(", ", found.Select(x => x.Context.Name))}; name one as {wanted}@CONTEXT\n";
        var (ctx, s) = found[0];
        var o = new StringBuilder();
        o.Append("Service name: ").Append(s.Name).Append('\n')
            .Append("Context name: ").Append(ctx.Name).Append(ctx.MaxConns is { } max ? $" (maxconns {N(max)} for the cluster, divided among the serving nodes)" : "").Append('\n')
            .Append("Service type: ").Append(s.Client ? "client (SSL initiation)" : "server (SSL termination)").Append('\n')
            .Append("Virtual: ").Append(Endpoint(s.Virtual)).Append('\n')
            .Append("Server: ").Append(Endpoint(s.Server)).Append('\n');
        if (s.CertificateTrustpoint is { } tp) o.Append("Certificate trustpoint: ").Append(tp).Append('\n');
        if (s.TrustedCa is { } pool) o.Append("Trusted CA pool: ").Append(pool).Append('\n');
        if (s.Client) o.Append("Server verification: ").Append(s.TrustedCa is null ? "none (no trusted-ca)" : s.Verify == SslmVerify.SignatureOnly ? "signature-only" : "all").Append('\n');
        if (s.HeaderPolicy is { } policy) o.Append("HTTP header policy: ").Append(policy).Append('\n');
        o.Append("Admin status: ").Append(s.InService ? "up" : "down").Append('\n')
            .Append("Operation status: ").Append(Status(s, ctx, lowered)).Append('\n');
        var all = Legs.Of(Rows(byModule, s, ctx));
        Tcp(o, all);
        Ssl(o, all);
        if (!s.Client)
        {
            Headers(o, all);
            Pki(o, all);
        }

        return o.ToString();
    }

    /// <summary>The module rows of a service: its lowered module, named as <see cref="SslmLowering"/> names it.</summary>
    private static IReadOnlyList<FlowRow> Rows(Dictionary<string, ModuleFlows> byModule, SslmService s, SslmContext context) =>
        byModule.TryGetValue(SslmLowering.ModuleOf(context.Name, s.Name), out var m) ? m.Rows : [];

    /// <summary>Up when the service is in service and runs (lowered to a module); why not otherwise.</summary>
    private static string Status(SslmService s, SslmContext context, RunningConfig lowered) =>
        !s.InService ? "down (no inservice)"
        : lowered.Services.ContainsKey(SslmLowering.ModuleOf(context.Name, s.Name)) ? "up"
        : "down (not served: see the configuration's warnings)";

    private static string Endpoint(SslmEndpoint? e) => e is null ? "-" : $"{e.Address}:{N(e.Port)}";

    private static FlowRow Sum(IEnumerable<FlowRow> rows) =>
        rows.Aggregate(new FlowRow("", 0, 0, 0, 0), (a, b) => a.Plus(b));

    /// <summary>
    /// The rows summed three ways: every row (the totals of how connections ended, client certificates, headers), the
    /// clients' connections (VIP rows and SSLM client services), and the TLS handshakes with clients (VIP rows) and
    /// with servers (re-encryption legs and SSLM client services).
    /// </summary>
    private sealed record Legs(FlowRow All, FlowRow Clients, FlowRow ClientTls, FlowRow ServerTls)
    {
        public static Legs Of(IEnumerable<FlowRow> rows)
        {
            var list = rows.ToList();
            return new Legs(Sum(list), Sum(list.Where(r => !r.ServerLeg)), Sum(list.Where(r => !r.ServerLeg && !r.Initiation)),
                Sum(list.Where(r => r.ServerLeg || r.Initiation)));
        }
    }

    private static void Tcp(StringBuilder o, Legs legs)
    {
        var r = legs.All;
        o.Append("TCP Statistics:\n");
        Pairs(o,
            ("conns accepted", legs.Clients.Accepted), ("conns open", legs.Clients.TcpProxyFlows),
            ("conns closed normally", r.Total(StatNames.Ended(ProxyError.None))), ("conns reset by clients", r.Total(StatNames.Ended(ProxyError.ClientReset))),
            ("conns closed empty", r.Total(StatNames.Ended(ProxyError.ClientClosedEmpty))),
            ("conns idle timed out", r.Total(StatNames.Ended(ProxyError.IdleTimeout))), ("conns aborted", r.Total(StatNames.Ended(ProxyError.Aborted))),
            ("server connect failures", r.Total(StatNames.Ended(ProxyError.BackendConnectFailed))), ("server connect timeouts", r.Total(StatNames.Ended(ProxyError.BackendConnectTimeout))),
            ("server resets", r.Total(StatNames.Ended(ProxyError.BackendReset))), ("internal errors", r.Total(StatNames.Ended(ProxyError.InternalError))),
            ("bytes from clients", legs.Clients.BytesFromClients), ("bytes to clients", legs.Clients.BytesToClients));
    }

    private static void Ssl(StringBuilder o, Legs legs)
    {
        var (r, c, s) = (legs.All, legs.ClientTls, legs.ServerTls);
        o.Append("SSL Statistics:\n");
        Pairs(o,
            ("handshakes attempted", c.HandshakesCompleted + c.HandshakesFailed + c.InHandshake), ("handshakes completed", c.HandshakesCompleted),
            ("full handshakes", Math.Max(0, c.HandshakesCompleted - c.Resumed)), ("resumed handshakes", c.Resumed),
            ("active conns", c.ActiveSslFlows), ("conns in handshake", c.InHandshake),
            ("handshake failures", c.HandshakesFailed), ("handshake timeouts", r.Total(StatNames.Ended(ProxyError.ClientHandshakeTimeout))),
            ("unknown server names", r.Total(StatNames.Ended(ProxyError.ClientServerNameRejected))), ("client certs refused", r.Total(StatNames.Ended(ProxyError.ClientCertificateRejected))),
            ("alerts from clients", r.Total(StatNames.Ended(ProxyError.ClientAlertReceived))), ("bad records from clients", r.Total(StatNames.Ended(ProxyError.ClientProtocolError))),
            ("clients closed w/o close_notify", r.Total(StatNames.Ended(ProxyError.ClientTruncated))), ("server handshakes attempted", s.HandshakesCompleted + s.HandshakesFailed + s.InHandshake),
            ("server handshakes completed", s.HandshakesCompleted), ("server handshakes resumed", s.Resumed),
            ("server conns active", s.ActiveSslFlows), ("server handshake failures", r.Total(StatNames.Ended(ProxyError.BackendHandshakeFailed))),
            ("server handshake timeouts", r.Total(StatNames.Ended(ProxyError.BackendHandshakeTimeout))), ("server certs refused", r.Total(StatNames.Ended(ProxyError.BackendCertificateRejected))),
            ("alerts from servers", r.Total(StatNames.Ended(ProxyError.BackendAlertReceived))), ("bad records from servers", r.Total(StatNames.Ended(ProxyError.BackendProtocolError))),
            ("servers closed w/o close_notify", r.Total(StatNames.Ended(ProxyError.BackendTruncated))));
    }

    private static void Headers(StringBuilder o, Legs legs)
    {
        var r = legs.All;
        o.Append("HTTP Header Insertion Statistics:\n");
        Pairs(o,
            ("requests with headers inserted", r.Total(StatNames.HeaderRequests)), ("client lines removed", r.Total(StatNames.HeaderRemoved)),
            ("requests refused (not strict)", r.Total(StatNames.HeaderRefused)));
    }

    /// <summary>Client authentication decisions by result (the SSLM's Error: words) and by the revocation method that decided (CSCei92116).</summary>
    private static void Pki(StringBuilder o, Legs legs)
    {
        var r = legs.All;
        o.Append("PKI Statistics (client authentication, by the revocation check that decided):\n");
        // "none": revocation-check none decided; "before": the chain decided (no certificate, not trusted, expired), or
        // no method answered.
        var methods = new RevocationMethod?[] { RevocationMethod.Ocsp, RevocationMethod.Crl, RevocationMethod.None, null };
        var rows = new List<string[]> { new[] { "  Result", "OCSP", "CRL", "none", "before", "Total" } };
        // Pending is a wait, not a decision: a connection is counted once its answer decided it.
        foreach (var result in FlowCounters.ClientAuthResults.Where(x => x is not (ClientAuthResult.NotRequested or ClientAuthResult.Pending)))
        {
            var counts = methods.Select(m => r.Total(StatNames.Auth(result, m))).ToList();
            rows.Add([$"  {result} ({Words(result)})", .. counts.Select(N), N(counts.Sum())]);
        }

        o.Append(Table(rows));
    }

    /// <summary>The SSLM 3.1(3) TCP-SSL interface statistics, as far as they mean something off the hardware.</summary>
    private static void AppIf(StringBuilder o, Legs legs)
    {
        o.Append("TCP-SSL Interface Statistics:\n");
        Pairs(o,
            ("error drops", legs.ClientTls.HandshakesFailed + legs.All.Total(StatNames.Ended(ProxyError.ClientProtocolError))),
            ("conns handed to ssl", legs.ClientTls.Accepted));
    }

    private static string Words(ClientAuthResult result) => result switch
    {
        ClientAuthResult.Verified => "none",
        ClientAuthResult.Missing => "No Cert Data",
        ClientAuthResult.Untrusted => "Cert Not In CA Pool / Invalid Cert",
        ClientAuthResult.Expired => "Cert Date Expired / Not Valid Yet",
        ClientAuthResult.Revoked => "Cert Revoked",
        ClientAuthResult.NotAuthorized => "Cert Not Authorized",
        ClientAuthResult.RevocationUnavailable => "CRL/OCSP Get Failure",
        _ => result.ToString(),
    };

    /// <summary>"name : value" two to a line, as the SSLM prints its counters.</summary>
    private static void Pairs(StringBuilder o, params (string Name, long Value)[] pairs)
    {
        var width = pairs.Max(p => p.Name.Length);
        for (var i = 0; i < pairs.Length; i += 2)
        {
            var left = $"  {pairs[i].Name.PadRight(width)} : {N(pairs[i].Value)}";
            o.Append(i + 1 < pairs.Length ? left.PadRight(width + 18) + $"  {pairs[i + 1].Name.PadRight(width)} : {N(pairs[i + 1].Value)}" : left).Append('\n');
        }
    }

    /// <summary>Columns of numbers aligned right, of words left; the first row is the heading.</summary>
    private static string Table(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var numeric = Enumerable.Range(0, rows[0].Length).Select(i => rows.Count > 1 && rows.Skip(1).All(r => long.TryParse(r[i], CultureInfo.InvariantCulture, out _))).ToArray();
        var o = new StringBuilder();
        foreach (var r in rows)
            o.Append(string.Join("  ", r.Select((cell, i) => numeric[i] ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]))).TrimEnd()).Append('\n');
        return o.ToString();
    }

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);
}
