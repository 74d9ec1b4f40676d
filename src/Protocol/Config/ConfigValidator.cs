namespace SslCluster.Protocol.Config;

/// <summary>
/// Checks a whole configuration model: references between objects, what an active object needs to carry traffic,
/// and conflicts between objects. It works without short-circuiting, so every problem is reported at once; every
/// message names the object and what to write to fix it.
/// </summary>
public static partial class ConfigValidator
{
    public static IReadOnlyList<ConfigDiagnostic> Validate(RunningConfig config, ICertStoreView? store = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var found = new List<ConfigDiagnostic>();
        void Error(string message) => found.Add(new ConfigDiagnostic(DiagnosticSeverity.Error, 0, null, message));
        void Warn(string message) => found.Add(new ConfigDiagnostic(DiagnosticSeverity.Warning, 0, null, message));

        ValidateAssociations(config, store, Error);
        foreach (var list in config.ProxyLists.Values) ValidateProxyList(config, list, store, Error, Warn);
        foreach (var service in config.Services.Values) ValidateService(config, service, Error, Warn);
        foreach (var kal in config.Keepalives.Values) ValidateGlobalKeepalive(config, kal, Error);
        ValidateContentRules(config, Error, Warn);
        ValidateSslm(config, store, Error, Warn);
        return found;
    }

    private static void ValidateAssociations(RunningConfig config, ICertStoreView? store, Action<string> error)
    {
        if (store is null) return;
        foreach (var a in config.Associations.Values)
        {
            var expected = a.Kind switch
            {
                AssociationKind.RsaKey => StoredFileKind.RsaKey,
                AssociationKind.EcdsaKey => StoredFileKind.EcKey,
                _ => StoredFileKind.Certificate,
            };
            var kind = store.KindOf(a.FileName);
            var line = $"ssl associate {ConfigWords.Kind(a.Kind)} {a.Name} {a.FileName}";
            if (kind is null)
                error($"{line}: the certificate store has no file '{a.FileName}'; create it with 'ssl genrsa', 'ssl gencert' or import it with 'copy ssl file:PATH import {a.FileName} pem \"password\"'");
            else if (kind != expected)
                error($"{line}: '{a.FileName}' is {Describe(kind.Value)}, not {Describe(expected)}; associate it with 'ssl associate {KindFor(kind.Value)} {a.Name} {a.FileName}' or pick another file");
        }
    }

    private static string Describe(StoredFileKind kind) => kind switch
    {
        StoredFileKind.RsaKey => "an RSA key",
        StoredFileKind.EcKey => "an ECDSA key",
        _ => "a certificate",
    };

    private static string KindFor(StoredFileKind kind) => kind switch
    {
        StoredFileKind.RsaKey => ConfigWords.Kind(AssociationKind.RsaKey),
        StoredFileKind.EcKey => ConfigWords.Kind(AssociationKind.EcdsaKey),
        _ => ConfigWords.Kind(AssociationKind.Cert),
    };

