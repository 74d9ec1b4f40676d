using System.Globalization;
using System.Text;

namespace SslCluster.Protocol.Config;

/// <summary>
/// Prints a model as <c>show running-config</c> does on a CSS: section banners, proxy lists before the services that
/// name them, owners last, defaults omitted. The text parses back to an equal model.
/// </summary>
public static partial class ConfigPrinter
{
    public static string Print(RunningConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var o = new StringBuilder();
        foreach (var (banner, texts) in Sections(config))
        {
            o.Append(banner).Append('\n');
            foreach (var text in texts) o.Append(text);
            // The associations print as one block with a blank line after it; every other object ends with its own.
            if (banner == GlobalBanner) o.Append('\n');
        }
        return o.ToString();
    }

    private const string GlobalBanner = "!*************************** GLOBAL ***************************";

    /// <summary>The non-empty sections of <c>show running-config</c> in print order, each with its objects' texts.</summary>
    private static IEnumerable<(string Banner, IEnumerable<string> Texts)> Sections(RunningConfig config)
    {
        if (config.Associations.Count > 0) yield return (GlobalBanner, config.Associations.Values.Select(Object));
        if (config.Keepalives.Count > 0)
            yield return ("!************************** KEEPALIVE *************************", config.Keepalives.Values.Select(Object));
        if (config.ProxyLists.Count > 0)
            yield return ("!************************ SSL PROXY LIST **********************", config.ProxyLists.Values.Select(Object));
        if (config.Services.Count > 0)
            yield return ("!************************** SERVICE ***************************", config.Services.Values.Select(Object));
        if (config.Owners.Count > 0)
            yield return ("!*************************** OWNER ****************************", config.Owners.Values.Select(Object));

        // The SSLM face last: after a context block a CSS 'service NAME' line would be read as a proxy service.
        if (config.Trustpoints.Count > 0 || config.CertificateMaps.Count > 0)
            yield return ("!************************** CRYPTO PKI ************************",
                config.Trustpoints.Values.Select(Object).Concat(config.CertificateMaps.Values.Select(Object)));
        if (config.Contexts.Count > 0)
            yield return ("!*********************** SSL PROXY CONTEXT ********************", config.Contexts.Values.Select(Object));
    }

    private static string Q(string s) => ConfigTokenizer.Quote(s);

