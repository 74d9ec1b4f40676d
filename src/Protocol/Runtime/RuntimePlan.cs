using System.Collections.Immutable;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Runtime;

/// <summary>What a listener does with its connections.</summary>
public enum ListenerKind
{
    /// <summary>The rule's services are SSL modules: terminate TLS, then forward clear text.</summary>
    TlsTermination,

    /// <summary>The rule's services are servers: relay TCP to one of them.</summary>
    TcpRelay,
}

/// <summary>
/// A server to balance over: its name (the service), the address and port to dial, and weight. For a service of
/// type ssl-accel-backend or ssl-init, <paramref name="Backend"/> is the backend-server that encrypts towards the
/// real server, and Address/Port are that server's (<c>server-ip</c>, <c>server-port</c>).
/// </summary>
public sealed record ServerTarget(string Name, string Address, int? Port, int Weight, BackendServerPlan? Backend = null)
{
    /// <summary>The service's <c>max-conns</c>: at this many open connections on the node it takes no new flows (0: no limit).</summary>
    public int MaxConnections { get; init; }
}

/// <summary>
/// A backend-server as the data path uses it: the TLS client settings towards one real server, with the store files
/// of its client certificate and CAs (its cacert, then an SSLM pool's), and the row (<c>ip address</c>, <c>port</c>: the clear-text pick-up point)
/// under which <c>show ssl flows</c> counts its flows.
/// </summary>
public sealed record BackendServerPlan(string ProxyList, BackendServer Server, string? KeyFile, string? CertFile, ValueList<string> CaFiles,
    string RowVirtual, int RowPort, string? InitiationModule = null)
{
    /// <summary>
    /// Scopes back-end session reuse: this backend-server, this real server, these settings (a changed cipher or
    /// certificate never reuses a session made under the old ones).
    /// </summary>
    public string CacheKey => $"{ProxyList}/{Server.Number}/{Server.ServerIp ?? Server.IpAddress}:{Server.ServerPort ?? DefaultServerPort}/{Server.GetHashCode():x8}";

    public const int DefaultServerPort = 443;

    /// <summary>The IANA names of the suites the backend-server's cipher lines allow.</summary>
    public IReadOnlyList<string> Suites =>
        Server.Ciphers.SelectMany(c => CipherCatalog.TryGet(c, out var info) ? info.IanaSuites : []).Distinct().ToList();
}

/// <summary>An ssl-server of a module's proxy list that serves a listener's VIP and port.</summary>
public sealed record SslServerPlan(string ProxyList, SslServer Server, string KeyFile, string CertFile, bool Ecdsa)
{
    /// <summary>Client authentication with the store files it needs, or null when clients are not asked for certificates.</summary>
    public ClientAuthPlan? ClientAuth { get; init; }

    /// <summary>
    /// The RSA key and certificate when the ssl-server has both pairs (<see cref="KeyFile"/> is then the ECDSA one):
    /// both are loaded, and each client gets the one it can verify (an RSA-only client the RSA certificate).
    /// </summary>
    public (string KeyFile, string CertFile)? Rsa { get; init; }

    /// <summary>
    /// Binds resumable sessions: never resumed under another ssl-server, nor under another client-auth policy (a
    /// session made without client authentication must not resume where it is required, CSCsk36744). The TLS binding
    /// adds the fingerprint of the CA certificates themselves.
    /// </summary>
    public string BindingKey => ClientAuth is { } auth ? $"{ProxyList}/{Server.Number}/{auth.ScopeKey}" : $"{ProxyList}/{Server.Number}";

    /// <summary>The IANA names of the suites this ssl-server may negotiate.</summary>
    public IReadOnlyList<string> Suites =>
        Server.Ciphers.SelectMany(c => CipherCatalog.TryGet(c.Name, out var info) ? info.IanaSuites : [])
            .Distinct().OrderBy(s => CipherCatalog.ModernSuites.ToList().IndexOf(s)).ToList();

    /// <summary>The clear-text destination of a flow that negotiated <paramref name="ianaSuite"/>.</summary>
    public CipherEntry DestinationFor(string ianaSuite) =>
        Server.Ciphers.FirstOrDefault(c => CipherCatalog.TryGet(c.Name, out var info) && info.IanaSuites.Contains(ianaSuite))
        ?? Server.Ciphers[0];
}