    private static void ValidateProxyList(RunningConfig config, SslProxyList list, ICertStoreView? store, Action<string> error, Action<string> warn)
    {
        var active = list.State == AdminState.Active;
        foreach (var s in list.SslServers.Values)
        {
            var who = $"ssl-proxy-list {list.Name}, ssl-server {s.Number}";
            CheckAssociation(config, who, "rsakey", s.RsaKey, AssociationKind.RsaKey, error);
            CheckAssociation(config, who, "rsacert", s.RsaCert, AssociationKind.Cert, error);
            CheckAssociation(config, who, "ecdsakey", s.EcdsaKey, AssociationKind.EcdsaKey, error);
            CheckAssociation(config, who, "ecdsacert", s.EcdsaCert, AssociationKind.Cert, error);
            if ((s.RsaKey is null) != (s.RsaCert is null))
                error($"{who}: an RSA key and its certificate go together; add 'ssl-server {s.Number} {(s.RsaKey is null ? "rsakey" : "rsacert")} NAME'");
            if ((s.EcdsaKey is null) != (s.EcdsaCert is null))
                error($"{who}: an ECDSA key and its certificate go together; add 'ssl-server {s.Number} {(s.EcdsaKey is null ? "ecdsakey" : "ecdsacert")} NAME'");
            CheckPair(config, store, who, s.RsaKey, s.RsaCert, error);
            CheckPair(config, store, who, s.EcdsaKey, s.EcdsaCert, error);
            ValidateClientAuth(config, list, s, who, active, error, warn);
            ValidateUrlRewrites(who, s, error, warn);
            // A PROXY header introduces one client's connection; a pooled back-end connection serves many clients.
            if (s.SendProxyV2 && s.HttpReuseSeconds > 0)
                error($"{who}: send-proxy-v2 names one client per back-end connection, and http-reuse shares back-end connections between clients; remove one of them ('no ssl-server {s.Number} http-reuse' or 'no ssl-server {s.Number} send-proxy-v2')");
            if (!active) continue;
            // What a CSS checks when a proxy list is activated: each ssl-server can terminate a flow.
            if (s.RsaKey is null && s.EcdsaKey is null)
                error($"{who}: an active proxy list needs a key and certificate for each ssl-server; add 'ssl-server {s.Number} rsakey NAME' and 'ssl-server {s.Number} rsacert NAME', or suspend the list");
            if (s.VipAddress is null)
                error($"{who}: no VIP; add 'ssl-server {s.Number} vip address IP' (the address clients connect to)");
            if (s.Ciphers.Count == 0)
                error($"{who}: no cipher line, so its clear text has nowhere to go; add 'ssl-server {s.Number} cipher all-cipher-suites IP PORT'");
        }
        ValidateClientAuthLimits(config, list, error);
        foreach (var b in list.BackendServers.Values)
        {
            var who = $"ssl-proxy-list {list.Name}, backend-server {b.Number}";
            CheckAssociation(config, who, "rsakey", b.RsaKey, AssociationKind.RsaKey, error);
            CheckAssociation(config, who, "rsacert", b.RsaCert, AssociationKind.Cert, error);
            CheckAssociation(config, who, "cacert", b.CaCert, AssociationKind.Cert, error);
            if (!active) continue;
            if (b.IpAddress is null)
                error($"{who}: no clear-text address; add 'backend-server {b.Number} ip address IP' (the address of its service)");
            if (b.ServerIp is null && b.IpAddress is null)
                error($"{who}: no real server; add 'backend-server {b.Number} server-ip IP'");
            if (b.CaCert is not null && b.ServerName is null)
                warn($"{who}: cacert without server-name: the real server's certificate must carry its IP address ({b.ServerIp ?? b.IpAddress}) in its subjectAltName; add 'backend-server {b.Number} server-name HOST' to check its DNS name instead");
        }
    }

    private static void ValidateClientAuth(RunningConfig config, SslProxyList list, SslServer s, string who, bool active, Action<string> error, Action<string> warn)
    {
        var auth = s.ClientAuth;
        foreach (var ca in auth.CaCerts)
            CheckAssociation(config, who, "cacert", ca, AssociationKind.Cert, error);
        if (auth.Crl is { } crl && !list.CrlRecords.ContainsKey(crl))
            error($"{who}: crl '{crl}' is not a crl-record of this proxy list{Suggest.DidYouMean(crl, list.CrlRecords.Keys)}; add 'crl-record {crl} \"http://...\" CACERT' to ssl-proxy-list {list.Name} or write 'no ssl-server {s.Number} crl'");
        if (auth.Enabled && auth.Failure == ClientAuthFailureAction.IgnoreRevoked && auth.EffectiveRevocation.All(m => m == RevocationMethod.None))
            warn($"{who}: 'failure ignore-revoked' lets revoked certificates through, but no revocation is checked, so it refuses as 'failure reject' does; add 'ssl-server {s.Number} crl NAME' or 'revocation-check ocsp'");
        // Like the key and VIP checks, these two are what activation needs, so an operator may type the lines in any order.
        if (!active) return;
        if (auth.Enabled && auth.CaCerts.Count == 0)
            error($"{who}: client authentication is enabled but no CA is trusted, so no client could ever pass; add 'ssl-server {s.Number} cacert NAME' (an 'ssl associate cert' of the CA) or write 'ssl-server {s.Number} authentication disable'");
        if (auth.Failure == ClientAuthFailureAction.Redirect && auth.FailureUrl is null)
            error($"{who}: failure redirect needs the page to send clients to; add 'ssl-server {s.Number} failure-url \"https://...\"' or choose 'failure reject' or 'failure ignore'");
    }

