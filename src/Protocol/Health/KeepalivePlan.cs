using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Health;

/// <summary>Whose keepalive: a service's own, or a global keepalive (<c>keepalive NAME</c>).</summary>
public enum KeepaliveOwner
{
    Service,
    Global,
}

/// <summary>The name of one probed keepalive: a service's or a global keepalive's (they have separate namespaces).</summary>
public sealed record KeepaliveKey(KeepaliveOwner Owner, string Name)
{
    public override string ToString() => Owner == KeepaliveOwner.Service ? $"service {Name}" : $"keepalive {Name}";
}

/// <summary>
/// Everything a probe needs, resolved from one configuration revision; compared by value, so a new revision that
/// leaves it equal keeps the running keepalive and its state.
/// </summary>
public sealed record KeepaliveTarget(KeepaliveKey Key, KeepaliveSettings Settings)
{
    /// <summary>The configured (unmapped) address probed; null for scripts and keepalive type none.</summary>
    public string? Address { get; init; }

    public int Port { get; init; }

    /// <summary>What the backend-server of the address says about TLS (ssl and http encrypt keepalives).</summary>
    public TlsProbeOptions Tls { get; init; } = TlsProbeOptions.Default;

    /// <summary>The SSL modules that may send an encrypted keepalive, in the order they are tried; empty when none is needed.</summary>
    public ValueList<string> Modules { get; init; } = ValueList<string>.Empty;

    public KeepaliveTiming Timing => KeepaliveTiming.From(Settings);
}

/// <summary>Which keepalives a configuration runs, and which services take the state of a global keepalive.</summary>
public sealed record KeepalivePlan(ValueList<KeepaliveTarget> Targets, ValueMap<string, string> NamedServices)
{
    /// <summary>
    /// Active services and active global keepalives are probed, except type none (always Alive) and type named (the
    /// service takes the global keepalive's state, so nothing of its own is sent).
    /// </summary>
    public static KeepalivePlan Build(RunningConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var targets = new List<KeepaliveTarget>();
        var named = ValueMap<string, string>.Empty;
        foreach (var kal in config.Keepalives.Values)
        {
            if (kal.State != AdminState.Active || kal.Settings.Type is KeepaliveType.None or KeepaliveType.Named) continue;
            if (kal.IpAddress is null && kal.Settings.Type != KeepaliveType.Script) continue;
            var key = new KeepaliveKey(KeepaliveOwner.Global, kal.Name);
            var backend = kal.IpAddress is null ? null : BackendFor(config, kal.IpAddress, null);
            // The slots of ssl-init services that take this keepalive say which module sends it (the reference's
            // "service sslkal2 ... slot 2" under which the encrypted keepalive is sent).
            var slots = config.Services.Values.Where(s => s.Keepalive.Named == kal.Name && s.Slot is not null).Select(s => s.Slot!.Value).ToList();
            targets.Add(new KeepaliveTarget(key, kal.Settings)
            {
                Address = kal.IpAddress,
                Port = kal.Settings.EffectivePort(null),
                Tls = TlsOptions(config, backend?.Backend),
                Modules = NeedsModule(kal.Settings, ServiceType.Local) ? ModulesFor(config, slots, kal.IpAddress) : ValueList<string>.Empty,
            });
        }
        foreach (var s in config.Services.Values)
        {
            if (s.State != AdminState.Active) continue;
            var k = s.Keepalive;
            if (k.Type == KeepaliveType.Named)
            {
                if (k.Named is { } n) named = named.SetItem(s.Name, n);
                continue;
            }
            if (k.Type == KeepaliveType.None) continue;
            if (s.IpAddress is null && k.Type != KeepaliveType.Script) continue;
            var initiation = s.Type is ServiceType.SslInit or ServiceType.SslAccelBackend;
            var backend = initiation && s.IpAddress is not null ? BackendFor(config, s.IpAddress, s.ProxyList) : null;
            // An ssl-init or ssl-accel-backend service's port is where the module picks up clear text; the keepalive
            // goes to the real server behind it (backend-server server-ip and server-port, 443 by default).
            var address = backend is { Backend: var b } ? b.ServerIp ?? b.IpAddress ?? s.IpAddress : s.IpAddress;
            var port = initiation ? k.Port ?? backend?.Backend.ServerPort ?? 443 : k.EffectivePort(s.Port);
            targets.Add(new KeepaliveTarget(new KeepaliveKey(KeepaliveOwner.Service, s.Name), k)
            {
                Address = address,
                Port = port,
                Tls = TlsOptions(config, backend?.Backend),
                Modules = NeedsModule(k, s.Type) && s.IpAddress is not null
                    ? ModulesFor(config, s.Slot is { } slot ? [slot] : [], s.IpAddress)
                    : ValueList<string>.Empty,
            });
        }
        return new KeepalivePlan(new ValueList<KeepaliveTarget>(targets), named);
    }

    /// <summary>The reference: encrypted keepalives are sent by an SSL module (ssl-init, ssl-accel-backend, http encrypt).</summary>
    private static bool NeedsModule(KeepaliveSettings k, ServiceType type) =>
        (k.Type == KeepaliveType.Http && k.Encrypt) ||
        (type is ServiceType.SslInit or ServiceType.SslAccelBackend && k.Type is KeepaliveType.Http or KeepaliveType.Ssl or KeepaliveType.Tcp);

    private static (SslProxyList List, BackendServer Backend)? BackendFor(RunningConfig config, string address, string? preferredList)
    {
        var lists = config.ProxyLists.Values.OrderBy(l => l.Name == preferredList ? 0 : 1);
        foreach (var list in lists)
        {
            foreach (var b in list.BackendServers.Values)
            {
                if (b.IpAddress == address || b.ServerIp == address) return (list, b);
            }
        }
        return null;
    }

    /// <summary>
    /// The modules that may send the keepalive: active ssl-accel services in one of <paramref name="slots"/> first,
    /// then any active ssl-accel service whose proxy list has a backend-server for <paramref name="address"/>.
    /// </summary>
    private static ValueList<string> ModulesFor(RunningConfig config, IReadOnlyCollection<int> slots, string? address)
    {
        var modules = config.SslModules.Where(m => m.State == AdminState.Active).ToList();
        var inSlot = modules.Where(m => m.Slot is { } slot && slots.Contains(slot));
        var withBackend = modules.Where(m => m.ProxyList is { } pl && config.ProxyLists.TryGetValue(pl, out var list) &&
            list.BackendServers.Values.Any(b => b.IpAddress == address || b.ServerIp == address));
        return new ValueList<string>(inSlot.Concat(withBackend).Select(m => m.Name).Distinct());
    }

    private static TlsProbeOptions TlsOptions(RunningConfig config, BackendServer? backend)
    {
        if (backend is null) return TlsProbeOptions.Default;
        string? File(string? association) =>
            association is not null && config.Associations.TryGetValue(association, out var a) ? a.FileName : null;
        return new TlsProbeOptions
        {
            Ciphers = backend.Ciphers,
            ClientCertificateFile = File(backend.RsaCert),
            ClientKeyFile = File(backend.RsaKey),
            CaCertificateFile = File(backend.CaCert),
            ServerName = backend.ServerName,
        };
    }
}
