namespace SslCluster.Protocol.Config;

/// <summary>
/// Turns the SSLM face into the objects the runtime serves. Each in-service server proxy service becomes a module (an
/// ssl-accel service) with its own proxy list (one ssl-server: the virtual address, the trustpoint's key and
/// certificate, every modern suite towards the server address, the header policy, client authentication by the CA
/// pool) and a content rule on the virtual address. Each in-service client proxy service (SSL initiation) becomes a
/// module whose proxy list holds one backend-server of type initiation (clear text picked up on the virtual address,
/// TLS to the server, the trustpoint's certificate presented when the server asks, the server checked against the CA
/// pool), an ssl-init service on the virtual address, and a content rule that relays the clear text to it. The
/// configuration itself keeps the SSLM objects (it prints back in the SSLM face); only the runtime plan and the node's
/// modules see the lowered ones. Lowering is idempotent.
/// </summary>
/// <remarks>
/// Lowered names end in <c>@CONTEXT</c>, a character no configured name may hold, so they never meet a CSS object. The
/// module of a service carries its name, so <c>show ssl flows</c> and the SSLM statistics count a service under it.
/// </remarks>
public static class SslmLowering
{
    /// <summary>What the lowered objects' names end with: the context, after a character no configured name holds.</summary>
    public static string Suffix(string context) => "@" + context;

    /// <summary>The module (and lowered proxy list, service and rule) of service <paramref name="service"/> of a context.</summary>
    public static string ModuleOf(string context, string service) => service + Suffix(context);

    /// <summary>Whether <paramref name="module"/> is the module of a service of <paramref name="context"/>.</summary>
    public static bool InContext(string module, string context) => module.EndsWith(Suffix(context), StringComparison.Ordinal);