    private static void ValidateClientAuthLimits(RunningConfig config, SslProxyList list, Action<string> error)
    {
        var who = $"ssl-proxy-list {list.Name}";
        var cas = list.SslServers.Values.SelectMany(s => s.ClientAuth.CaCerts).Distinct(StringComparer.Ordinal).ToList();
        if (cas.Count > ClientAuthSettings.MaxCaCertsPerProxyList)
            error($"{who}: {cas.Count} CA certificates ({string.Join(", ", cas)}) but a proxy list trusts at most {ClientAuthSettings.MaxCaCertsPerProxyList}; remove some with 'no ssl-server N cacert NAME' or move ssl-servers to another proxy list");
        if (list.CrlRecords.Count > CrlRecord.MaxPerProxyList)
            error($"{who}: {list.CrlRecords.Count} crl-records but a proxy list holds at most {CrlRecord.MaxPerProxyList}; remove unused ones with 'no crl-record NAME'");
        foreach (var r in list.CrlRecords.Values)
            CheckAssociation(config, $"{who}, crl-record {r.Name}", "signing certificate", r.SignCert, AssociationKind.Cert, error);
    }

    /// <summary>
    /// The parser already refuses bad rules line by line; this holds a model built any other way (a journal, code) to
    /// the same limits, and points out a rule that can never apply.
    /// </summary>
    private static void ValidateUrlRewrites(string who, SslServer s, Action<string> error, Action<string> warn)
    {
        if (s.ClientAuth.Failure == ClientAuthFailureAction.Redirect && s.Alpn.FirstOrDefault(p => p is not ("http/1.1" or "http/1.0")) is { } notHttp1)
            error($"{who}: alpn '{notHttp1}' with 'failure redirect': the redirect is an HTTP/1.1 answer; remove '{notHttp1}' from 'ssl-server {s.Number} alpn' or choose another failure action");
        if (s.UrlRewrites.Count > 0 && s.Alpn.FirstOrDefault(p => p is not ("http/1.1" or "http/1.0")) is { } other)
            error($"{who}: alpn '{other}' with urlrewrite rules: the rewrite reads HTTP/1.x responses; remove '{other}' from 'ssl-server {s.Number} alpn' or the urlrewrite rules");
        if (s.HttpHeaders.Any && s.Alpn.FirstOrDefault(p => p is not ("http/1.1" or "http/1.0")) is { } h2)
            error($"{who}: alpn '{h2}' with http-header insertion: headers go into HTTP/1.x requests; remove '{h2}' from 'ssl-server {s.Number} alpn' or the http-header lines");
        if (s.HttpHeaders.Prefix is not null && !s.HttpHeaders.AnyPrefixed)
            warn($"{who}: 'http-header prefix' applies to inserted fields (session, client-cert, server-cert), not to static lines nor to xfcc and rfc9440, and no such fields are inserted");
        foreach (var line in s.HttpHeaders.Static.Where(l => Http.HttpHeaderFields.Inserts(s.HttpHeaders, HttpHeaderSettings.StaticName(l))))
            error($"{who}: static line '{HttpHeaderSettings.StaticName(line)}' has the name of a field the ssl-server inserts (or takes out of requests); rename it or remove it with 'no ssl-server {s.Number} http-header static {HttpHeaderSettings.StaticName(line)}'");
        if ((s.HttpHeaders.ClientCert != ClientCertFields.None || s.HttpHeaders.Xfcc || s.HttpHeaders.Rfc9440) && !s.ClientAuth.Enabled)
            warn($"{who}: client certificate headers without 'ssl-server {s.Number} authentication enable': no certificate is asked for, so servers only learn there is none");
        if (s.UrlRewrites.Count > UrlRewriteRule.MaxRules)
            error($"{who}: {s.UrlRewrites.Count} urlrewrite rules, but an ssl-server holds at most {UrlRewriteRule.MaxRules}; remove some with 'no ssl-server {s.Number} urlrewrite NUMBER'");
        var first = new Dictionary<(string Host, int ClearPort), int>();
        foreach (var (number, r) in s.UrlRewrites)
        {
            var rule = $"{who}, urlrewrite {number}";
            if (r.Number != number)
                error($"{rule}: the rule is filed under number {number} but carries number {r.Number}; write it again with 'ssl-server {s.Number} urlrewrite {number} {r.Host}'");
            if (number is < 1 or > UrlRewriteRule.MaxRules)
                error($"{rule}: rule numbers run from 1 to {UrlRewriteRule.MaxRules}; renumber it");
            if (UrlRewriteRule.HostProblem(r.Host) is { } why)
                error($"{rule}: host '{r.Host}': {why}");
            if (!UrlRewriteRule.IsPort(r.SslPort))
                error($"{rule}: sslport {r.SslPort} is not a port; write a port from 1 to 65535 (443 when left out)");
            if (!UrlRewriteRule.IsPort(r.ClearPort))
                error($"{rule}: clearport {r.ClearPort} is not a port; write a port from 1 to 65535 (80 when left out)");
            // Rules are tried in number order, so a later rule for the same host and clear port is dead.
            var key = (r.Host.ToLowerInvariant(), r.ClearPort);
            if (first.TryGetValue(key, out var earlier))
                warn($"{rule}: rule {earlier} already rewrites host {r.Host} on clear port {r.ClearPort} and is tried first, so this rule never applies; remove one with 'no ssl-server {s.Number} urlrewrite {number}'");
            else
                first[key] = number;
        }
    }