/// <summary>The <c>crl-record</c> of an ssl-server, with the store file of its signing certificate.</summary>
public sealed record CrlPlan(string Name, string Url, string SignCertFile, int RefreshHours);

/// <summary>Client authentication of an ssl-server: the store files of its CAs, the failure action, the CRL.</summary>
public sealed record ClientAuthPlan(ValueList<string> CaCertFiles, ClientAuthFailureAction Failure, string? FailureUrl, CrlPlan? Crl)
{
    /// <summary>The revocation methods configured, in order; empty for the default (the CRL when there is one, else none).</summary>
    public ValueList<RevocationMethod> Revocation { get; init; } = ValueList<RevocationMethod>.Empty;

    /// <summary>The OCSP responder configured for client certificates, or null for each certificate's own.</summary>
    public string? OcspUrl { get; init; }

    /// <summary>The certificate maps a client must match, by the store file of the CA its chain reaches (SSLM <c>match map</c>).</summary>
    public ValueMap<string, PkiCertificateMap> Authorizations { get; init; } = ValueMap<string, PkiCertificateMap>.Empty;

    /// <summary>The SSLM's <c>cert-trim</c>: a path may end at a trusted subordinate CA.</summary>
    public bool CertTrim { get; init; }

    /// <summary>What of the policy the configuration can name (the CA files, the action, the CRL, the revocation order, the maps).</summary>
    public string ScopeKey => $"client-auth={string.Join(',', CaCertFiles)};{Failure};{Crl?.Url ?? "no-crl"}" +
        (Revocation.Count > 0 || OcspUrl is not null ? $";{string.Join(',', Revocation)};{OcspUrl ?? "aia"}" : "") +
        (CertTrim ? ";trim" : "") +
        (Authorizations.Count > 0 ? ";maps=" + string.Join(',', Authorizations.Select(a => $"{a.Key}:{a.Value.Name}:{a.Value.Digest}")) : "");

    /// <summary>The plan of an ssl-server whose authentication is enabled and whose names all resolve; null otherwise.</summary>
    internal static ClientAuthPlan? For(RunningConfig config, SslProxyList list, SslServer server)
    {
        var auth = server.ClientAuth;
        if (!auth.Enabled) return null;
        var files = auth.CaCerts.Select(n => config.Associations.GetValueOrDefault(n)?.FileName).OfType<string>().ToList();
        CrlPlan? crl = null;
        if (auth.Crl is { } name)
        {
            // Validation guarantees the record and its signer exist; if they did not, the empty names make the data
            // plane refuse the binding instead of silently dropping the revocation check.
            var record = list.CrlRecords.GetValueOrDefault(name);
            var signer = record is null ? null : config.Associations.GetValueOrDefault(record.SignCert);
            crl = new CrlPlan(name, record?.Url ?? "", signer?.FileName ?? "", record?.RefreshHours ?? 0);
        }
        var maps = ValueMap<string, PkiCertificateMap>.Empty;
        foreach (var (ca, map) in auth.Authorizations)
        {
            if (config.Associations.GetValueOrDefault(ca)?.FileName is { } file) maps = maps.SetItem(file, map);
        }

        return new ClientAuthPlan(new ValueList<string>(files), auth.Failure, auth.FailureUrl, crl)
        {
            Revocation = auth.Revocation,
            OcspUrl = auth.OcspUrl,
            Authorizations = maps,
            CertTrim = auth.CertTrim,
        };
    }
}

/// <summary>A module serving a listener: its name, weight, and the ssl-servers it applies there.</summary>
public sealed record ModulePlan(string Name, int Weight, int? Slot, IReadOnlyList<SslServerPlan> SslServers)
{
    /// <summary>The module's <c>max-conns</c> on each node (0: no limit).</summary>
    public int MaxConnections { get; init; }
}

/// <summary>One VIP and port this node listens on, derived from an active content rule.</summary>
public sealed record ListenerPlan(string Owner, string Rule, string Vip, int Port, ListenerKind Kind, IReadOnlyList<ModulePlan> Modules, IReadOnlyList<ServerTarget> Servers)
{
    /// <summary>How new flows are spread over the rule's modules or servers.</summary>
    public BalanceMethod Balance { get; init; } = BalanceMethod.RoundRobin;

    /// <summary>How a client is kept on the module it used before (modules only).</summary>
    public Stickiness Sticky { get; init; } = Stickiness.None;