    /// <summary>
    /// The services called <paramref name="name"/>: <c>NAME</c> in any context, or <c>NAME@CONTEXT</c> in that one
    /// (how an operator names a service whose name several contexts use).
    /// </summary>
    public static IReadOnlyList<(SslmContext Context, SslmService Service)> ServicesNamed(RunningConfig config, string name)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(name);
        var at = name.IndexOf('@', StringComparison.Ordinal);
        var (wanted, context) = at > 0 ? (name[..at], name[(at + 1)..]) : (name, null);
        return [.. config.Contexts.Values
            .Where(c => context is null || c.Name == context)
            .Select(c => (Context: c, Service: c.Services.GetValueOrDefault(wanted)))
            .Where(x => x.Service is not null)
            .Select(x => (x.Context, x.Service!))];
    }

    /// <summary>The name of the ssl-init service a client proxy service lowers to (its module has the service's name).</summary>
    public static string InitiationService(string lowered) => lowered + "/init";

    /// <summary>The configuration with every in-service proxy service added as CSS objects.</summary>
    public static RunningConfig Lower(RunningConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Contexts.Count == 0) return config;
        var lowered = new Lowered(config);
        foreach (var context in config.Contexts.Values)
        {
            var owner = lowered.Owners.GetValueOrDefault("sslm" + Suffix(context.Name)) ?? new Owner("sslm" + Suffix(context.Name));
            foreach (var s in context.Services.Values)
            {
                if (!s.InService || s.Virtual is not { } vip || s.Server is not { } server) continue;
                var name = ModuleOf(context.Name, s.Name);
                var rule = s.Client ? lowered.Client(context, s, name, vip, server) : lowered.Server(context, s, name, vip, server);
                if (rule is not null) owner = owner with { Contents = owner.Contents.SetItem(name, rule with { Context = context.Name }) };
            }

            if (owner.Contents.Count > 0) lowered.Owners = lowered.Owners.SetItem(owner.Name, owner);
        }

        return config with { Associations = lowered.Associations, ProxyLists = lowered.Lists, Services = lowered.Services, Owners = lowered.Owners };
    }

    /// <summary>The CSS objects being added, and how each kind of service becomes them.</summary>
    private sealed class Lowered(RunningConfig config)
    {
        public ValueMap<string, KeyAssociation> Associations { get; private set; } = config.Associations;

        public ValueMap<string, SslProxyList> Lists { get; private set; } = config.ProxyLists;

        public ValueMap<string, Service> Services { get; private set; } = config.Services;

        public ValueMap<string, Owner> Owners { get; set; } = config.Owners;

        public ContentRule? Server(SslmContext context, SslmService s, string name, SslmEndpoint vip, SslmEndpoint server)
        {
            if (Identity(s) is not { } identity) return null;
            var policy = s.HeaderPolicy is { } p ? context.HeaderPolicies.GetValueOrDefault(p) : null;
            var auth = ClientAuthSettings.Default;
            if (s.TrustedCa is { } poolName)
            {
                // Fail closed: a service that names a pool is never served without client authentication.
                if (!context.Pools.TryGetValue(poolName, out var pool)) return null;
                if (PoolCas(pool) is not { Count: > 0 } cas) return null;
                if (Maps(pool) is not { } maps) return null;

                // The revocation order of the pool's first trustpoint: the SSLM checks a certificate by the trustpoint
                // that issued it; one order per service is what the runtime holds.
                var first = pool.Entries.Select(e => config.Trustpoints.GetValueOrDefault(e.Trustpoint)).FirstOrDefault(t => t is not null);
                auth = auth with
                {
                    Enabled = true,
                    CaCerts = cas,
                    Failure = policy switch
                    {
                        { AllowAuthFailures: true } => ClientAuthFailureAction.Ignore,
                        { AllowRevokedCerts: true } => ClientAuthFailureAction.IgnoreRevoked,
                        _ => ClientAuthFailureAction.Reject,
                    },
                    Revocation = first?.Revocation ?? ValueList<RevocationMethod>.Empty,
                    OcspUrl = first?.OcspUrl,
                    Authorizations = maps,
                    CertTrim = s.CertTrim,
                };
                if (auth.Revocation.Count == 0) auth = auth with { Revocation = ValueList<RevocationMethod>.Empty.Add(RevocationMethod.None) };
            }

            // Only a service that is lowered names the store files: a skipped one (above) leaves none behind.
            var (key, cert) = Associate(identity);
            auth = auth with { LogFailures = s.LogAuthFailures };
            var sslServer = new SslServer(1)
            {
                RsaKey = key,
                RsaCert = cert,
                VipAddress = vip.Address,
                Port = vip.Port,
                Ciphers = ValueList<CipherEntry>.Empty.Add(new CipherEntry("all-cipher-suites", server.Address, server.Port)),
                ClientAuth = auth,
                SendProxyV2 = policy?.SendProxyV2 ?? false,
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
            Lists = Lists.SetItem(name, new SslProxyList(name) { State = AdminState.Active, SslServers = ValueMap<int, SslServer>.Empty.SetItem(1, sslServer) });
            Services = Services.SetItem(name, new Service(name) { Type = ServiceType.SslAccel, ProxyList = name, State = AdminState.Active });
            return Rule(name, vip, name);
        }

        /// <summary>
        /// A client proxy service: clear text on the virtual address goes out as TLS to the server. Without a CA pool
        /// the server is not verified (the SSLM's own behaviour; the validator warns); with one, its chain must end at a
        /// CA of the pool, and under <c>authenticate verify all</c> (the default) its dates and the server's address
        /// are checked too.
        /// </summary>
        public ContentRule? Client(SslmContext context, SslmService s, string name, SslmEndpoint vip, SslmEndpoint server)
        {
            // The SSLM inserts a client service's non-certificate headers (release notes 3.1, CSCin67360); the
            // validator refuses client-cert and session there.
            var policy = s.HeaderPolicy is { } p ? context.HeaderPolicies.GetValueOrDefault(p) : null;
            if (s.HeaderPolicy is not null && (policy is null || policy.ClientCert != ClientCertFields.None || policy.Session)) return null;
            (string KeyFile, PkiTrustpoint Trustpoint, PkiChainCertificate Leaf)? identity = null;
            if (s.CertificateTrustpoint is not null)
            {
                if (Identity(s) is not { } own) return null;
                identity = own;
            }

            var cas = ValueList<string>.Empty;
            if (s.TrustedCa is { } poolName)
            {
                // Fail closed: a service told to verify its server is never run without the CAs to do it.
                if (!context.Pools.TryGetValue(poolName, out var pool) || PoolCas(pool) is not { Count: > 0 } found) return null;
                cas = found;
            }

            var (key, cert) = identity is { } i ? Associate(i) : (null, null);
            var backend = new BackendServer(1)
            {
                Type = BackendServerType.Initiation,
                IpAddress = vip.Address,
                Port = vip.Port,
                ServerIp = server.Address,
                ServerPort = server.Port,
                Ciphers = ValueList<string>.Empty.Add("all-cipher-suites"),
                RsaKey = key,
                RsaCert = cert,
                PoolCaCerts = cas,
                SignatureOnly = s.Verify == SslmVerify.SignatureOnly,
            };
            var init = InitiationService(name);
            Lists = Lists.SetItem(name, new SslProxyList(name) { State = AdminState.Active, BackendServers = ValueMap<int, BackendServer>.Empty.SetItem(1, backend) });
            Services = Services
                .SetItem(name, new Service(name) { Type = ServiceType.SslAccel, ProxyList = name, State = AdminState.Active })
                .SetItem(init, new Service(init) { Type = ServiceType.SslInit, IpAddress = vip.Address, Port = vip.Port, ProxyList = name, State = AdminState.Active });
            return Rule(name, vip, init) with
            {
                RelayHeaders = policy is null ? null : new HttpHeaderSettings
                {
                    Static = policy.Custom,
                    ClientIpPort = policy.ClientIpPort,
                    Prefix = policy.Prefix,
                    Aliases = policy.Aliases,
                },
            };
        }

        /// <summary>The trustpoint's key file and own certificate line, or null when the service names none usable.</summary>
        private (string KeyFile, PkiTrustpoint Trustpoint, PkiChainCertificate Leaf)? Identity(SslmService s) =>
            s.CertificateTrustpoint is { } tpName && config.Trustpoints.TryGetValue(tpName, out var tp) &&
            tp.RsaKeyPair is { } keyFile && tp.Chain.FirstOrDefault(c => !c.Ca) is { } leaf
                ? (keyFile, tp, leaf)
                : null;

        private (string Key, string Cert) Associate((string KeyFile, PkiTrustpoint Trustpoint, PkiChainCertificate Leaf) identity)
        {
            var key = identity.Trustpoint.Name + "@key";
            var cert = identity.Trustpoint.Name + "@cert";
            Associations = Associations
                .SetItem(key, new KeyAssociation(AssociationKind.RsaKey, key, identity.KeyFile))
                .SetItem(cert, new KeyAssociation(AssociationKind.Cert, cert, StoreFile(identity.Leaf.File)));
            return (key, cert);
        }

        /// <summary>
        /// The certificate maps of a pool's <c>match map</c> entries, by the lowered name of each CA certificate of the
        /// entry's trustpoint; null (fail closed: the service is not lowered) when a named map does not exist.
        /// </summary>
        private ValueMap<string, PkiCertificateMap>? Maps(SslmCaPool pool)
        {
            var maps = ValueMap<string, PkiCertificateMap>.Empty;
            foreach (var entry in pool.Entries)
            {
                if (entry.MatchMap is not { } name || !config.Trustpoints.TryGetValue(entry.Trustpoint, out var caTp)) continue;
                if (!config.CertificateMaps.TryGetValue(name, out var map)) return null;
                foreach (var c in caTp.Chain.Where(c => c.Ca)) maps = maps.SetItem(CaName(caTp, c), map);
            }

            return maps;
        }

        private static string CaName(PkiTrustpoint trustpoint, PkiChainCertificate certificate) => $"{trustpoint.Name}@ca{certificate.Serial}";

        /// <summary>The CA certificates of a pool's trustpoints, associated under lowered names.</summary>
        private ValueList<string> PoolCas(SslmCaPool pool)
        {
            var cas = new List<string>();
            foreach (var entry in pool.Entries)
            {
                if (!config.Trustpoints.TryGetValue(entry.Trustpoint, out var caTp)) continue;
                foreach (var c in caTp.Chain.Where(c => c.Ca))
                {
                    var ca = CaName(caTp, c);
                    Associations = Associations.SetItem(ca, new KeyAssociation(AssociationKind.Cert, ca, StoreFile(c.File)));
                    cas.Add(ca);
                }
            }

            return new ValueList<string>(cas.Distinct());
        }

        private static ContentRule Rule(string name, SslmEndpoint vip, string service) => new(name)
        {
            VipAddress = vip.Address,
            Port = vip.Port,
            Protocol = ContentProtocol.Tcp,
            Services = ValueList<string>.Empty.Add(service),
            State = AdminState.Active,
        };
    }

    /// <summary>The store file a chain line names: the module's <c>nvram:</c> (or <c>disk0:</c>) start is the store itself.</summary>
    public static string StoreFile(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var colon = file.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && file[..colon] is "nvram" or "disk0" or "bootflash" ? file[(colon + 1)..] : file;
    }

}
