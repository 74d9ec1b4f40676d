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

/// <summary>A server to balance over: its name, configured address and port, and weight.</summary>
public sealed record ServerTarget(string Name, string Address, int? Port, int Weight);

/// <summary>An ssl-server of a module's proxy list that serves a listener's VIP and port.</summary>
public sealed record SslServerPlan(string ProxyList, SslServer Server, string KeyFile, string CertFile, bool Ecdsa)
{
    /// <summary>Client authentication with the store files it needs, or null when clients are not asked for certificates.</summary>
    public ClientAuthPlan? ClientAuth { get; init; }

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
    /// <summary>What of the policy the configuration can name (the CA files, the action, the CRL).</summary>
    public string ScopeKey => $"client-auth={string.Join(',', CaCertFiles)};{Failure};{Crl?.Url ?? "no-crl"}";

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
        return new ClientAuthPlan(new ValueList<string>(files), auth.Failure, auth.FailureUrl, crl);
    }
}

/// <summary>A module serving a listener: its name, weight, and the ssl-servers it applies there.</summary>
public sealed record ModulePlan(string Name, int Weight, int? Slot, IReadOnlyList<SslServerPlan> SslServers);

/// <summary>One VIP and port this node listens on, derived from an active content rule.</summary>
public sealed record ListenerPlan(string Owner, string Rule, string Vip, int Port, ListenerKind Kind, IReadOnlyList<ModulePlan> Modules, IReadOnlyList<ServerTarget> Servers)
{
    public string Key => $"{Vip}:{Port}";
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
        var listeners = new List<ListenerPlan>();
        foreach (var (owner, rule) in config.ContentRules)
        {
            if (rule.State != AdminState.Active || rule.VipAddress is null || rule.Port is null) continue;
            var services = rule.Services.Where(config.Services.ContainsKey).Select(n => config.Services[n]).ToList();
            if (services.Any(s => s.Type == ServiceType.SslAccel))
            {
                var modules = services
                    .Where(s => s.Type == ServiceType.SslAccel && s.State == AdminState.Active && s.ProxyList is not null)
                    .Select(s => new ModulePlan(s.Name, s.Weight, s.Slot, SslServersFor(config, s.ProxyList!, rule.VipAddress, rule.Port.Value)))
                    .ToList();
                listeners.Add(new ListenerPlan(owner.Name, rule.Name, rule.VipAddress, rule.Port.Value, ListenerKind.TlsTermination, modules, []));
            }
            else
            {
                var targets = services.Where(s => s.State == AdminState.Active && s.IpAddress is not null)
                    .Select(s => new ServerTarget(s.Name, s.IpAddress!, s.Port, s.Weight)).ToList();
                listeners.Add(new ListenerPlan(owner.Name, rule.Name, rule.VipAddress, rule.Port.Value, ListenerKind.TcpRelay, [], targets));
            }
        }
        return new RuntimePlan(revision, listeners);
    }

    private static List<SslServerPlan> SslServersFor(RunningConfig config, string listName, string vip, int port)
    {
        if (!config.ProxyLists.TryGetValue(listName, out var list) || list.State != AdminState.Active) return [];
        var plans = new List<SslServerPlan>();
        foreach (var s in list.SslServers.Values)
        {
            if (s.VipAddress != vip || s.Port != port || s.Ciphers.Count == 0) continue;
            // ECDSA first when both are configured: cheaper handshakes, and every modern client supports it.
            var (key, cert, ecdsa) = s.EcdsaKey is not null && s.EcdsaCert is not null
                ? (s.EcdsaKey, s.EcdsaCert, true)
                : (s.RsaKey, s.RsaCert, false);
            if (key is null || cert is null) continue;
            if (!config.Associations.TryGetValue(key, out var k) || !config.Associations.TryGetValue(cert, out var c)) continue;
            plans.Add(new SslServerPlan(list.Name, s, k.FileName, c.FileName, ecdsa) { ClientAuth = ClientAuthPlan.For(config, list, s) });
        }
        return plans;
    }

    /// <summary>
    /// Resolves a clear-text destination: when it is a content rule of this configuration that balances servers,
    /// the rule's servers (dialled directly, saving a hop); otherwise the address itself.
    /// </summary>
    public IReadOnlyList<ServerTarget> Resolve(string address, int port)
    {
        var rule = Listeners.FirstOrDefault(l => l.Kind == ListenerKind.TcpRelay && l.Vip == address && l.Port == port);
        return rule is not null ? rule.Servers : [new ServerTarget($"{address}:{port}", address, port, 1)];
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