    /// <summary>The SSLM context whose <c>maxconns</c> the listener's connections count against, or null.</summary>
    public string? Context { get; init; }

    /// <summary>The context's <c>maxconns</c> for the whole cluster (0: none written); each node admits its share.</summary>
    public int ContextMaxConnections { get; init; }

    /// <summary>What an SSLM client service inserts into each request of the clear text it relays; null for none.</summary>
    public HttpHeaderSettings? RelayHeaders { get; init; }

    public string Key => $"{Vip}:{Port}";

    /// <summary>
    /// The module an SSLM client service's relay counts under (its connections, bytes and outcomes, with its TLS leg's
    /// handshakes on the same row); null for every other listener.
    /// </summary>
    public string? RelayModule => Context is not null && Kind == ListenerKind.TcpRelay && Servers is [{ Backend.InitiationModule: { } module }] ? module : null;
}

/// <summary>
/// The runtime form of a configuration revision: which listeners exist and what each does. Pure and deterministic,
/// so the node actors only start, stop and swap what it says.
/// </summary>
public sealed record RuntimePlan(long Revision, IReadOnlyList<ListenerPlan> Listeners)
{
    public static RuntimePlan Build(long revision, RunningConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config = SslmLowering.Lower(config);
        var listeners = new List<ListenerPlan>();
        foreach (var (owner, rule) in config.ContentRules)
        {
            if (rule.State != AdminState.Active || rule.VipAddress is null || rule.Port is null) continue;
            var services = rule.Services.Where(config.Services.ContainsKey).Select(n => config.Services[n]).ToList();
            if (services.Any(s => s.Type == ServiceType.SslAccel))
            {
                var modules = services
                    .Where(s => s.Type == ServiceType.SslAccel && s.State == AdminState.Active && s.ProxyList is not null)
                    .Select(s => new ModulePlan(s.Name, s.Weight, s.Slot, SslServersFor(config, s.ProxyList!, rule.VipAddress, rule.Port.Value)) { MaxConnections = s.MaxConnections })
                    .ToList();
                listeners.Add(new ListenerPlan(owner.Name, rule.Name, rule.VipAddress, rule.Port.Value, ListenerKind.TlsTermination, modules, [])
                    { Balance = rule.Balance, Sticky = rule.Sticky, Context = rule.Context, ContextMaxConnections = ContextMax(config, rule) });
            }
            else
            {
                var targets = services.Where(s => s.State == AdminState.Active && s.IpAddress is not null)
                    .Select(s => TargetFor(config, s, rule.Port.Value)).OfType<ServerTarget>().ToList();
                listeners.Add(new ListenerPlan(owner.Name, rule.Name, rule.VipAddress, rule.Port.Value, ListenerKind.TcpRelay, [], targets)
                    { Balance = rule.Balance, Sticky = rule.Sticky, Context = rule.Context, ContextMaxConnections = ContextMax(config, rule), RelayHeaders = rule.RelayHeaders });
            }
        }
        return new RuntimePlan(revision, listeners);
    }

    private static int ContextMax(RunningConfig config, ContentRule rule) =>
        rule.Context is { } c && config.Contexts.TryGetValue(c, out var context) ? context.MaxConns ?? 0 : 0;

