using Xunit;
using CsCheck;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Tests.Config;

/// <summary><c>show running-config</c> prints text that parses back to an equal model, for any model.</summary>
public sealed class RoundTripPropertyTests
{
    /// <summary>One of the given values (shared with the other property tests).</summary>
    internal static Gen<T> Pick<T>(params T[] items) => Gen.Int[0, items.Length - 1].Select(i => items[i]);

    private static readonly Gen<string> GenName =
        Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."], 1, 12];

    private static readonly Gen<string> GenIp =
        Gen.Select(Gen.Int[1, 223], Gen.Int[0, 255], Gen.Int[0, 255], Gen.Int[1, 254], (a, b, c, d) => $"{a}.{b}.{c}.{d}");

    private static readonly Gen<int> GenPort = Gen.Int[1, 65535];

    private static readonly Gen<string> GenCipher = Pick(CipherCatalog.KnownNames.ToArray());

    private static readonly Gen<AdminState> GenState = Gen.Enum<AdminState>();

    private static Gen<ValueMap<TKey, TValue>> MapOf<TKey, TValue>(Gen<TValue> value, Func<TValue, TKey> key, int max)
        where TKey : notnull =>
        value.Array[0, max].Select(items =>
        {
            var map = ValueMap<TKey, TValue>.Empty;
            foreach (var item in items) map = map.SetItem(key(item), item);
            return map;
        });

    private static readonly Gen<string> GenUrl =
        Gen.Select(Pick("http", "https"), GenName, GenPort, (scheme, path, port) => $"{scheme}://ca{port}.example.com:{port}/{path}");

    private static readonly Gen<ClientAuthSettings> GenClientAuth =
        from enabled in Gen.Bool
        from cas in GenName.Array[0, 4]
        from crl in GenName.Null()
        from failure in Gen.Enum<ClientAuthFailureAction>()
        from url in GenUrl.Null()
        from methods in Gen.Shuffle(new[] { RevocationMethod.Ocsp, RevocationMethod.Crl, RevocationMethod.None }, 0, 3)
        from ocspPort in GenPort
        from withOcspUrl in Gen.Bool
        from logFailures in Gen.Bool
        select new ClientAuthSettings
        {
            Enabled = enabled, CaCerts = new ValueList<string>(cas.Distinct()), Crl = crl, Failure = failure, FailureUrl = url,
            // none accepts, so it can only be last.
            Revocation = new ValueList<RevocationMethod>(methods.Where(m => m != RevocationMethod.None).Concat(methods.Contains(RevocationMethod.None) ? [RevocationMethod.None] : [])),
            OcspUrl = withOcspUrl ? $"http://ocsp{ocspPort}.example.com:{ocspPort}/" : null,
            LogFailures = logFailures,
        };

    private static readonly Gen<CrlRecord> GenCrlRecord =
        from name in GenName
        from path in GenName
        from port in GenPort
        from signer in GenName
        from hours in Gen.Int[0, CrlRecord.MaxRefreshHours]
        select new CrlRecord(name, $"http://crl.example.com:{port}/{path}", signer, hours);

    private static readonly Gen<string> GenHostPattern =
        from labels in Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"], 1, 10].Array[1, 4]
        from wildcard in Pick("none", "first", "last")
        select wildcard switch
        {
            "first" => "*." + string.Join('.', labels),
            "last" => string.Join('.', labels) + ".*",
            _ => string.Join('.', labels),
        };

    private static readonly Gen<UrlRewriteRule> GenUrlRewrite =
        from n in Gen.Int[1, UrlRewriteRule.MaxRules]
        from host in GenHostPattern
        from ssl in Gen.OneOf(Gen.Const(UrlRewriteRule.DefaultSslPort), GenPort)
        from clear in Gen.OneOf(Gen.Const(UrlRewriteRule.DefaultClearPort), GenPort)
        select new UrlRewriteRule(n, host, ssl, clear);

