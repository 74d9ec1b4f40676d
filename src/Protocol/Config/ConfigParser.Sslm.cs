namespace SslCluster.Protocol.Config;

public static partial class ConfigParser
{
    private sealed partial class Session
    {
        // ------------------------------------------------------------------ the SSL Services Module face

        private static readonly string[] SslProxyWords = ["context", "service", "policy", "pool", "natpool", "vlan", "mac-address"];
        private static readonly string[] ContextWords = ["maxconns", "service", "policy", "pool", "natpool", "no", "exit"];
        private static readonly string[] SslmServiceWords =
            ["virtual", "server", "certificate", "trusted-ca", "authenticate", "policy", "nat", "log-auth-failures", "cert-trim", "inservice", "no", "exit"];
        private static readonly string[] HeaderPolicyWords =
            ["client-cert", "session", "client-ip-port", "custom", "alias", "prefix", "subject-name", "allow-auth-failures", "allow-revoked-certs", "send-proxy-v2", "no", "exit"];
        private static readonly string[] PoolWords = ["ca", "no", "exit"];
        private static readonly string[] TrustpointWords = ["enrollment", "rsakeypair", "revocation-check", "ocsp", "min-chain-length", "crl", "no", "exit"];
        private static readonly string[] ChainWords = ["certificate", "no", "exit"];
        private static readonly string[] CertificateMapWords = ["subject-name", "issuer-name", "no", "exit"];
        private static readonly string[] PolicyKinds = ["http-header", "ssl", "tcp", "url-rewrite"];

        /// <summary>The context the object being configured belongs to.</summary>
        private string _context = SslmContext.DefaultName;

        /// <summary>The proxy service, policy or pool being configured was opened by a 2.1 'ssl-proxy' line (its parent is global).</summary>
        private bool _legacyBlock;

        /// <summary>The sequence of the certificate map being configured.</summary>
        private int _mapSequence;

        private SslmContext Context => Config.Contexts[_context];

        private void SetContext(SslmContext context) =>
            Config = Config with { Contexts = Config.Contexts.SetItem(context.Name, context) };

        /// <summary>The context named, created when it does not exist yet.</summary>
        private SslmContext EnsureContext(string name)
        {
            if (!Config.Contexts.TryGetValue(name, out var context))
            {
                context = new SslmContext(name);
                SetContext(context);
            }

            return context;
        }

        /// <summary>
        /// <c>ssl-proxy context NAME</c>, and the SSLM 2.1 forms <c>ssl-proxy service|policy|pool|natpool ...</c>, which
        /// the 3.1 upgrade puts into context Default (release notes, Table 3).
        /// </summary>
        private void RunSslProxy(IReadOnlyList<string> w)
        {
            if (w.Count < 2) throw new LineException(w[0], $"incomplete command; write 'ssl-proxy context NAME' (or {string.Join(", ", SslProxyWords.Skip(1))})");
            var what = w[1].ToLowerInvariant();
            switch (what)
            {
                case "context":
                    Arity(w, 3, 3, "ssl-proxy context NAME");
                    EnsureContext(Name(w[2], "context"));
                    _context = w[2];
                    _legacyBlock = false;
                    Enter(Mode.SslmContext, w[2]);
                    return;
                case "service" or "policy" or "pool" or "natpool":
                    // A 2.1 block stands at the global level: the line after it that its block does not know goes back
                    // there (a CSS 'service NAME' must not become a proxy service of context Default).
                    EnsureContext(SslmContext.DefaultName);
                    _context = SslmContext.DefaultName;
                    _mode = Mode.SslmContext;
                    _legacyBlock = true;
                    RunContext(what, [.. w.Skip(1)]);
                    if (_mode == Mode.SslmContext) _mode = Mode.Global;
                    return;
                case "vlan":
                    // The 2.1 VLAN block (ipaddr, gateway, route, admin lines): hardware.
                    NotApplicable(string.Join(' ', w));
                    _mode = Mode.Hardware;
                    return;
                case "mac-address":
                    NotApplicable(string.Join(' ', w));
                    return;
                default:
                    throw new LineException(w[1], $"unknown 'ssl-proxy' command{Suggest.DidYouMean(what, SslProxyWords)} (commands: {string.Join(", ", SslProxyWords)})");
            }
        }