    /// <summary>
    /// The target of a clear-text rule's service. A plain service is dialled as configured. A service of type
    /// ssl-accel-backend or ssl-init is the clear-text pick-up point of a backend-server (same <c>ip address</c> and
    /// <c>port</c>): first in the service's own proxy list, then in any active one (the reference: backend
    /// configuration is broadcast to every module, and any backend proxy list can encrypt). Without one, the service
    /// takes no flows: clear text must never go where TLS was configured.
    /// </summary>
    private static ServerTarget? TargetFor(RunningConfig config, Service service, int rulePort)
    {
        if (service.Type is not (ServiceType.SslAccelBackend or ServiceType.SslInit))
            return new ServerTarget(service.Name, service.IpAddress!, service.Port, service.Weight) { MaxConnections = service.MaxConnections };
        var wanted = service.Type == ServiceType.SslInit ? BackendServerType.Initiation : BackendServerType.BackendSsl;
        var lists = config.ProxyLists.Values.Where(l => l.State == AdminState.Active)
            .OrderBy(l => l.Name == service.ProxyList ? 0 : 1).ThenBy(l => l.Name, StringComparer.Ordinal);
        foreach (var list in lists)
        {
            foreach (var b in list.BackendServers.Values)
            {
                if (b.Type != wanted || b.IpAddress != service.IpAddress) continue;
                // A backend-server without a port picks up whatever port the service (or, failing that, the rule) has.
                var pickUp = service.Port ?? rulePort;
                if ((b.Port ?? pickUp) != pickUp) continue;
                string? File(string? name) => name is not null && config.Associations.TryGetValue(name, out var a) ? a.FileName : null;
                var module = service.Type == ServiceType.SslInit ? InitiationModule(config, service, list.Name) : null;
                var cas = new ValueList<string>(b.PoolCaCerts.Prepend(b.CaCert).Select(File).OfType<string>().Distinct());
                var plan = new BackendServerPlan(list.Name, b, File(b.RsaKey), File(b.RsaCert), cas, b.IpAddress!, pickUp, module);
                return new ServerTarget(service.Name, b.ServerIp ?? b.IpAddress!, b.ServerPort ?? BackendServerPlan.DefaultServerPort, service.Weight, plan)
                    { MaxConnections = service.MaxConnections };
            }
        }
        return null;
    }

    /// <summary>
    /// The module that counts an initiated flow: the ssl-accel service in the ssl-init service's slot, else one whose
    /// proxy list holds the backend-server, else any active module (the reference ties ssl-init to a slot).
    /// </summary>
    private static string? InitiationModule(RunningConfig config, Service service, string listName)
    {
        var modules = config.SslModules.Where(m => m.State == AdminState.Active).ToList();
        return (modules.FirstOrDefault(m => service.Slot is not null && m.Slot == service.Slot)
            ?? modules.FirstOrDefault(m => m.ProxyList == listName)
            ?? modules.FirstOrDefault())?.Name;
    }

    private static List<SslServerPlan> SslServersFor(RunningConfig config, string listName, string vip, int port)
    {
        if (!config.ProxyLists.TryGetValue(listName, out var list) || list.State != AdminState.Active) return [];
        var plans = new List<SslServerPlan>();
        foreach (var s in list.SslServers.Values)
        {
            if (s.VipAddress != vip || s.Port != port || s.Ciphers.Count == 0) continue;
            // ECDSA first when both are configured: cheaper handshakes, and every modern client supports it; the RSA pair
            // goes alongside for the clients that only verify RSA.
            var (key, cert, ecdsa) = s.EcdsaKey is not null && s.EcdsaCert is not null
                ? (s.EcdsaKey, s.EcdsaCert, true)
                : (s.RsaKey, s.RsaCert, false);
            if (key is null || cert is null) continue;
            if (!config.Associations.TryGetValue(key, out var k) || !config.Associations.TryGetValue(cert, out var c)) continue;
            (string, string)? rsa = ecdsa && s.RsaKey is { } rk && s.RsaCert is { } rc &&
                config.Associations.TryGetValue(rk, out var rka) && config.Associations.TryGetValue(rc, out var rca)
                ? (rka.FileName, rca.FileName)
                : null;
            plans.Add(new SslServerPlan(list.Name, s, k.FileName, c.FileName, ecdsa) { ClientAuth = ClientAuthPlan.For(config, list, s), Rsa = rsa });
        }
        return plans;
    }