    private static readonly Gen<HttpHeaderSettings> GenHttpHeaders =
        from session in Gen.Bool
        from clientCert in Gen.Enum<ClientCertFields>()
        from standard in Gen.Int[0, 31]
        from prefix in Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~"], 1, HttpHeaderSettings.MaxPrefixLength].Null()
        from names in GenName.Array[0, 4]
        from values in Gen.String[Gen.Char[" abcdefghijklmnopqrstuvwxyz0123456789:;,/='-"], 0, 40].Array[4]
        select new HttpHeaderSettings
        {
            Session = session,
            ClientCert = clientCert,
            ServerCert = (standard & 1) != 0,
            Xfcc = (standard & 2) != 0,
            Rfc9440 = (standard & 4) != 0,
            ClientIpPort = (standard & 8) != 0,
            Aliases = (standard & 16) != 0 ? ValueMap<string, string>.Empty.SetItem("ClientIP", "X-Real-Client") : ValueMap<string, string>.Empty,
            Prefix = prefix,
            Static = new ValueList<string>(names.DistinctBy(n => n.ToLowerInvariant()).Where(n => !HttpHeaderSettings.FramingNames.Contains(n.ToLowerInvariant()))
                .Select((n, i) => n + ":" + values[i].Trim())),
        };

    private static readonly Gen<SslServer> GenSslServer =
        from n in Gen.Int[1, 255]
        from rsa in GenName.Null()
        from ec in GenName.Null()
        from vip in GenIp.Null()
        from port in GenPort
        from ciphers in Gen.Select(GenCipher, GenIp, GenPort, Gen.Int[1, 10], (c, ip, p, w) => new CipherEntry(c, ip, p, w)).Array[0, 3]
        from cache in Gen.Int[0, 72000]
        from hs in Gen.Int[1, 3600]
        from idle in Gen.Int[0, 86400]
        from v in Gen.Enum<TlsVersionFloor>()
        from auth in GenClientAuth
        from rewrites in MapOf(GenUrlRewrite, r => r.Number, 4)
        from headers in GenHttpHeaders
        select new SslServer(n)
        {
            RsaKey = rsa,
            RsaCert = rsa is null ? null : rsa + "-cert",
            EcdsaKey = ec,
            EcdsaCert = ec is null ? null : ec + "-cert",
            VipAddress = vip,
            Port = port,
            Ciphers = new ValueList<CipherEntry>(ciphers.DistinctBy(c => c.Name)),
            SessionCacheSeconds = cache,
            HandshakeTimeoutSeconds = hs,
            IdleTimeoutSeconds = idle,
            MinimumVersion = v,
            ClientAuth = auth,
            UrlRewrites = rewrites,
            HttpHeaders = headers,
        };

    private static readonly Gen<BackendServer> GenBackend =
        from n in Gen.Int[1, 255]
        from type in Gen.Enum<BackendServerType>()
        from ip in GenIp.Null()
        from port in GenPort.Nullable()
        from sip in GenIp.Null()
        from sport in GenPort.Nullable()
        from ciphers in GenCipher.Array[0, 3]
        from key in GenName.Null()
        from ca in GenName.Null()
        from tls13 in Gen.Bool
        from handshake in Gen.Int[1, 3600]
        select new BackendServer(n)
        {
            Type = type,
            IpAddress = ip,
            Port = port,
            ServerIp = sip,
            ServerPort = sport,
            Ciphers = new ValueList<string>(ciphers.Distinct()),
            RsaKey = key,
            RsaCert = key,
            CaCert = ca,
            MinimumVersion = tls13 ? TlsVersionFloor.Tls13 : TlsVersionFloor.Tls12,
            HandshakeTimeoutSeconds = handshake,
        };

    private static readonly Gen<SslProxyList> GenProxyList =
        from name in GenName
        from state in GenState
        from servers in MapOf(GenSslServer, s => s.Number, 3)
        from backends in MapOf(GenBackend, b => b.Number, 3)
        from description in Pick<string?>(null, "front end", "x")
        from crls in MapOf(GenCrlRecord, r => r.Name, 3)
        select new SslProxyList(name) { State = state, SslServers = servers, BackendServers = backends, Description = description, CrlRecords = crls };