    private static void CheckAssociation(RunningConfig config, string who, string option, string? name, AssociationKind kind, Action<string> error)
    {
        if (name is null) return;
        if (!config.Associations.TryGetValue(name, out var a))
        {
            error($"{who}: {option} '{name}' is not associated{Suggest.DidYouMean(name, config.Associations.Values.Where(x => x.Kind == kind).Select(x => x.Name))}; add 'ssl associate {ConfigWords.Kind(kind)} {name} FILE'");
            return;
        }
        if (a.Kind != kind)
            error($"{who}: {option} '{name}' is associated as {ConfigWords.Kind(a.Kind)}, not {ConfigWords.Kind(kind)}; name an association made with 'ssl associate {ConfigWords.Kind(kind)} ...'");
    }

    private static void CheckPair(RunningConfig config, ICertStoreView? store, string who, string? key, string? cert, Action<string> error)
    {
        if (store is null || key is null || cert is null) return;
        if (!config.Associations.TryGetValue(key, out var k) || !config.Associations.TryGetValue(cert, out var c)) return;
        if (store.KindOf(k.FileName) is null || store.KindOf(c.FileName) is null) return;
        if (store.MismatchReason(k.FileName, c.FileName) is { } why)
            error($"{who}: key '{key}' does not belong to certificate '{cert}' ({why}); associate the certificate issued for this key");
    }

    private static void ValidateService(RunningConfig config, Service s, Action<string> error, Action<string> warn)
    {
        var who = $"service {s.Name}";
        // A module terminates with its one proxy list, so the list must exist. For ssl-accel-backend and ssl-init the
        // list is only where the backend-server is looked for first: back-end configuration is used by every module
        // (the reference), so a missing list is a warning, and the reference's keepalive sample (which names a list
        // 'kal' that it calls 'sslkal') loads as printed.
        if (s.ProxyList is not null && !config.ProxyLists.ContainsKey(s.ProxyList))
        {
            var problem = $"{who}: ssl-proxy-list '{s.ProxyList}' does not exist{Suggest.DidYouMean(s.ProxyList, config.ProxyLists.Keys)}";
            if (s.Type is ServiceType.SslAccelBackend or ServiceType.SslInit)
                warn($"{problem}; its backend-server (ip address {s.IpAddress ?? "?"}) is looked for in every active proxy list instead");
            else
                error($"{problem}; create it or write 'remove ssl-proxy-list {s.ProxyList}' in the service");
        }
        if (s.ProxyList is not null && s.Type is ServiceType.Local)
            error($"{who}: a proxy list is used by SSL services only; add 'type ssl-accel' (a module) or 'type ssl-accel-backend'");
        ValidateKeepaliveSettings(config, who, s.Keepalive, error);
        if (s.State != AdminState.Active) return;
        switch (s.Type)
        {
            case ServiceType.SslAccel:
                if (s.ProxyList is null)
                    error($"{who}: an active SSL module needs its proxy list; add 'add ssl-proxy-list NAME' or suspend the service");
                else if (config.ProxyLists.TryGetValue(s.ProxyList, out var list) && list.State != AdminState.Active)
                    error($"{who}: ssl-proxy-list {s.ProxyList} is suspended, so the module cannot be activated; activate the list first (write 'active' in it)");
                break;
            case ServiceType.SslAccelBackend or ServiceType.SslInit:
                if (s.IpAddress is null)
                    error($"{who}: no address; add 'ip address IP' (it must match a backend-server's 'ip address')");
                if (s.ProxyList is null)
                    error($"{who}: a {(s.Type == ServiceType.SslInit ? "ssl-init" : "ssl-accel-backend")} service needs the proxy list that holds its backend-server; add 'add ssl-proxy-list NAME'");
                break;
            default:
                if (s.IpAddress is null)
                    error($"{who}: an active server needs an address; add 'ip address IP' or suspend the service");
                break;
        }
    }

    private static void ValidateGlobalKeepalive(RunningConfig config, GlobalKeepalive kal, Action<string> error)
    {
        var who = $"keepalive {kal.Name}";
        if (kal.Settings.Type == KeepaliveType.Named)
            error($"{who}: a global keepalive cannot be of type named; give it a type of its own");
        ValidateKeepaliveSettings(config, who, kal.Settings, error);
        if (kal.State == AdminState.Active && kal.IpAddress is null && kal.Settings.Type is not (KeepaliveType.None or KeepaliveType.Script))
            error($"{who}: an active global keepalive needs the address it probes; add 'ip address IP' in it, or suspend it");
    }