    /// <summary>
    /// Whether a runtime built for <paramref name="a"/> of this plan would serve exactly as one built for
    /// <paramref name="b"/> of <paramref name="other"/>: same listener, modules, ssl-servers and servers, the same
    /// resolved clear-text destinations, and the same contents (by digest) of every store file they name. A node keeps
    /// the runtime of such a listener across revisions (its balancer positions, caches and credentials).
    /// </summary>
    public bool SameRuntime(ListenerPlan a, Func<string, string?> digestA, RuntimePlan other, ListenerPlan b, Func<string, string?> digestB)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(digestA);
        ArgumentNullException.ThrowIfNull(other);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(digestB);
        if (a.Owner != b.Owner || a.Rule != b.Rule || a.Vip != b.Vip || a.Port != b.Port || a.Kind != b.Kind || a.Balance != b.Balance || a.Sticky != b.Sticky
            || a.Context != b.Context || a.ContextMaxConnections != b.ContextMaxConnections || a.RelayHeaders != b.RelayHeaders)
            return false;
        if (a.Modules.Count != b.Modules.Count || !a.Servers.SequenceEqual(b.Servers)) return false;
        for (var i = 0; i < a.Modules.Count; i++)
        {
            var (ma, mb) = (a.Modules[i], b.Modules[i]);
            if (ma.Name != mb.Name || ma.Weight != mb.Weight || ma.Slot != mb.Slot || ma.MaxConnections != mb.MaxConnections || !ma.SslServers.SequenceEqual(mb.SslServers)) return false;
        }
        // The clear-text destinations the ssl-servers' cipher lines resolve to (rules of the same configuration).
        foreach (var c in a.Modules.SelectMany(m => m.SslServers).SelectMany(s => s.Server.Ciphers).Select(c => (c.DestinationAddress, c.DestinationPort)).Distinct())
        {
            var (ta, ba) = Resolve(c.DestinationAddress, c.DestinationPort);
            var (tb, bb) = other.Resolve(c.DestinationAddress, c.DestinationPort);
            if (ba != bb || !ta.SequenceEqual(tb)) return false;
        }
        foreach (var name in FilesOf(a))
            if (digestA(name) != digestB(name)) return false;
        return true;
    }

    /// <summary>Every store file a listener's runtime reads: keys, certificates, CAs, CRL signers, back-end client credentials.</summary>
    public IEnumerable<string> FilesOf(ListenerPlan listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        foreach (var s in listener.Modules.SelectMany(m => m.SslServers))
        {
            yield return s.KeyFile;
            yield return s.CertFile;
            if (s.Rsa is { } rsa)
            {
                yield return rsa.KeyFile;
                yield return rsa.CertFile;
            }
            if (s.ClientAuth is { } auth)
            {
                foreach (var ca in auth.CaCertFiles) yield return ca;
                if (auth.Crl is { } crl) yield return crl.SignCertFile;
            }
            foreach (var c in s.Server.Ciphers)
                foreach (var t in Resolve(c.DestinationAddress, c.DestinationPort).Targets)
                    foreach (var f in BackendFiles(t)) yield return f;
        }
        foreach (var t in listener.Servers)
            foreach (var f in BackendFiles(t)) yield return f;
    }

    private static IEnumerable<string> BackendFiles(ServerTarget target)
    {
        if (target.Backend is not { } b) yield break;
        if (b.KeyFile is { } k) yield return k;
        if (b.CertFile is { } c) yield return c;
        foreach (var ca in b.CaFiles) yield return ca;
    }

    /// <summary>
    /// Resolves a clear-text destination: when it is a content rule of this configuration that balances servers,
    /// the rule's servers (dialled directly, saving a hop); otherwise the address itself.
    /// </summary>
    public (IReadOnlyList<ServerTarget> Targets, BalanceMethod Balance) Resolve(string address, int port)
    {
        var rule = Listeners.FirstOrDefault(l => l.Kind == ListenerKind.TcpRelay && l.Vip == address && l.Port == port);
        return rule is not null ? (rule.Servers, rule.Balance) : ([new ServerTarget($"{address}:{port}", address, port, 1)], BalanceMethod.RoundRobin);
    }
}

/// <summary>
/// Smooth weighted round robin (nginx's algorithm) over targets with weight above zero; weight 0 takes no new flows.
/// Thread-safe: each pick locks a tiny state, which is far cheaper than the handshake it precedes.
/// </summary>
public sealed class WeightedRoundRobin<T>
{
    private readonly ImmutableArray<(T Item, int Weight)> _items;
    private readonly int[] _current;
    private readonly int _total;
    private readonly Lock _gate = new();

    public WeightedRoundRobin(IEnumerable<(T Item, int Weight)> items)
    {
        _items = items.Where(i => i.Weight > 0).ToImmutableArray();
        _current = new int[_items.Length];
        _total = _items.Sum(i => i.Weight);
    }

    public bool IsEmpty => _items.IsEmpty;

    public T? Next(Func<T, bool>? usable = null)
    {
        lock (_gate)
        {
            var best = -1;
            for (var i = 0; i < _items.Length; i++)
            {
                if (usable is not null && !usable(_items[i].Item)) continue;
                _current[i] += _items[i].Weight;
                if (best < 0 || _current[i] > _current[best]) best = i;
            }
            if (best < 0) return default;
            _current[best] -= _total;
            return _items[best].Item;
        }
    }
}