    private static readonly Gen<KeepaliveSettings> GenKeepaliveType =
        from type in Gen.Enum<KeepaliveType>()
        from encrypt in Gen.Bool
        from name in GenName
        from script in Pick("kal-service-check", "check.sh", "ap-kal-service-check")
        from args in Pick<string?>(null, "", "web", "a b c")
        from useOutput in Gen.Bool
        select type switch
        {
            KeepaliveType.Http => new KeepaliveSettings { Type = type, Encrypt = encrypt },
            KeepaliveType.Named => new KeepaliveSettings { Type = type, Named = name },
            KeepaliveType.Script => new KeepaliveSettings { Type = type, Script = script, ScriptArgs = args, UseOutput = useOutput },
            _ => new KeepaliveSettings { Type = type },
        };

    private static readonly Gen<KeepaliveSettings> GenKeepalive =
        from typed in GenKeepaliveType
        from port in GenPort.Nullable()
        from f in Gen.Int[2, 255]
        from r in Gen.Int[2, 255]
        from m in Gen.Int[1, 10]
        from uri in Pick<string?>(null, "/health", "/a b")
        from head in Gen.Bool
        from hash in Pick<string?>(null, "0123456789abcdef0123456789abcdef")
        select typed with { Port = port, FrequencySeconds = f, RetryPeriodSeconds = r, MaxFailure = m, Uri = uri, MethodHead = head, Hash = hash };

    private static readonly Gen<GlobalKeepalive> GenGlobalKeepalive =
        from name in GenName
        from ip in GenIp.Null()
        from description in Pick<string?>(null, "shared by web", "x")
        from state in GenState
        from settings in GenKeepalive.Where(k => k.Type != KeepaliveType.Named)
        select new GlobalKeepalive(name) { IpAddress = ip, Description = description, State = state, Settings = settings };

    private static readonly Gen<Service> GenService =
        from name in GenName
        from type in Gen.Enum<ServiceType>()
        from ip in GenIp.Null()
        from port in GenPort.Nullable()
        from slot in Gen.Int[1, 255].Nullable()
        from ka in GenKeepalive
        from weight in Gen.Int[0, 10]
        from max in Gen.Int[0, 100_000]
        from pl in GenName.Null()
        from state in GenState
        from proto in Gen.Enum<ContentProtocol>()
        select new Service(name) { Type = type, IpAddress = ip, Port = port, Slot = slot, Keepalive = ka, Weight = weight, MaxConnections = max, ProxyList = pl, State = state, Protocol = proto };

    private static readonly Gen<ContentRule> GenContent =
        from name in GenName
        from vip in GenIp.Null()
        from proto in Gen.Enum<ContentProtocol>()
        from port in GenPort.Nullable()
        from services in GenName.Array[0, 4]
        from state in GenState
        from balance in Gen.Enum<BalanceMethod>()
        from sticky in Gen.Enum<Stickiness>()
        select new ContentRule(name) { VipAddress = vip, Protocol = proto, Port = port, Services = new ValueList<string>(services.Distinct()), State = state, Balance = balance, Sticky = sticky };

    private static readonly Gen<Owner> GenOwner =
        from name in GenName
        from contents in MapOf(GenContent, c => c.Name, 3)
        select new Owner(name) { Contents = contents };

    private static readonly Gen<KeyAssociation> GenAssociation =
        from kind in Gen.Enum<AssociationKind>()
        from name in GenName
        from file in GenName
        select new KeyAssociation(kind, name, file);

    private static readonly Gen<SslmEndpoint> GenEndpoint =
        from ip in GenIp
        from port in GenPort
        from secondary in Gen.Bool
        select new SslmEndpoint(ip, port, secondary);

    private static readonly Gen<SslmService> GenSslmService =
        from name in GenName
        from client in Gen.Bool
        from v in GenEndpoint.Null()
        from server in GenEndpoint.Null()
        from tp in GenName.Null()
        from ca in GenName.Null()
        from verify in Gen.Enum<SslmVerify>().Nullable()
        from policy in GenName.Null()
        from nat in GenName.Null()
        from flags in Gen.Int[0, 15]
        select new SslmService(name)
        {
            Client = client, Virtual = v, Server = server is null ? null : server with { Secondary = false }, CertificateTrustpoint = tp,
            TrustedCa = ca, Verify = verify, HeaderPolicy = policy, NatClient = nat, NatServer = (flags & 1) != 0,
            LogAuthFailures = (flags & 2) != 0, CertTrim = (flags & 4) != 0, InService = (flags & 8) != 0,
        };