    /// <summary>What a keepalive names must exist: the global keepalive of type named, the script of type script.</summary>
    private static void ValidateKeepaliveSettings(RunningConfig config, string who, KeepaliveSettings k, Action<string> error)
    {
        if (k.Type == KeepaliveType.Named && k.Named is { } named && !config.Keepalives.ContainsKey(named))
            error($"{who}: keepalive '{named}' does not exist{Suggest.DidYouMean(named, config.Keepalives.Keys)}; create it with a block 'keepalive {named}' (ip address, type, active) or name an existing one");
        if (k.Type != KeepaliveType.Script || k.Script is not { } script) return;
        if (KeepaliveScripts.IsBuiltIn(script))
        {
            var target = k.ScriptArgs?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (target is null)
                error($"{who}: script {script} checks a service; name it: 'keepalive type script {script} \"SERVICE\"'");
            else if (!config.Services.ContainsKey(target))
                error($"{who}: script {script} checks service '{target}', which does not exist{Suggest.DidYouMean(target, config.Services.Keys)}");
            return;
        }
        if (KeepaliveScripts.FileNameProblem(script) is { } problem)
            error($"{who}: '{script}' cannot be a script: {problem}; built-in scripts: {string.Join(", ", KeepaliveScripts.BuiltIns)}");
    }

    private static void ValidateContentRules(RunningConfig config, Action<string> error, Action<string> warn)
    {
        var listeners = new Dictionary<(string, int), string>();
        foreach (var (owner, rule) in config.ContentRules)
        {
            var who = $"owner {owner.Name}, content {rule.Name}";
            foreach (var name in rule.Services)
            {
                if (!config.Services.ContainsKey(name))
                    error($"{who}: service '{name}' does not exist{Suggest.DidYouMean(name, config.Services.Keys)}; create it or write 'remove service {name}'");
            }
            var services = rule.Services.Where(config.Services.ContainsKey).Select(n => config.Services[n]).ToList();
            if (services.Any(s => s.Type == ServiceType.SslAccel) && services.Any(s => s.Type != ServiceType.SslAccel))
                error($"{who}: mixes SSL modules (type ssl-accel) with other services; a rule either terminates TLS or balances clear text, so split it into two rules");
            if (rule.State != AdminState.Active) continue;
            if (rule.VipAddress is null)
                error($"{who}: an active content rule needs 'vip address IP'");
            if (rule.Port is null)
                error($"{who}: an active content rule needs 'port N' (a software node listens on one port per rule)");
            if (rule.Protocol == ContentProtocol.Udp)
                error($"{who}: UDP content rules are not supported; write 'protocol tcp'");
            if (rule.Services.Count == 0)
                warn($"{who}: active without services: its connections will be refused until you 'add service NAME'");
            if (rule.VipAddress is not null && rule.Port is { } port)
            {
                if (listeners.TryGetValue((rule.VipAddress, port), out var other))
                    error($"{who}: VIP {rule.VipAddress} port {port} is already served by {other}; give one of them another VIP or port, or suspend it");
                else
                    listeners[(rule.VipAddress, port)] = who;
            }
        }
    }
}

/// <summary>The words of the language for enum values that more than one part prints.</summary>
public static class ConfigWords
{
    /// <summary>What follows <c>keepalive type</c>: <c>http encrypt</c>, <c>named NAME</c>, <c>script NAME "ARGS" use-output</c>, ...</summary>
    public static string KeepaliveType(KeepaliveSettings k)
    {
        ArgumentNullException.ThrowIfNull(k);
        return k.Type switch
        {
            Config.KeepaliveType.Http when k.Encrypt => "http encrypt",
            Config.KeepaliveType.Named => $"named {ConfigTokenizer.Quote(k.Named ?? string.Empty)}",
            Config.KeepaliveType.Script => $"script {ConfigTokenizer.Quote(k.Script ?? string.Empty)}" +
                (k.ScriptArgs is { } a ? $" \"{a}\"" : string.Empty) + (k.UseOutput ? " use-output" : string.Empty),
            var t => t.ToString().ToLowerInvariant(),
        };
    }

    public static string Kind(AssociationKind kind) => kind switch
    {
        AssociationKind.RsaKey => "rsakey",
        AssociationKind.EcdsaKey => "ecdsakey",
        _ => "cert",
    };
}