        private void RunContext(string first, IReadOnlyList<string> w)
        {
            switch (first)
            {
                case "maxconns":
                    Arity(w, 2, 2, "maxconns N");
                    SetContext(Context with { MaxConns = Number(w[1], 1, SslmContext.MaxConnsLimit, "maxconns") });
                    return;
                case "service":
                    Arity(w, 2, 3, "service NAME [client]");
                    var name = Name(w[1], "proxy service");
                    var client = w.Count == 3 && (w[2].Equals("client", StringComparison.OrdinalIgnoreCase)
                        ? true : throw new LineException(w[2], "write 'service NAME' for a server proxy service or 'service NAME client' for a client one"));
                    if (Context.Services.TryGetValue(name, out var existing))
                    {
                        if (existing.Client != client)
                            throw new LineException(w[1], $"proxy service '{name}' is a {(existing.Client ? "client" : "server")} service; remove it first with 'no service {name}' to make it a {(client ? "client" : "server")} one");
                    }
                    else
                    {
                        SetContext(Context with { Services = Context.Services.SetItem(name, new SslmService(name) { Client = client }) });
                    }
                    Enter(Mode.SslmService, name);
                    return;
                case "policy":
                    var policy = HeaderPolicyName(w);
                    if (!Context.HeaderPolicies.ContainsKey(policy))
                        SetContext(Context with { HeaderPolicies = Context.HeaderPolicies.SetItem(policy, new SslmHeaderPolicy(policy)) });
                    Enter(Mode.SslmHeaderPolicy, policy);
                    return;
                case "pool":
                    Arity(w, 3, 3, "pool ca NAME");
                    if (!w[1].Equals("ca", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[1], "write 'pool ca NAME'");
                    var pool = Name(w[2], "CA pool");
                    if (!Context.Pools.ContainsKey(pool))
                        SetContext(Context with { Pools = Context.Pools.SetItem(pool, new SslmCaPool(pool)) });
                    Enter(Mode.SslmPool, pool);
                    return;
                case "natpool":
                    Arity(w, 6, 6, "natpool NAME START-IP END-IP netmask MASK");
                    if (!w[4].Equals("netmask", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[4], "write 'natpool NAME START-IP END-IP netmask MASK'");
                    var nat = new SslmNatPool(Name(w[1], "NAT pool"), Address(w[2]), Address(w[3]), Address(w[5]));
                    SetContext(Context with { NatPools = Context.NatPools.SetItem(nat.Name, nat) });
                    return;
                case "no":
                    RunContextNo(w);
                    return;
            }
        }

        private void RunContextNo(IReadOnlyList<string> w)
        {
            var what = w[1].ToLowerInvariant();
            switch (what)
            {
                case "maxconns":
                    Arity(w, 2, 3, "no maxconns");
                    SetContext(Context with { MaxConns = null });
                    return;
                case "service":
                    Arity(w, 3, 4, "no service NAME");
                    SetContext(Context with { Services = Context.Services.Remove(Existing(Context.Services, w[2], "proxy service")) });
                    return;
                case "policy":
                    Arity(w, 4, 4, "no policy http-header NAME");
                    if (!w[2].Equals("http-header", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[2], "write 'no policy http-header NAME'");
                    SetContext(Context with { HeaderPolicies = Context.HeaderPolicies.Remove(Existing(Context.HeaderPolicies, w[3], "http-header policy")) });
                    return;
                case "pool":
                    Arity(w, 4, 4, "no pool ca NAME");
                    if (!w[2].Equals("ca", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[2], "write 'no pool ca NAME'");
                    SetContext(Context with { Pools = Context.Pools.Remove(Existing(Context.Pools, w[3], "CA pool")) });
                    return;
                case "natpool":
                    Arity(w, 3, 7, "no natpool NAME");
                    SetContext(Context with { NatPools = Context.NatPools.Remove(Existing(Context.NatPools, w[2], "NAT pool")) });
                    return;
                default:
                    throw new LineException(w[1], $"write 'no service|policy|pool|natpool|maxconns ...'{Suggest.DidYouMean(what, ContextWords)}");
            }
        }

        /// <summary><c>policy http-header NAME</c> (defining one in a context, attaching one in a service): the name.</summary>
        private static string HeaderPolicyName(IReadOnlyList<string> w)
        {
            Arity(w, 3, 3, "policy http-header NAME");
            var kind = w[1].ToLowerInvariant();
            if (kind != "http-header")
                throw new LineException(w[1], PolicyKinds.Contains(kind)
                    ? $"'policy {kind}' is not supported by this release; what can be: policy http-header NAME"
                    : $"unknown policy kind{Suggest.DidYouMean(kind, PolicyKinds)}; write 'policy http-header NAME'");
            return Name(w[2], "policy");
        }

        // ------------------------------------------------------------------ proxy service

        private SslmService SslmSvc => Context.Services[_object];

        private void SetSslmService(SslmService service) =>
            SetContext(Context with { Services = Context.Services.SetItem(service.Name, service) });

        private void RunSslmService(string first, IReadOnlyList<string> w)
        {
            var s = SslmSvc;
            switch (first)
            {
                case "virtual":
                    if (w.Count > 1 && w[1].Equals("policy", StringComparison.OrdinalIgnoreCase))
                        throw new LineException(w[1], "'virtual policy ssl|tcp' is not supported by this release: the TLS versions and suites are the node's strong defaults");
                    SetSslmService(s with { Virtual = Endpoint(w, "virtual", allowSecondary: true) });
                    return;
                case "server":
                    if (w.Count > 1 && w[1].Equals("policy", StringComparison.OrdinalIgnoreCase))
                        throw new LineException(w[1], "'server policy ssl|tcp' is not supported by this release");
                    SetSslmService(s with { Server = Endpoint(w, "server", allowSecondary: false) });
                    return;
                case "certificate":
                    const string usage = "certificate rsa general-purpose trustpoint NAME";
                    Arity(w, 5, 5, usage);
                    if (!w[1].Equals("rsa", StringComparison.OrdinalIgnoreCase) || !w[2].Equals("general-purpose", StringComparison.OrdinalIgnoreCase) ||
                        !w[3].Equals("trustpoint", StringComparison.OrdinalIgnoreCase))
                        throw new LineException(w[1], $"write '{usage}'");
                    SetSslmService(s with { CertificateTrustpoint = Name(w[4], "trustpoint") });
                    return;
                case "trusted-ca":
                    Arity(w, 2, 2, "trusted-ca POOL");
                    SetSslmService(s with { TrustedCa = Name(w[1], "CA pool") });
                    return;
                case "authenticate":
                    Arity(w, 3, 3, "authenticate verify all|signature-only");
                    if (!w[1].Equals("verify", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[1], "write 'authenticate verify all|signature-only'");
                    SetSslmService(s with
                    {
                        Verify = w[2].ToLowerInvariant() switch
                        {
                            "all" => SslmVerify.All,
                            "signature-only" => SslmVerify.SignatureOnly,
                            var v => throw new LineException(w[2], "write 'all' or 'signature-only'" + Suggest.DidYouMean(v, ["all", "signature-only"])),
                        },
                    });
                    return;
                case "policy":
                    SetSslmService(s with { HeaderPolicy = HeaderPolicyName(w) });
                    return;
                case "nat":
                    if (w.Count == 3 && w[1].Equals("client", StringComparison.OrdinalIgnoreCase))
                    {
                        SetSslmService(s with { NatClient = Name(w[2], "NAT pool") });
                        return;
                    }
                    if (w.Count == 2 && w[1].Equals("server", StringComparison.OrdinalIgnoreCase))
                    {
                        SetSslmService(s with { NatServer = true });
                        return;
                    }
                    throw new LineException(w.Count > 1 ? w[1] : w[0], "write 'nat client POOL' or 'nat server'");
                case "log-auth-failures":
                    Arity(w, 1, 1, "log-auth-failures");
                    SetSslmService(s with { LogAuthFailures = true });
                    return;
                case "cert-trim":
                    Arity(w, 1, 1, "cert-trim");
                    SetSslmService(s with { CertTrim = true });
                    return;
                case "inservice":
                    Arity(w, 1, 1, "inservice");
                    SetSslmService(s with { InService = true });
                    return;
                case "no":
                    SetSslmService(SslmServiceNo(s, w));
                    return;
            }
        }

        private static SslmService SslmServiceNo(SslmService s, IReadOnlyList<string> w)
        {
            var what = w[1].ToLowerInvariant();
            return what switch
            {
                "virtual" => s with { Virtual = null },
                "server" => s with { Server = null },
                "certificate" => s with { CertificateTrustpoint = null },
                "trusted-ca" => s with { TrustedCa = null },
                "authenticate" => s with { Verify = null },
                "policy" => s with { HeaderPolicy = null },
                "nat" when w.Count > 2 && w[2].Equals("server", StringComparison.OrdinalIgnoreCase) => s with { NatServer = false },
                "nat" => s with { NatClient = null },
                "log-auth-failures" => s with { LogAuthFailures = false },
                "cert-trim" => s with { CertTrim = false },
                "inservice" => s with { InService = false },
                _ => throw new LineException(w[1], $"unknown proxy service option{Suggest.DidYouMean(what, SslmServiceWords)}"),
            };
        }

        /// <summary><c>virtual|server ipaddr IP protocol tcp port N [secondary]</c>.</summary>
        private static SslmEndpoint Endpoint(IReadOnlyList<string> w, string side, bool allowSecondary)
        {
            var usage = $"{side} ipaddr IP protocol tcp port N" + (allowSecondary ? " [secondary]" : "");
            Arity(w, 7, allowSecondary ? 8 : 7, usage);
            if (!w[1].Equals("ipaddr", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[1], $"write '{usage}'");
            if (!w[3].Equals("protocol", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[3], $"write '{usage}'");
            if (!w[4].Equals("tcp", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[4], "a proxy service speaks TCP: write 'protocol tcp'");
            if (!w[5].Equals("port", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[5], $"write '{usage}'");
            var secondary = w.Count == 8 && (w[7].Equals("secondary", StringComparison.OrdinalIgnoreCase)
                ? true : throw new LineException(w[7], $"unexpected word; write '{usage}'"));
            return new SslmEndpoint(Address(w[2]), Port(w[6]), secondary);
        }

        // ------------------------------------------------------------------ policy http-header

        private SslmHeaderPolicy HeaderPolicy => Context.HeaderPolicies[_object];

        private void SetHeaderPolicy(SslmHeaderPolicy policy) =>
            SetContext(Context with { HeaderPolicies = Context.HeaderPolicies.SetItem(policy.Name, policy) });

        private void RunHeaderPolicy(string first, IReadOnlyList<string> w)
        {
            var p = HeaderPolicy;
            switch (first)
            {
                case "client-cert":
                    Arity(w, 1, 2, "client-cert [basic | pem]");
                    SetHeaderPolicy(p with
                    {
                        ClientCert = w.Count == 1 ? ClientCertFields.All : w[1].ToLowerInvariant() switch
                        {
                            "basic" => ClientCertFields.Basic,
                            "pem" => ClientCertFields.Pem,
                            var other => throw new LineException(w[1], $"'{w[1]}' is not a client-cert option{Suggest.DidYouMean(other, ClientCertWords)}; write 'client-cert', 'client-cert basic' or 'client-cert pem'"),
                        },
                    });
                    return;
                case "session" or "client-ip-port" or "subject-name" or "allow-auth-failures" or "allow-revoked-certs" or "send-proxy-v2":
                    Arity(w, 1, 1, first);
                    SetHeaderPolicy(first switch
                    {
                        "session" => p with { Session = true },
                        "send-proxy-v2" => p with { SendProxyV2 = true },
                        "client-ip-port" => p with { ClientIpPort = true },
                        "subject-name" => p with { SubjectName = true },
                        "allow-auth-failures" => p with { AllowAuthFailures = true },
                        _ => p with { AllowRevokedCerts = true },
                    });
                    return;
                case "custom":
                    Arity(w, 2, 2, "custom \"NAME:VALUE\"");
                    var line = StaticLine(w[1]);
                    var name = HttpHeaderSettings.StaticName(line);
                    var index = LineIndex(p.Custom, name);
                    if (index >= 0)
                    {
                        SetHeaderPolicy(p with { Custom = p.Custom.SetItem(index, line) });
                        return;
                    }
                    if (p.Custom.Count >= HttpHeaderSettings.MaxStatic)
                        throw new LineException(w[1], $"policy {p.Name} already inserts {HttpHeaderSettings.MaxStatic} custom headers, the most it can");
                    SetHeaderPolicy(p with { Custom = p.Custom.Add(line) });
                    return;
                case "alias":
                    Arity(w, 3, 3, "alias STANDARD-NAME ALIAS");
                    var (standard, alias) = AliasPair(w[1], w[2]);
                    SetHeaderPolicy(p with { Aliases = p.Aliases.SetItem(standard, alias) });
                    return;
                case "prefix":
                    Arity(w, 2, 2, "prefix \"TEXT\"");
                    SetHeaderPolicy(p with { Prefix = Prefix(w[1]) });
                    return;
                case "no":
                    SetHeaderPolicy(HeaderPolicyNo(p, w));
                    return;
            }
        }

        private static SslmHeaderPolicy HeaderPolicyNo(SslmHeaderPolicy p, IReadOnlyList<string> w)
        {
            var what = w[1].ToLowerInvariant();
            switch (what)
            {
                case "client-cert": return p with { ClientCert = ClientCertFields.None };
                case "session": return p with { Session = false };
                case "client-ip-port": return p with { ClientIpPort = false };
                case "subject-name": return p with { SubjectName = false };
                case "allow-auth-failures": return p with { AllowAuthFailures = false };
                case "allow-revoked-certs": return p with { AllowRevokedCerts = false };
                case "send-proxy-v2": return p with { SendProxyV2 = false };
                case "prefix": return p with { Prefix = null };
                case "custom":
                    Arity(w, 3, 3, "no custom NAME");
                    var name = HttpHeaderSettings.StaticName(w[2]);
                    var index = LineIndex(p.Custom, name);
                    if (index < 0) throw new LineException(w[2], $"policy {p.Name} inserts no custom header named '{name}'");
                    return p with { Custom = p.Custom.Remove(p.Custom[index]) };
                case "alias":
                    Arity(w, 3, 4, "no alias STANDARD-NAME");
                    var standard = Http.HttpHeaderFields.CanonicalName(w[2]);
                    if (!p.Aliases.ContainsKey(standard)) throw new LineException(w[2], $"policy {p.Name} has no alias for '{w[2]}'");
                    return p with { Aliases = p.Aliases.Remove(standard) };
                default:
                    throw new LineException(w[1], $"unknown http-header policy option{Suggest.DidYouMean(what, HeaderPolicyWords)}");
            }
        }

        // ------------------------------------------------------------------ pool ca

        private void RunPool(string first, IReadOnlyList<string> w)
        {
            var pool = Context.Pools[_object];
            var no = first == "no";
            var words = no ? w.Skip(1).ToList() : [.. w];
            var usage = no ? "no ca trustpoint NAME" : "ca trustpoint NAME [match map MAP]";
            if (words.Count < 3 || !words[0].Equals("ca", StringComparison.OrdinalIgnoreCase) || !words[1].Equals("trustpoint", StringComparison.OrdinalIgnoreCase))
                throw new LineException(w[^1], $"write '{usage}'");
            var trustpoint = Name(words[2], "trustpoint");
            var at = pool.Entries.ToList().FindIndex(e => e.Trustpoint.Equals(trustpoint, StringComparison.Ordinal));
            if (no)
            {
                if (at < 0) throw new LineException(words[2], $"pool {pool.Name} holds no trustpoint '{trustpoint}'");
                pool = pool with { Entries = pool.Entries.Remove(pool.Entries[at]) };
            }
            else
            {
                string? map = null;
                if (words.Count != 3)
                {
                    if (words.Count != 6 || !words[3].Equals("match", StringComparison.OrdinalIgnoreCase) || !words[4].Equals("map", StringComparison.OrdinalIgnoreCase))
                        throw new LineException(words[3], $"write '{usage}'");
                    map = Name(words[5], "certificate map");
                }
                var entry = new SslmPoolEntry(trustpoint, map);
                if (at < 0 && pool.Entries.Count >= SslmPoolLimit)
                    throw new LineException(words[2], $"pool {pool.Name} already holds {SslmPoolLimit} trustpoints, the most it can");
                pool = pool with { Entries = at >= 0 ? pool.Entries.SetItem(at, entry) : pool.Entries.Add(entry) };
            }
            SetContext(Context with { Pools = Context.Pools.SetItem(pool.Name, pool) });
        }

        private const int SslmPoolLimit = 16;

        // ------------------------------------------------------------------ crypto pki

        /// <summary><c>crypto pki|ca trustpoint NAME</c>, <c>crypto pki|ca certificate chain NAME</c>, <c>crypto pki certificate map NAME SEQ</c>.</summary>
        private void RunCrypto(IReadOnlyList<string> w)
        {
            const string usage = "crypto pki trustpoint NAME, crypto pki certificate chain NAME or crypto pki certificate map NAME SEQUENCE";
            if (w.Count < 3 || !(w[1].Equals("pki", StringComparison.OrdinalIgnoreCase) || w[1].Equals("ca", StringComparison.OrdinalIgnoreCase)))
                throw new LineException(w.Count > 1 ? w[1] : w[0], $"write '{usage}'");
            var what = w[2].ToLowerInvariant();
            if (what == "trustpoint")
            {
                Arity(w, 4, 4, "crypto pki trustpoint NAME");
                var name = Name(w[3], "trustpoint");
                if (!Config.Trustpoints.ContainsKey(name))
                    Config = Config with { Trustpoints = Config.Trustpoints.SetItem(name, new PkiTrustpoint(name)) };
                Enter(Mode.Trustpoint, name);
                return;
            }
            if (what == "certificate" && w.Count > 3 && w[3].Equals("chain", StringComparison.OrdinalIgnoreCase))
            {
                Arity(w, 5, 5, "crypto pki certificate chain NAME");
                var name = Name(w[4], "trustpoint");
                if (!Config.Trustpoints.ContainsKey(name))
                    throw new LineException(w[4], $"there is no trustpoint named '{name}'{Suggest.DidYouMean(name, Config.Trustpoints.Keys)}; write 'crypto pki trustpoint {name}' first");
                Enter(Mode.CertificateChain, name);
                return;
            }
            if (what == "certificate" && w.Count > 3 && w[3].Equals("map", StringComparison.OrdinalIgnoreCase))
            {
                Arity(w, 6, 6, "crypto pki certificate map NAME SEQUENCE");
                var name = Name(w[4], "certificate map");
                var sequence = Number(w[5], 1, 65535, "certificate map sequence");
                var map = Config.CertificateMaps.GetValueOrDefault(name) ?? new PkiCertificateMap(name);
                if (!map.Sequences.ContainsKey(sequence))
                    map = map with { Sequences = map.Sequences.SetItem(sequence, ValueList<CertificateMapRule>.Empty) };
                Config = Config with { CertificateMaps = Config.CertificateMaps.SetItem(name, map) };
                _mapSequence = sequence;
                Enter(Mode.CertificateMap, name);
                return;
            }
            throw new LineException(w[2], $"write '{usage}'");
        }

        private void RunCryptoNo(IReadOnlyList<string> w)
        {
            if (w.Count < 3 || !(w[2].Equals("pki", StringComparison.OrdinalIgnoreCase) || w[2].Equals("ca", StringComparison.OrdinalIgnoreCase)))
                throw new LineException(w.Count > 2 ? w[2] : w[^1], "write 'no crypto pki trustpoint NAME', 'no crypto pki certificate chain NAME' or 'no crypto pki certificate map NAME [SEQUENCE]'");
            if (w.Count >= 5 && w[3].Equals("trustpoint", StringComparison.OrdinalIgnoreCase))
            {
                Arity(w, 5, 5, "no crypto pki trustpoint NAME");
                Config = Config with { Trustpoints = Config.Trustpoints.Remove(Existing(Config.Trustpoints, w[4], "trustpoint")) };
                return;
            }
            if (w.Count >= 6 && w[3].Equals("certificate", StringComparison.OrdinalIgnoreCase) && w[4].Equals("map", StringComparison.OrdinalIgnoreCase))
            {
                Arity(w, 6, 7, "no crypto pki certificate map NAME [SEQUENCE]");
                var name = Existing(Config.CertificateMaps, w[5], "certificate map");
                if (w.Count == 6)
                {
                    Config = Config with { CertificateMaps = Config.CertificateMaps.Remove(name) };
                    return;
                }
                var map = Config.CertificateMaps[name];
                var sequence = Number(w[6], 1, 65535, "certificate map sequence");
                if (!map.Sequences.ContainsKey(sequence)) throw new LineException(w[6], $"certificate map {name} has no sequence {sequence}");
                map = map with { Sequences = map.Sequences.Remove(sequence) };
                Config = Config with { CertificateMaps = map.Sequences.Count == 0 ? Config.CertificateMaps.Remove(name) : Config.CertificateMaps.SetItem(name, map) };
                return;
            }
            if (w.Count >= 6 && w[3].Equals("certificate", StringComparison.OrdinalIgnoreCase) && w[4].Equals("chain", StringComparison.OrdinalIgnoreCase))
            {
                Arity(w, 6, 6, "no crypto pki certificate chain NAME");
                var name = Existing(Config.Trustpoints, w[5], "trustpoint");
                Config = Config with { Trustpoints = Config.Trustpoints.SetItem(name, Config.Trustpoints[name] with { Chain = ValueList<PkiChainCertificate>.Empty }) };
                return;
            }
            throw new LineException(w[^1], "write 'no crypto pki trustpoint NAME', 'no crypto pki certificate chain NAME' or 'no crypto pki certificate map NAME [SEQUENCE]'");
        }

        private PkiTrustpoint Trustpoint => Config.Trustpoints[_object];

        private void SetTrustpoint(PkiTrustpoint trustpoint) =>
            Config = Config with { Trustpoints = Config.Trustpoints.SetItem(trustpoint.Name, trustpoint) };

        private void RunTrustpoint(string first, IReadOnlyList<string> w)
        {
            var t = Trustpoint;
            string[] args = [.. w.Skip(1)];
            switch (first)
            {
                case "enrollment":
                    if (args.Length == 1 && args[0].Equals("terminal", StringComparison.OrdinalIgnoreCase) ||
                        args.Length == 2 && args[0].Equals("terminal", StringComparison.OrdinalIgnoreCase) && args[1].Equals("pem", StringComparison.OrdinalIgnoreCase))
                    {
                        SetTrustpoint(t with { Enrollment = string.Join(' ', args).ToLowerInvariant() });
                        return;
                    }
                    if (args.Length == 2 && args[0].Equals("url", StringComparison.OrdinalIgnoreCase))
                    {
                        SetTrustpoint(t with { Enrollment = "url " + Url(args[1], httpsToo: true) });
                        return;
                    }
                    throw new LineException(w[^1], "write 'enrollment terminal [pem]' or 'enrollment url URL'");
                case "rsakeypair":
                    Arity(w, 2, 3, "rsakeypair NAME [SIZE]");
                    if (w.Count == 3) Number(w[2], 2048, 4096, "key size");
                    SetTrustpoint(t with { RsaKeyPair = Name(w[1], "key pair") });
                    return;
                case "revocation-check":
                    SetTrustpoint(t with { Revocation = RevocationOrder(args, w, "revocation-check") });
                    return;
                case "ocsp":
                    Arity(w, 3, 3, "ocsp url URL");
                    if (!w[1].Equals("url", StringComparison.OrdinalIgnoreCase)) throw new LineException(w[1], "write 'ocsp url URL'");
                    SetTrustpoint(t with { OcspUrl = Url(w[2], httpsToo: false) });
                    return;
                case "min-chain-length":
                    Arity(w, 2, 2, "min-chain-length N");
                    SetTrustpoint(t with { MinChainLength = Number(w[1], 0, 16, "minimum chain length") });
                    return;
                case "crl":
                    // SSLM 2.1's "crl optional" became "revocation-check none" in 3.1 (release notes, Table 3).
                    if (w.Count != 2 || !w[1].Equals("optional", StringComparison.OrdinalIgnoreCase))
                        throw new LineException(w.Count > 1 ? w[1] : w[0], "of the 2.1 'crl' forms only 'crl optional' is known (it is 'revocation-check none'); write 'revocation-check crl|ocsp|none ...'");
                    SetTrustpoint(t with { Revocation = ValueList<RevocationMethod>.Empty.Add(RevocationMethod.None) });
                    return;
                case "no":
                    var what = w[1].ToLowerInvariant();
                    SetTrustpoint(what switch
                    {
                        "enrollment" => t with { Enrollment = null },
                        "rsakeypair" => t with { RsaKeyPair = null },
                        "revocation-check" => t with { Revocation = ValueList<RevocationMethod>.Empty },
                        "ocsp" => t with { OcspUrl = null },
                        "min-chain-length" => t with { MinChainLength = 0 },
                        _ => throw new LineException(w[1], $"unknown trustpoint option{Suggest.DidYouMean(what, TrustpointWords)}"),
                    });
                    return;
            }
        }

        private void RunChain(string first, IReadOnlyList<string> w)
        {
            var t = Trustpoint;
            var no = first == "no";
            var words = no ? w.Skip(1).ToList() : [.. w];
            var ca = words.Count > 1 && words[1].Equals("ca", StringComparison.OrdinalIgnoreCase);
            var at = ca ? 2 : 1;
            var usage = no ? "no certificate [ca] SERIAL" : "certificate [ca] SERIAL FILE";
            if (words.Count <= at || !words[0].Equals("certificate", StringComparison.OrdinalIgnoreCase))
                throw new LineException(w[^1], $"write '{usage}'");
            var serial = words[at];
            if (ca && !no && words.Count == at + 1 && !serial.All(char.IsAsciiHexDigit))
            {
                // 'certificate CA FILE': the word is the CA flag here, so a certificate whose serial is CA in hex says so
                // with a leading zero (as 'show running-config' prints what it reads).
                throw new LineException(words[1], "'ca' after 'certificate' marks a CA certificate ('certificate ca SERIAL FILE'); write a serial number CA with a leading zero: 'certificate 0CA FILE'");
            }
            if (serial.Length is 0 or > 40 || !serial.All(char.IsAsciiHexDigit))
                throw new LineException(serial, "a certificate serial number is 1 to 40 hexadecimal digits");
            var index = t.Chain.ToList().FindIndex(c => c.Ca == ca && c.Serial.Equals(serial, StringComparison.OrdinalIgnoreCase));
            if (no)
            {
                if (words.Count != at + 1) throw new LineException(words[^1], $"write '{usage}'");
                if (index < 0) throw new LineException(serial, $"trustpoint {t.Name} has no {(ca ? "CA " : "")}certificate {serial}");
                SetTrustpoint(t with { Chain = t.Chain.Remove(t.Chain[index]) });
                return;
            }
            if (words.Count == at + 1)
                throw new LineException(serial, "a certificate is named by its store file here ('certificate [ca] SERIAL FILE', FILE as imported with 'sslctl copy ssl ... import'); the hex dump form is not read");
            if (words.Count != at + 2) throw new LineException(words[^1], $"write '{usage}'");
            var file = words[at + 1];
            if (file.Length > 128 || file.Any(c => c <= ' ' || c > '~' || c == '"'))
                throw new LineException(file, "a certificate file is 1 to 128 printable characters without spaces or quotes");
            var entry = new PkiChainCertificate(serial, ca, file);
            SetTrustpoint(t with { Chain = index >= 0 ? t.Chain.SetItem(index, entry) : t.Chain.Add(entry) });
        }

        private void RunCertificateMap(string first, IReadOnlyList<string> w)
        {
            var map = Config.CertificateMaps[_object];
            var rules = map.Sequences[_mapSequence];
            var no = first == "no";
            var words = no ? w.Skip(1).ToList() : [.. w];
            const string usage = "subject-name|issuer-name eq|ne|co|nc VALUE";
            if (words.Count < 3) throw new LineException(w[^1], $"write '{usage}'");
            var field = words[0].ToLowerInvariant() switch
            {
                "subject-name" => CertificateMapField.SubjectName,
                "issuer-name" => CertificateMapField.IssuerName,
                var other => throw new LineException(words[0], $"a certificate map rule reads subject-name or issuer-name{Suggest.DidYouMean(other, ["subject-name", "issuer-name"])}"),
            };
            var op = words[1].ToLowerInvariant() switch
            {
                "eq" => CertificateMapOperator.Equal,
                "ne" => CertificateMapOperator.NotEqual,
                "co" => CertificateMapOperator.Contains,
                "nc" => CertificateMapOperator.NotContains,
                var other => throw new LineException(words[1], $"write eq, ne, co or nc{Suggest.DidYouMean(other, ["eq", "ne", "co", "nc"])}"),
            };
            // Whitespace is collapsed (the value is compared without regard to it), so the printed line reads back the same.
            var value = string.Join(' ', string.Join(' ', words.Skip(2)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            if (value.Length is 0 or > 256 || value.Any(c => char.IsControl(c) || c == '"' || c > '~'))
                throw new LineException(words[2], "a certificate map value is 1 to 256 printable ASCII characters, none of them a '\"'");
            var rule = new CertificateMapRule(field, op, value);
            if (no)
            {
                if (!rules.Contains(rule)) throw new LineException(words[2], $"certificate map {map.Name} {_mapSequence} has no such rule");
                rules = rules.Remove(rule);
            }
            else if (!rules.Contains(rule))
            {
                rules = rules.Add(rule);
            }
            Config = Config with { CertificateMaps = Config.CertificateMaps.SetItem(map.Name, map with { Sequences = map.Sequences.SetItem(_mapSequence, rules) }) };
        }
    }
}