    private static readonly Gen<SslmHeaderPolicy> GenHeaderPolicy =
        from name in GenName
        from clientCert in Gen.Enum<ClientCertFields>()
        from flags in Gen.Int[0, 31]
        from custom in GenName.Array[0, 3]
        from aliased in Gen.Int[0, SslCluster.Protocol.Http.HttpHeaderFields.StandardNames.Count - 1].Array[0, 3]
        from alias in GenName
        from prefix in Pick<string?>(null, "SSL-", "X-")
        select new SslmHeaderPolicy(name)
        {
            ClientCert = clientCert, Session = (flags & 1) != 0, ClientIpPort = (flags & 2) != 0, SubjectName = (flags & 4) != 0,
            AllowAuthFailures = (flags & 8) != 0, AllowRevokedCerts = (flags & 16) != 0,
            Custom = new ValueList<string>(custom.DistinctBy(c => c.ToLowerInvariant()).Where(c => !HttpHeaderSettings.FramingNames.Contains(c.ToLowerInvariant())).Select(c => c + ":v")),
            Aliases = aliased.Distinct().Aggregate(ValueMap<string, string>.Empty, (m, i) => m.SetItem(SslCluster.Protocol.Http.HttpHeaderFields.StandardNames[i], "X-Alias-" + i + alias.Replace(".", "", StringComparison.Ordinal))),
            Prefix = prefix,
        };

    private static readonly Gen<SslmContext> GenContext =
        from name in GenName
        from max in Gen.Int[1, SslmContext.MaxConnsLimit].Nullable()
        from services in MapOf(GenSslmService, x => x.Name, 3)
        from policies in MapOf(GenHeaderPolicy, x => x.Name, 2)
        from pools in MapOf(Gen.Select(GenName, GenName.Array[0, 3], GenName.Null(), (n, tps, map) =>
            new SslmCaPool(n) { Entries = new ValueList<SslmPoolEntry>(tps.Distinct().Select(t => new SslmPoolEntry(t, map))) }), x => x.Name, 2)
        from nats in MapOf(Gen.Select(GenName, GenIp, GenIp, (n, a, b) => new SslmNatPool(n, a, b, "255.255.255.0")), x => x.Name, 2)
        select new SslmContext(name) { MaxConns = max, Services = services, HeaderPolicies = policies, Pools = pools, NatPools = nats };

    private static readonly Gen<PkiTrustpoint> GenTrustpoint =
        from name in GenName
        from enrollment in Pick<string?>(null, "terminal", "terminal pem", "url http://ca.example.com/")
        from key in GenName.Null()
        from methods in Gen.Shuffle(new[] { RevocationMethod.Ocsp, RevocationMethod.Crl, RevocationMethod.None }, 0, 3)
        from ocsp in Pick<string?>(null, "http://127.0.0.1:8081/")
        from min in Gen.Int[0, 16]
        from serials in Gen.Int[1, 0xFFFF].Array[0, 3]
        from file in GenName
        select new PkiTrustpoint(name)
        {
            Enrollment = enrollment, RsaKeyPair = key, OcspUrl = ocsp, MinChainLength = min,
            Revocation = new ValueList<RevocationMethod>(methods.Where(m => m != RevocationMethod.None).Concat(methods.Contains(RevocationMethod.None) ? [RevocationMethod.None] : [])),
            // A certificate (not a CA's) whose serial is CA is written 0CA, as an operator must: the parser reads
            // 'certificate CA FILE' as the CA flag.
            Chain = new ValueList<PkiChainCertificate>(serials.Distinct().Select((n, i) => new PkiChainCertificate(
                n.ToString("X2", System.Globalization.CultureInfo.InvariantCulture) is "CA" && i % 2 == 0 ? "0CA" : n.ToString("X2", System.Globalization.CultureInfo.InvariantCulture),
                i % 2 == 1, "nvram:" + file + "#" + i))),
        };