    private static string N(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>One association as its <c>ssl associate</c> line.</summary>
    public static string Object(KeyAssociation a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return $"ssl associate {ConfigWords.Kind(a.Kind)} {Q(a.Name)} {Q(a.FileName)}\n";
    }

    /// <summary>One global keepalive block, with the blank line that ends it.</summary>
    public static string Object(GlobalKeepalive kal)
    {
        ArgumentNullException.ThrowIfNull(kal);
        var o = new StringBuilder();
        void Line(string indent, string text) => o.Append(indent).Append(text).Append('\n');
        Line("", $"keepalive {Q(kal.Name)}");
        if (kal.Description is { } d) Line("  ", $"description {Q(d)}");
        if (kal.IpAddress is { } ip) Line("  ", $"ip address {ip}");
        KeepaliveLines(kal.Settings, string.Empty, t => Line("  ", t));
        if (kal.State == AdminState.Active) Line("  ", "active");
        Line("", "");
        return o.ToString();
    }

    /// <summary>One proxy list with its ssl-servers and backend-servers, with the blank line that ends it.</summary>
    public static string Object(SslProxyList list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var o = new StringBuilder();
        void Line(string indent, string text) => o.Append(indent).Append(text).Append('\n');
        Line("", $"ssl-proxy-list {Q(list.Name)}");
        if (list.Description is { } d) Line("  ", $"description {Q(d)}");
        foreach (var r in list.CrlRecords.Values)
            Line("  ", $"crl-record {Q(r.Name)} \"{r.Url}\" {Q(r.SignCert)}{(r.RefreshHours != 0 ? " " + N(r.RefreshHours) : "")}");
        foreach (var s in list.SslServers.Values)
        {
            var p = $"ssl-server {N(s.Number)}";
            Line("  ", p);
            if (s.RsaKey is { } rk) Line("  ", $"{p} rsakey {Q(rk)}");
            if (s.RsaCert is { } rc) Line("  ", $"{p} rsacert {Q(rc)}");
            if (s.EcdsaKey is { } ek) Line("  ", $"{p} ecdsakey {Q(ek)}");
            if (s.EcdsaCert is { } ec) Line("  ", $"{p} ecdsacert {Q(ec)}");
            if (s.VipAddress is { } vip) Line("  ", $"{p} vip address {vip}");
            if (s.Port != SslServer.DefaultPort) Line("  ", $"{p} port {N(s.Port)}");
            foreach (var c in s.Ciphers)
                Line("  ", $"{p} cipher {c.Name} {c.DestinationAddress} {N(c.DestinationPort)}{(c.Weight != 1 ? " " + N(c.Weight) : "")}");
            if (s.SessionCacheSeconds != SslServer.DefaultSessionCacheSeconds) Line("  ", $"{p} session-cache {N(s.SessionCacheSeconds)}");
            if (s.HandshakeTimeoutSeconds != SslServer.DefaultHandshakeTimeoutSeconds) Line("  ", $"{p} handshake timeout {N(s.HandshakeTimeoutSeconds)}");
            if (s.IdleTimeoutSeconds != 0) Line("  ", $"{p} idle timeout {N(s.IdleTimeoutSeconds)}");
            if (s.MinimumVersion == TlsVersionFloor.Tls13) Line("  ", $"{p} version tls1.3");
            if (!s.Alpn.Equals(SslServer.DefaultAlpn)) Line("  ", $"{p} alpn {string.Join(' ', s.Alpn)}");
            if (s.OcspUrl is { } ocsp) Line("  ", $"{p} ocsp-url \"{ocsp}\"");
            if (s.HttpReuseSeconds > 0)
                Line("  ", $"{p} http-reuse{(s.HttpReuseSeconds != SslServer.DefaultHttpReuseSeconds ? " " + N(s.HttpReuseSeconds) : "")}");
            if (s.SendProxyV2) Line("  ", $"{p} send-proxy-v2");
            var auth = s.ClientAuth;
            if (auth.Enabled) Line("  ", $"{p} authentication enable");
            foreach (var ca in auth.CaCerts) Line("  ", $"{p} cacert {Q(ca)}");
            if (auth.Crl is { } crl) Line("  ", $"{p} crl {Q(crl)}");
            if (auth.Failure != ClientAuthFailureAction.Reject)
                Line("  ", $"{p} failure {FailureWord(auth.Failure)}");
            if (auth.FailureUrl is { } url) Line("  ", $"{p} failure-url \"{url}\"");
            if (auth.Revocation.Count > 0) Line("  ", $"{p} revocation-check {string.Join(' ', auth.Revocation.Select(m => m.ToString().ToLowerInvariant()))}");
            if (auth.OcspUrl is { } ocspUrl) Line("  ", $"{p} client-ocsp-url \"{ocspUrl}\"");
            if (auth.LogFailures) Line("  ", $"{p} log-auth-failures");
            foreach (var r in s.UrlRewrites.Values) Line("  ", $"{p} urlrewrite {UrlRewriteWords(r)}");
            if (s.HttpHeaders.Session) Line("  ", $"{p} http-header session");
            if (s.HttpHeaders.ClientCert != ClientCertFields.None)
                Line("  ", $"{p} http-header client-cert" + s.HttpHeaders.ClientCert switch { ClientCertFields.Basic => " basic", ClientCertFields.Pem => " pem", _ => "" });
            if (s.HttpHeaders.ServerCert) Line("  ", $"{p} http-header server-cert");
            if (s.HttpHeaders.Xfcc) Line("  ", $"{p} http-header xfcc");
            if (s.HttpHeaders.Rfc9440) Line("  ", $"{p} http-header rfc9440");
            if (s.HttpHeaders.ClientIpPort) Line("  ", $"{p} http-header client-ip-port");
            foreach (var (standard, alias) in s.HttpHeaders.Aliases) Line("  ", $"{p} http-header alias {standard} {alias}");
            if (s.HttpHeaders.Prefix is { } prefix) Line("  ", $"{p} http-header prefix {Q(prefix)}");
            foreach (var line in s.HttpHeaders.Static) Line("  ", $"{p} http-header static {Q(line)}");
        }
        foreach (var b in list.BackendServers.Values)
        {
            var p = $"backend-server {N(b.Number)}";
            Line("  ", p);
            if (b.Type == BackendServerType.Initiation) Line("  ", $"{p} type initiation");
            if (b.IpAddress is { } ip) Line("  ", $"{p} ip address {ip}");
            if (b.Port is { } port) Line("  ", $"{p} port {N(port)}");
            if (b.ServerIp is { } sip) Line("  ", $"{p} server-ip {sip}");
            if (b.ServerPort is { } sport) Line("  ", $"{p} server-port {N(sport)}");
            if (b.ServerName is { } sname) Line("  ", $"{p} server-name {sname}");
            foreach (var c in b.Ciphers) Line("  ", $"{p} cipher {c}");
            if (b.RsaKey is { } rk) Line("  ", $"{p} rsakey {Q(rk)}");
            if (b.RsaCert is { } rc) Line("  ", $"{p} rsacert {Q(rc)}");
            if (b.CaCert is { } ca) Line("  ", $"{p} cacert {Q(ca)}");
            if (b.SessionCacheSeconds != SslServer.DefaultSessionCacheSeconds) Line("  ", $"{p} session-cache {N(b.SessionCacheSeconds)}");
            if (b.MinimumVersion == TlsVersionFloor.Tls13) Line("  ", $"{p} version tls1.3");
            if (b.HandshakeTimeoutSeconds != SslServer.DefaultHandshakeTimeoutSeconds) Line("  ", $"{p} handshake timeout {N(b.HandshakeTimeoutSeconds)}");
        }
        if (list.State == AdminState.Active) Line("  ", "active");
        Line("", "");
        return o.ToString();
    }

    /// <summary>One service block, with the blank line that ends it.</summary>
    public static string Object(Service s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var o = new StringBuilder();
        void Line(string indent, string text) => o.Append(indent).Append(text).Append('\n');
        Line("", $"service {Q(s.Name)}");
        if (s.Description is { } d) Line("  ", $"description {Q(d)}");
        if (s.Type != ServiceType.Local) Line("  ", $"type {TypeWord(s.Type)}");
        if (s.Slot is { } slot) Line("  ", $"slot {N(slot)}");
        if (s.IpAddress is { } ip) Line("  ", $"ip address {ip}");
        if (s.Port is { } port) Line("  ", $"port {N(port)}");
        if (s.Protocol != ContentProtocol.Any) Line("  ", $"protocol {ProtocolWord(s.Protocol)}");
        KeepaliveLines(s.Keepalive, "keepalive ", t => Line("  ", t));
        if (s.ProxyList is { } pl) Line("  ", $"add ssl-proxy-list {Q(pl)}");
        if (s.Weight != Service.DefaultWeight) Line("  ", $"weight {N(s.Weight)}");
        if (s.MaxConnections != 0) Line("  ", $"max-conns {N(s.MaxConnections)}");
        if (s.State == AdminState.Active) Line("  ", "active");
        Line("", "");
        return o.ToString();
    }

    /// <summary>One owner with its content rules.</summary>
    public static string Object(Owner owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        var o = new StringBuilder();
        void Line(string indent, string text) => o.Append(indent).Append(text).Append('\n');
        Line("", $"owner {Q(owner.Name)}");
        Line("", "");
        foreach (var r in owner.Contents.Values)
        {
            Line("  ", $"content {Q(r.Name)}");
            if (r.VipAddress is { } vip) Line("    ", $"vip address {vip}");
            if (r.Protocol != ContentProtocol.Any) Line("    ", $"protocol {ProtocolWord(r.Protocol)}");
            if (r.Port is { } port) Line("    ", $"port {N(port)}");
            if (r.Balance != BalanceMethod.RoundRobin) Line("    ", $"balance {BalanceWord(r.Balance)}");
            if (r.Sticky == Stickiness.SslSessionId) Line("    ", "advanced-balance ssl");
            if (r.Sticky == Stickiness.SourceIp) Line("    ", "advanced-balance sticky-srcip");
            foreach (var svc in r.Services) Line("    ", $"add service {Q(svc)}");
            if (r.State == AdminState.Active) Line("    ", "active");
            Line("", "");
        }
        return o.ToString();
    }

    /// <summary>The keepalive attributes that differ from the defaults, each after <paramref name="prefix"/>.</summary>
    private static void KeepaliveLines(KeepaliveSettings k, string prefix, Action<string> line)
    {
        var dk = KeepaliveSettings.Default;
        if (k.Type != dk.Type) line($"{prefix}type {ConfigWords.KeepaliveType(k)}");
        if (k.Port is { } kp) line($"{prefix}port {N(kp)}");
        if (k.FrequencySeconds != dk.FrequencySeconds) line($"{prefix}frequency {N(k.FrequencySeconds)}");
        if (k.RetryPeriodSeconds != dk.RetryPeriodSeconds) line($"{prefix}retryperiod {N(k.RetryPeriodSeconds)}");
        if (k.MaxFailure != dk.MaxFailure) line($"{prefix}maxfailure {N(k.MaxFailure)}");
        if (k.Uri is { } uri) line($"{prefix}uri {ConfigTokenizer.Quote(uri)}");
        if (k.MethodHead != dk.MethodHead) line($"{prefix}method get");
        if (k.Hash is { } hash) line($"{prefix}hash \"{hash}\"");
    }

    /// <summary>
    /// The words after <c>urlrewrite</c>. Defaults are left out, except that a clearport needs the sslport before it,
    /// as the CSS syntax has it.
    /// </summary>
    private static string UrlRewriteWords(UrlRewriteRule r)
    {
        var text = $"{r.Number.ToString(CultureInfo.InvariantCulture)} {ConfigTokenizer.Quote(r.Host)}";
        if (r.SslPort != UrlRewriteRule.DefaultSslPort || r.ClearPort != UrlRewriteRule.DefaultClearPort)
            text += $" sslport {r.SslPort.ToString(CultureInfo.InvariantCulture)}";
        if (r.ClearPort != UrlRewriteRule.DefaultClearPort)
            text += $" clearport {r.ClearPort.ToString(CultureInfo.InvariantCulture)}";
        return text;
    }

    /// <summary>The word of a failure action in <c>ssl-server N failure WORD</c>.</summary>
    internal static string FailureWord(ClientAuthFailureAction failure) => failure switch
    {
        ClientAuthFailureAction.Ignore => "ignore",
        ClientAuthFailureAction.Redirect => "redirect",
        ClientAuthFailureAction.IgnoreRevoked => "ignore-revoked",
        _ => "reject",
    };

    internal static string TypeWord(ServiceType type) => type switch
    {
        ServiceType.SslAccel => "ssl-accel",
        ServiceType.SslAccelBackend => "ssl-accel-backend",
        ServiceType.SslInit => "ssl-init",
        _ => "local",
    };

    private static string ProtocolWord(ContentProtocol p) => p switch
    {
        ContentProtocol.Tcp => "tcp",
        ContentProtocol.Udp => "udp",
        _ => "any",
    };

    private static string BalanceWord(BalanceMethod b) => b switch
    {
        BalanceMethod.WeightedRoundRobin => "weightedrr",
        BalanceMethod.LeastConnections => "leastconn",
        _ => "roundrobin",
    };
}
