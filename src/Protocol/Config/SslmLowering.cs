namespace SslCluster.Protocol.Config;

/// <summary>
/// Turns the SSLM face into the objects the runtime serves: each in-service server proxy service becomes a module
/// (an ssl-accel service) with its own proxy list (one ssl-server: the virtual address, the trustpoint's key and
/// certificate, every modern suite towards the server address, the header policy, client authentication by the CA
/// pool) and a content rule on the virtual address. The configuration itself keeps the SSLM objects (it prints back in
/// the SSLM face); only the runtime plan and the node's modules see the lowered ones. Lowering is idempotent.
/// </summary>
/// <remarks>
/// Lowered names end in <c>@CONTEXT</c>, a character no configured name may hold, so they never meet a CSS object.
/// Client proxy services (SSL initiation) are not lowered yet: they take no connections.
/// </remarks>
public static class SslmLowering
{
    /// <summary>What the lowered objects' names end with: the context, after a character no configured name holds.</summary>
    public static string Suffix(string context) => "@" + context;

    /// <summary>The configuration with every in-service server proxy service added as CSS objects.</summary>
    public static RunningConfig Lower(RunningConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Contexts.Count == 0) return config;
        var associations = config.Associations;
        var lists = config.ProxyLists;
        var services = config.Services;
        var owners = config.Owners;
        foreach (var context in config.Contexts.Values)
        {
            var suffix = Suffix(context.Name);
            var owner = owners.GetValueOrDefault("sslm" + suffix) ?? new Owner("sslm" + suffix);
            foreach (var s in context.Services.Values)
            {
                if (s.Client || !s.InService || s.Virtual is not { } vip || s.Server is not { } server) continue;
                if (s.CertificateTrustpoint is not { } tpName || !config.Trustpoints.TryGetValue(tpName, out var tp)) continue;
                if (tp.RsaKeyPair is not { } keyFile || tp.Chain.FirstOrDefault(c => !c.Ca) is not { } leaf) continue;
                var name = s.Name + suffix;
                var key = tp.Name + "@key";
                var cert = tp.Name + "@cert";
                var policy = s.HeaderPolicy is { } p ? context.HeaderPolicies.GetValueOrDefault(p) : null;
                var auth = ClientAuthSettings.Default;
                if (s.TrustedCa is { } poolName)
                {
                    // Fail closed: a service that names a pool is never served without client authentication.
                    if (!context.Pools.TryGetValue(poolName, out var pool) || pool.Entries.Any(e => e.MatchMap is not null)) continue;
                    var cas = new List<string>();
                    foreach (var entry in pool.Entries)
                    {
                        if (!config.Trustpoints.TryGetValue(entry.Trustpoint, out var caTp)) continue;
                        foreach (var c in caTp.Chain.Where(c => c.Ca))
                        {
                            var ca = $"{caTp.Name}@ca{c.Serial}";
                            associations = associations.SetItem(ca, new KeyAssociation(AssociationKind.Cert, ca, StoreFile(c.File)));
                            cas.Add(ca);
                        }
                    }

                    if (cas.Count == 0) continue;

                    // The revocation order of the pool's first trustpoint: the SSLM checks a certificate by the trustpoint
                    // that issued it; one order per service is what the runtime holds.
                    var first = pool.Entries.Select(e => config.Trustpoints.GetValueOrDefault(e.Trustpoint)).FirstOrDefault(t => t is not null);
                    auth = auth with
                    {
                        Enabled = true,
                        CaCerts = new ValueList<string>(cas.Distinct()),
                        Failure = policy switch
                        {
                            { AllowAuthFailures: true } => ClientAuthFailureAction.Ignore,
                            { AllowRevokedCerts: true } => ClientAuthFailureAction.IgnoreRevoked,
                            _ => ClientAuthFailureAction.Reject,
                        },
                        Revocation = first?.Revocation.Where(m => m != RevocationMethod.Crl).ToValueList() ?? ValueList<RevocationMethod>.Empty,
                        OcspUrl = first?.OcspUrl,
                    };
                    if (auth.Revocation.Count == 0) auth = auth with { Revocation = ValueList<RevocationMethod>.Empty.Add(RevocationMethod.None) };
                }

                // Only a service that is lowered names the store files: a skipped one (above) leaves none behind.
                associations = associations
                    .SetItem(key, new KeyAssociation(AssociationKind.RsaKey, key, keyFile))
                    .SetItem(cert, new KeyAssociation(AssociationKind.Cert, cert, StoreFile(leaf.File)));
                auth = auth with { LogFailures = s.LogAuthFailures };
                var sslServer = new SslServer(1)
                {
                    RsaKey = key,
                    RsaCert = cert,
                    VipAddress = vip.Address,
                    Port = vip.Port,
                    Ciphers = ValueList<CipherEntry>.Empty.Add(new CipherEntry("all-cipher-suites", server.Address, server.Port)),
                    ClientAuth = auth,
                    HttpHeaders = policy is null ? HttpHeaderSettings.None : new HttpHeaderSettings
                    {
                        ClientCert = policy.ClientCert,
                        Session = policy.Session,
                        Prefix = policy.Prefix,
                        Static = policy.Custom,
                        ClientIpPort = policy.ClientIpPort,
                        Aliases = policy.Aliases,
                    },
                };
                lists = lists.SetItem(name, new SslProxyList(name) { State = AdminState.Active, SslServers = ValueMap<int, SslServer>.Empty.SetItem(1, sslServer) });
                services = services.SetItem(name, new Service(name) { Type = ServiceType.SslAccel, ProxyList = name, State = AdminState.Active });
                owner = owner with
                {
                    Contents = owner.Contents.SetItem(name, new ContentRule(name)
                    {
                        VipAddress = vip.Address,
                        Port = vip.Port,
                        Protocol = ContentProtocol.Tcp,
                        Services = ValueList<string>.Empty.Add(name),
                        State = AdminState.Active,
                    }),
                };
            }

            if (owner.Contents.Count > 0) owners = owners.SetItem(owner.Name, owner);
        }

        return config with { Associations = associations, ProxyLists = lists, Services = services, Owners = owners };
    }

    /// <summary>The store file a chain line names: the module's <c>nvram:</c> (or <c>disk0:</c>) start is the store itself.</summary>
    public static string StoreFile(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var colon = file.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && file[..colon] is "nvram" or "disk0" or "bootflash" ? file[(colon + 1)..] : file;
    }

    private static ValueList<T> ToValueList<T>(this IEnumerable<T> items) => new(items);
}