    private static readonly Gen<PkiCertificateMap> GenCertificateMap =
        from name in GenName
        from sequences in Gen.Int[1, 65535].Array[1, 3]
        from field in Gen.Enum<CertificateMapField>()
        from op in Gen.Enum<CertificateMapOperator>()
        from value in Pick("engineering", "cn=root ca", "o=example")
        select new PkiCertificateMap(name)
        {
            Sequences = sequences.Distinct().Aggregate(ValueMap<int, ValueList<CertificateMapRule>>.Empty,
                (m, n) => m.SetItem(n, ValueList<CertificateMapRule>.Empty.Add(new CertificateMapRule(field, op, value)))),
        };

    internal static readonly Gen<RunningConfig> GenConfig =
        from a in MapOf(GenAssociation, x => x.Name, 4)
        from p in MapOf(GenProxyList, x => x.Name, 3)
        from k in MapOf(GenGlobalKeepalive, x => x.Name, 3)
        from s in MapOf(GenService, x => x.Name, 4)
        from o in MapOf(GenOwner, x => x.Name, 2)
        from c in MapOf(GenContext, x => x.Name, 2)
        from t in MapOf(GenTrustpoint, x => x.Name, 2)
        from m in MapOf(GenCertificateMap, x => x.Name, 2)
        select new RunningConfig { Associations = a, ProxyLists = p, Keepalives = k, Services = s, Owners = o, Contexts = c, Trustpoints = t, CertificateMaps = m };

    [Fact]
    public void Print_AnyModel_ParsesBackToAnEqualModel()
    {
        GenConfig.Sample(config =>
        {
            var printed = ConfigPrinter.Print(config);
            var (parsed, diagnostics) = ConfigParser.ApplyLines(RunningConfig.Empty, printed, ConfigOptions.Default);
            var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            return errors.Count == 0 && parsed.Equals(config);
        }, iter: 500, print: c => ConfigPrinter.Print(c));
    }

    [Fact]
    public void Equals_EveryPropertyChange_MakesModelsDifferent()
    {
        var baseline = new SslServer(1) { RsaKey = "k", RsaCert = "c", VipAddress = "10.0.0.1" };
        SslServer[] changed =
        [
            baseline with { RsaKey = "k2" }, baseline with { RsaCert = "c2" }, baseline with { EcdsaKey = "e" },
            baseline with { EcdsaCert = "e" }, baseline with { VipAddress = "10.0.0.2" }, baseline with { Port = 444 },
            baseline with { Ciphers = baseline.Ciphers.Add(new CipherEntry("all-cipher-suites", "10.0.0.1", 80)) },
            baseline with { SessionCacheSeconds = 1 }, baseline with { HandshakeTimeoutSeconds = 1 }, baseline with { IdleTimeoutSeconds = 30 },
            baseline with { MinimumVersion = TlsVersionFloor.Tls13 },
            baseline with { ClientAuth = baseline.ClientAuth with { Enabled = true } },
            baseline with { ClientAuth = baseline.ClientAuth with { CaCerts = new ValueList<string>(["ca"]) } },
            baseline with { ClientAuth = baseline.ClientAuth with { Crl = "crl" } },
            baseline with { ClientAuth = baseline.ClientAuth with { Failure = ClientAuthFailureAction.Ignore } },
            baseline with { ClientAuth = baseline.ClientAuth with { FailureUrl = "http://x.example/" } },
            baseline with { ClientAuth = baseline.ClientAuth with { Revocation = new ValueList<RevocationMethod>([RevocationMethod.Ocsp]) } },
            baseline with { ClientAuth = baseline.ClientAuth with { OcspUrl = "http://ocsp.example/" } },
            baseline with { UrlRewrites = baseline.UrlRewrites.SetItem(1, new UrlRewriteRule(1, "www.example.com")) },
        ];
        Assert.All(changed, c => Assert.NotEqual(baseline, c));
        Assert.Equal(baseline, baseline with { });
    }
}
