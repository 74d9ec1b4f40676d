using System.Globalization;
using System.Net;

namespace SslCluster.Protocol.Config;

/// <summary>Settings of the configuration language that operators may choose.</summary>
public sealed record ConfigOptions
{
    public static ConfigOptions Default { get; } = new();

    /// <summary>Turns the legacy-cipher warning into an error, for operators who want old names refused.</summary>
    public bool StrictCiphers { get; init; }
}

/// <summary>The outcome of applying configuration text: the new model, or nothing and the reasons why.</summary>
public sealed record ConfigApplyResult(RunningConfig? Config, IReadOnlyList<ConfigDiagnostic> Diagnostics)
{
    public bool Succeeded => Config is not null;

    public IEnumerable<ConfigDiagnostic> Errors => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);

    public IEnumerable<ConfigDiagnostic> Warnings => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning);

    public IEnumerable<ConfigDiagnostic> NotApplicable => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.NotApplicable);
}

/// <summary>
/// The CSS command language: applies lines of configuration text to a <see cref="RunningConfig"/>. Lines run in the
/// modes of the CSS CLI (global, ssl-proxy-list, service, owner, content); a line that does not belong to the
/// current mode but to an enclosing one leaves the mode, as pasting a <c>show running-config</c> does on a CSS.
/// Every line is checked; the first error does not stop the parse, so an operator sees every mistake at once, and
/// any error means nothing at all is applied.
/// </summary>
public static partial class ConfigParser
{
    public const int MinObjectNumber = 1;
    public const int MaxObjectNumber = 255;

    /// <summary>Applies <paramref name="text"/> on top of <paramref name="current"/>, then validates the result whole.</summary>
    public static ConfigApplyResult Apply(RunningConfig current, string text, ConfigOptions? options = null, ICertStoreView? store = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(text);
        var (config, diagnostics) = ApplyLines(current, text, options ?? ConfigOptions.Default);
        diagnostics.AddRange(ConfigValidator.Validate(config, store));
        var failed = diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
        return new ConfigApplyResult(failed ? null : config, diagnostics);
    }

    /// <summary>
    /// Rebuilds a model from text that this product printed and validated before (the journal's committed
    /// revisions). Throws if the text has errors, which would mean a corrupted or foreign journal.
    /// </summary>
    public static RunningConfig Reload(string printed)
    {
        var (config, diagnostics) = ApplyLines(RunningConfig.Empty, printed, ConfigOptions.Default);
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
            throw new FormatException("committed configuration does not parse: " + string.Join("; ", errors));
        return config;
    }

    /// <summary>Runs the lines without the whole-model validation (for tests of the language alone).</summary>
    internal static (RunningConfig Config, List<ConfigDiagnostic> Diagnostics) ApplyLines(RunningConfig current, string text, ConfigOptions options)
    {
        var session = new Session(current, options);
        foreach (var line in ConfigTokenizer.Lines(text))
        {
            session.Run(line);
        }
        return (session.Config, session.Diagnostics);
    }

    /// <summary>Parses a whole configuration from nothing.</summary>
    public static ConfigApplyResult Parse(string text, ConfigOptions? options = null, ICertStoreView? store = null) =>
        Apply(RunningConfig.Empty, text, options, store);

    private enum Mode
    {
        Global,
        ProxyList,
        Service,
        Owner,
        Content,

        /// <summary>Inside <c>keepalive NAME</c>: a global keepalive.</summary>
        Keepalive,

        /// <summary>Inside <c>interface</c> or <c>circuit</c>: hardware lines, reported as not applicable.</summary>
        Hardware,

        /// <summary>Inside <c>ssl-proxy context NAME</c> (the SSLM face).</summary>
        SslmContext,

        /// <summary>Inside a context's <c>service NAME [client]</c>.</summary>
        SslmService,

        /// <summary>Inside a context's <c>policy http-header NAME</c>.</summary>
        SslmHeaderPolicy,

        /// <summary>Inside a context's <c>pool ca NAME</c>.</summary>
        SslmPool,

        /// <summary>Inside <c>crypto pki trustpoint NAME</c>.</summary>
        Trustpoint,

        /// <summary>Inside <c>crypto pki certificate chain NAME</c>.</summary>
        CertificateChain,

        /// <summary>Inside <c>crypto pki certificate map NAME SEQUENCE</c>.</summary>
        CertificateMap,
    }

    /// <summary>A line could not be applied; carries the word at fault and the whole explanation.</summary>
    private sealed class LineException(string? word, string message) : Exception(message)
    {
        public string? Word { get; } = word;
    }

    private sealed partial class Session(RunningConfig config, ConfigOptions options)
    {
        private static readonly string[] GlobalWords = ["ssl-proxy-list", "keepalive", "service", "owner", "ssl", "ssl-proxy", "crypto", "no", "interface", "circuit", "bridge", "phy", "ip", "exit", "end", "configure", "content"];
        private static readonly string[] HardwareWords = ["interface", "circuit", "bridge", "phy", "ip"];

        /// <summary>
        /// What the CSS accepts inside an interface, circuit or circuit-IP block (CSS Administration Guide, "Configuring
        /// Interfaces and Circuits"); any other word is an error, as on the CSS, rather than a hardware line.
        /// </summary>
        private static readonly string[] HardwareBlockWords =
        [
            // interface mode
            "interface", "circuit", "description", "phy", "max-idle", "bridge", "trunk", "vlan", "default-vlan", "flow-control",
            "admin-shutdown", "isc-port-one", "isc-port-two", "gigabit",
            // circuit and circuit-IP modes
            "ip", "router-discovery", "redundancy", "redundancy-protocol", "broadcast", "redirects", "unreachables", "enable",
            "disable", "rip", "ospf", "no",
            // the SSL Services Module's VLAN subinterfaces (interface SSL-Proxy0.N)
            "encapsulation", "shutdown", "standby",
            // the SSLM 2.1 'ssl-proxy vlan N' block
            "ipaddr", "gateway", "route", "admin",
        ];
        private static readonly string[] ProxyListWords = ["ssl-server", "backend-server", "crl-record", "active", "suspend", "description", "no", "exit"];
        private static readonly string[] ServiceWords = ["type", "ip", "port", "protocol", "slot", "keepalive", "weight", "max-conns", "add", "remove", "active", "suspend", "description", "no", "exit"];
        private static readonly string[] KeepaliveWords = ["ip", "port", "type", "method", "uri", "hash", "frequency", "retryperiod", "maxfailure", "description", "active", "suspend", "no", "exit"];
        private static readonly string[] OwnerWords = ["content", "no", "exit"];
        private static readonly string[] ContentWords = ["vip", "protocol", "port", "add", "remove", "active", "suspend", "balance", "advanced-balance", "application", "no", "exit"];

        private Mode _mode = Mode.Global;
        private string _object = string.Empty;
        private string _owner = string.Empty;

        public RunningConfig Config { get; private set; } = config;

        public List<ConfigDiagnostic> Diagnostics { get; } = [];

        private int _line;

        public void Run(ConfigLine line)
        {
            _line = line.Number;
            ConfigTokenizer.Split(line.Text, out var unterminated);
            if (unterminated)
            {
                Error(null, "a quoted word is not closed; add the closing '\"'");
                return;
            }
            try
            {
                Dispatch(line.Words);
            }
            catch (LineException e)
            {
                Error(e.Word, e.Message);
            }
        }

        private void Error(string? word, string message) =>
            Diagnostics.Add(new ConfigDiagnostic(DiagnosticSeverity.Error, _line, word, message));

        private void Warn(string? word, string message) =>
            Diagnostics.Add(new ConfigDiagnostic(DiagnosticSeverity.Warning, _line, word, message));

        private void NotApplicable(string text) =>
            Diagnostics.Add(new ConfigDiagnostic(DiagnosticSeverity.NotApplicable, _line, null,
                $"'{text}' configures the reference chassis' hardware (interfaces, circuits, VLANs, routes); " +
                "a software node has none, so the line is accepted and ignored"));

        private void Dispatch(IReadOnlyList<string> w)
        {
            var first = w[0].ToLowerInvariant();
            if (first == "no" && w.Count == 1) throw new LineException(w[0], "incomplete command; write 'no' and what to remove");
            // Try the current mode, then each enclosing one: a global command leaves a service block, a content
            // line of another rule leaves the current content block, and so on.
            for (var mode = _mode; ; mode = Parent(mode))
            {
                if (Accepts(mode, first, w))
                {
                    if (mode != _mode)
                    {
                        _mode = mode;
                        if (mode == Mode.Global) _owner = string.Empty;
                    }
                    RunIn(mode, first, w);
                    return;
                }
                if (mode == Mode.Global) break;
            }
            var candidates = WordsOf(_mode).Concat(GlobalWords).Distinct();
            throw new LineException(w[0], $"unknown command {Where()}{Suggest.DidYouMean(first, candidates)}" +
                $" (commands here: {string.Join(", ", WordsOf(_mode).Where(x => x != "exit"))})");
        }

        private string Where() => _mode switch
        {
            Mode.ProxyList => $"in ssl-proxy-list {_object}",
            Mode.Service => $"in service {_object}",
            Mode.Owner => $"in owner {_owner}",
            Mode.Content => $"in content {_object} of owner {_owner}",
            Mode.Hardware => "in a hardware block",
            Mode.Keepalive => $"in keepalive {_object}",
            Mode.SslmContext => $"in ssl-proxy context {_context}",
            Mode.SslmService => $"in service {_object} of context {_context}",
            Mode.SslmHeaderPolicy => $"in policy http-header {_object} of context {_context}",
            Mode.SslmPool => $"in pool ca {_object} of context {_context}",
            Mode.Trustpoint => $"in crypto pki trustpoint {_object}",
            Mode.CertificateChain => $"in crypto pki certificate chain {_object}",
            Mode.CertificateMap => $"in crypto pki certificate map {_object} {_mapSequence}",
            _ => "at the global level",
        };

        private Mode Parent(Mode mode) => mode switch
        {
            Mode.SslmService or Mode.SslmHeaderPolicy or Mode.SslmPool when _legacyBlock => Mode.Global,
            Mode.Content => Mode.Owner,
            Mode.SslmService or Mode.SslmHeaderPolicy or Mode.SslmPool => Mode.SslmContext,
            _ => Mode.Global,
        };

        private static string[] WordsOf(Mode mode) => mode switch
        {
            Mode.ProxyList => ProxyListWords,
            Mode.Service => ServiceWords,
            Mode.Owner => OwnerWords,
            Mode.Content => ContentWords,
            Mode.Keepalive => KeepaliveWords,
            Mode.Hardware => GlobalWords,
            Mode.SslmContext => ContextWords,
            Mode.SslmService => SslmServiceWords,
            Mode.SslmHeaderPolicy => HeaderPolicyWords,
            Mode.SslmPool => PoolWords,
            Mode.Trustpoint => TrustpointWords,
            Mode.CertificateChain => ChainWords,
            Mode.CertificateMap => CertificateMapWords,
            _ => GlobalWords,
        };

        private bool Accepts(Mode mode, string first, IReadOnlyList<string> w)
        {
            if (mode == Mode.Hardware) return true;
            if (first == "no" && w.Count > 1)
            {
                // "no X" belongs to the mode that knows X.
                var second = w[1].ToLowerInvariant();
                return mode switch
                {
                    Mode.Global => second is "ssl-proxy-list" or "keepalive" or "service" or "owner" or "ssl" or "ssl-proxy" or "crypto",
                    Mode.SslmContext => second is "service" or "policy" or "pool" or "natpool" or "maxconns",
                    Mode.SslmService => SslmServiceWords.Contains(second) && second is not ("no" or "exit"),
                    Mode.SslmHeaderPolicy => HeaderPolicyWords.Contains(second) && second is not ("no" or "exit"),
                    Mode.SslmPool => second == "ca",
                    Mode.Trustpoint => TrustpointWords.Contains(second) && second is not ("no" or "exit" or "crl"),
                    Mode.CertificateChain => second == "certificate",
                    Mode.CertificateMap => second is "subject-name" or "issuer-name",
                    Mode.Owner => second == "content",
                    Mode.ProxyList => second is "ssl-server" or "backend-server" or "crl-record",
                    // "no keepalive NAME" removes a global keepalive; "no keepalive [OPTION]" is the service's.
                    Mode.Service => second is "weight" or "max-conns" or "description" or "slot" or "ip" or "port" ||
                        (second == "keepalive" && (w.Count == 2 || KeepaliveOptions.Contains(w[2].ToLowerInvariant()))),
                    Mode.Keepalive => KeepaliveWords.Contains(second) && second is not ("active" or "suspend" or "no" or "exit"),
                    Mode.Content => second is "vip" or "port" or "balance" or "advanced-balance",
                    _ => false,
                };
            }
            // "keepalive NAME" after a service block opens a global keepalive; "keepalive OPTION ..." is the service's.
            if (mode == Mode.Service && first == "keepalive" && w.Count == 2 && !KeepaliveOptions.Contains(w[1].ToLowerInvariant()))
                return false;
            return WordsOf(mode).Contains(first);
        }

        private void RunIn(Mode mode, string first, IReadOnlyList<string> w)
        {
            if (first == "exit")
            {
                _mode = Parent(_mode);
                return;
            }
            switch (mode)
            {
                case Mode.Hardware:
                    // The SSLM's 'ssl-proxy mac-address' is an interface command (release notes 3.1(4)).
                    if (first == "ssl-proxy" && w.Count > 1 && w[1].Equals("mac-address", StringComparison.OrdinalIgnoreCase))
                    {
                        NotApplicable(string.Join(' ', w));
                        return;
                    }
                    // A hardware block lasts until a line that the global level knows and that is not hardware.
                    if (GlobalWords.Contains(first) && !HardwareWords.Contains(first) && first is not ("ip" or "exit" or "no"))
                    {
                        _mode = Mode.Global;
                        Dispatch(w);
                        return;
                    }
                    // "no ssl-proxy-list X" and the like end the block like their positive forms.
                    if (first == "no" && w.Count > 1 && Accepts(Mode.Global, first, w))
                    {
                        _mode = Mode.Global;
                        Dispatch(w);
                        return;
                    }
                    if (!HardwareBlockWords.Contains(first))
                    {
                        var candidates = HardwareBlockWords.Concat(GlobalWords).Distinct();
                        throw new LineException(w[0], $"unknown command in a hardware block{Suggest.DidYouMean(first, candidates)}" +
                            " (a hardware block takes interface, circuit and circuit-IP commands, which are accepted and ignored;" +
                            " any command of the global level ends it)");
                    }
                    NotApplicable(string.Join(' ', w));
                    return;
                case Mode.Global: RunGlobal(first, w); return;
                case Mode.ProxyList: RunProxyList(first, w); return;
                case Mode.Service: RunService(first, w); return;
                case Mode.Owner: RunOwner(first, w); return;
                case Mode.Content: RunContent(first, w); return;
                case Mode.Keepalive: RunKeepalive(first, w); return;
                case Mode.SslmContext: RunContext(first, w); return;
                case Mode.SslmService: RunSslmService(first, w); return;
                case Mode.SslmHeaderPolicy: RunHeaderPolicy(first, w); return;
                case Mode.SslmPool: RunPool(first, w); return;
                case Mode.Trustpoint: RunTrustpoint(first, w); return;
                case Mode.CertificateChain: RunChain(first, w); return;
                case Mode.CertificateMap: RunCertificateMap(first, w); return;
            }
        }

        // ------------------------------------------------------------------ global

        private void RunGlobal(string first, IReadOnlyList<string> w)
        {
            switch (first)
            {
                case "configure" or "end":
                    return;
                case "ssl-proxy-list":
                    Arity(w, 2, 2, "ssl-proxy-list NAME");
                    var name = Name(w[1], "proxy list");
                    if (!Config.ProxyLists.ContainsKey(name))
                        Config = Config with { ProxyLists = Config.ProxyLists.SetItem(name, new SslProxyList(name)) };
                    Enter(Mode.ProxyList, name);
                    return;
                case "keepalive":
                    Arity(w, 2, 2, "keepalive NAME");
                    var kal = Name(w[1], "keepalive");
                    if (!Config.Keepalives.ContainsKey(kal))
                        Config = Config with { Keepalives = Config.Keepalives.SetItem(kal, new GlobalKeepalive(kal)) };
                    Enter(Mode.Keepalive, kal);
                    return;
                case "service":
                    Arity(w, 2, 2, "service NAME");
                    var svc = Name(w[1], "service");
                    if (!Config.Services.ContainsKey(svc))
                        Config = Config with { Services = Config.Services.SetItem(svc, new Service(svc)) };
                    Enter(Mode.Service, svc);
                    return;
                case "owner":
                    Arity(w, 2, 2, "owner NAME");
                    var owner = Name(w[1], "owner");
                    if (!Config.Owners.ContainsKey(owner))
                        Config = Config with { Owners = Config.Owners.SetItem(owner, new Owner(owner)) };
                    _owner = owner;
                    Enter(Mode.Owner, owner);
                    return;
                case "content":
                    throw new LineException(w[0], "a content rule belongs to an owner; write 'owner NAME' on the line before it");
                case "ssl":
                    RunSsl(w);
                    return;
                case "ssl-proxy":
                    RunSslProxy(w);
                    return;
                case "crypto":
                    RunCrypto(w);
                    return;
                case "no":
                    RunGlobalNo(w);
                    return;
                case "interface" or "circuit":
                    NotApplicable(string.Join(' ', w));
                    _mode = Mode.Hardware;
                    return;
                case "bridge" or "phy":
                    NotApplicable(string.Join(' ', w));
                    return;
                case "ip":
                    if (w.Count > 1 && w[1].Equals("route", StringComparison.OrdinalIgnoreCase))
                    {
                        NotApplicable(string.Join(' ', w));
                        return;
                    }
                    throw new LineException(w.Count > 1 ? w[1] : w[0], "at the global level only 'ip route ...' is known (and not applicable); 'ip address' belongs in a service block");
            }
        }

        private void Enter(Mode mode, string name)
        {
            _mode = mode;
            _object = name;
        }

        private void RunSsl(IReadOnlyList<string> w)
        {
            if (w.Count < 2)
                throw new LineException(w[0], "incomplete command; write 'ssl associate rsakey|ecdsakey|cert NAME FILE'");
            var verb = w[1].ToLowerInvariant();
            switch (verb)
            {
                case "associate":
                    break;
                case "genrsa" or "genecdsa" or "gencsr" or "gencert" or "gendsa" or "gendh":
                    throw new LineException(w[1], $"'ssl {verb}' is an operator command that creates a file of the certificate store, not a configuration line; run it with 'sslctl ssl {verb} ...'");
                default:
                    throw new LineException(w[1], "unknown 'ssl' command; configuration knows 'ssl associate'" + Suggest.DidYouMean(verb, ["associate"]));
            }
            if (w.Count != 5)
                throw new LineException(w[^1], "'ssl associate' takes a kind, a name and a file: 'ssl associate rsakey|ecdsakey|cert NAME FILE'");
            var kind = w[2].ToLowerInvariant() switch
            {
                "rsakey" => AssociationKind.RsaKey,
                "ecdsakey" => AssociationKind.EcdsaKey,
                "cert" => AssociationKind.Cert,
                "dsakey" => throw new LineException(w[2], "DSA keys are not supported (not usable with TLS 1.3, weak in 1.2); generate an RSA or ECDSA key with 'ssl genrsa' or 'ssl genecdsa' and associate it with 'ssl associate rsakey|ecdsakey'"),
                "dhparam" => throw new LineException(w[2], "static DH parameters are not used: key exchange is always ephemeral ECDHE (X25519, P-256); remove this line"),
                var other => throw new LineException(w[2], "unknown association kind; write rsakey, ecdsakey or cert" + Suggest.DidYouMean(other, ["rsakey", "ecdsakey", "cert"])),
            };
            var name = Name(w[3], "association");
            var file = Name(w[4], "file");
            if (Config.Associations.TryGetValue(name, out var existing) && existing.Kind != kind)
                throw new LineException(w[3], $"the name '{name}' is already associated as {KindWord(existing.Kind)} with '{existing.FileName}'; choose another name or remove it first with 'no ssl associate {KindWord(existing.Kind)} {name}'");
            Config = Config with { Associations = Config.Associations.SetItem(name, new KeyAssociation(kind, name, file)) };
        }

        private static string KindWord(AssociationKind kind) => ConfigWords.Kind(kind);

        private void RunGlobalNo(IReadOnlyList<string> w)
        {
            var what = w[1].ToLowerInvariant();
            switch (what)
            {
                case "ssl-proxy-list":
                    Arity(w, 3, 3, "no ssl-proxy-list NAME");
                    Config = Config with { ProxyLists = Config.ProxyLists.Remove(Existing(Config.ProxyLists, w[2], "ssl-proxy-list")) };
                    return;
                case "keepalive":
                    Arity(w, 3, 3, "no keepalive NAME");
                    Config = Config with { Keepalives = Config.Keepalives.Remove(Existing(Config.Keepalives, w[2], "global keepalive")) };
                    return;
                case "service":
                    Arity(w, 3, 3, "no service NAME");
                    Config = Config with { Services = Config.Services.Remove(Existing(Config.Services, w[2], "service")) };
                    return;
                case "owner":
                    Arity(w, 3, 3, "no owner NAME");
                    Config = Config with { Owners = Config.Owners.Remove(Existing(Config.Owners, w[2], "owner")) };
                    return;
                case "ssl-proxy":
                    if (w.Count == 4 && w[2].Equals("context", StringComparison.OrdinalIgnoreCase))
                    {
                        Config = Config with { Contexts = Config.Contexts.Remove(Existing(Config.Contexts, w[3], "context")) };
                        return;
                    }
                    throw new LineException(w[^1], "write 'no ssl-proxy context NAME'");
                case "crypto":
                    RunCryptoNo(w);
                    return;
                case "ssl":
                    if (w.Count != 5 || !w[2].Equals("associate", StringComparison.OrdinalIgnoreCase))
                        throw new LineException(w[^1], "write 'no ssl associate rsakey|ecdsakey|cert NAME'");
                    var name = Existing(Config.Associations, w[4], "association");
                    Config = Config with { Associations = Config.Associations.Remove(name) };
                    return;
            }
        }

        private static string Existing<T>(ValueMap<string, T> map, string name, string what)
        {
            if (map.ContainsKey(name)) return name;
            throw new LineException(name, $"there is no {what} named '{name}'" + Suggest.DidYouMean(name, map.Keys));
        }

        // ------------------------------------------------------------------ ssl-proxy-list

        private SslProxyList List => Config.ProxyLists[_object];

        private void SetList(SslProxyList list) =>
            Config = Config with { ProxyLists = Config.ProxyLists.SetItem(list.Name, list) };

        private static readonly string[] SslServerOptions = ["rsakey", "rsacert", "ecdsakey", "ecdsacert", "vip", "port", "cipher", "session-cache", "handshake", "idle", "version", "authentication", "cacert", "crl", "failure", "failure-url", "revocation-check", "client-ocsp-url", "log-auth-failures", "urlrewrite", "alpn", "ocsp-url", "http-reuse", "http-header", "send-proxy-v2"];
        private static readonly string[] BackendOptions = ["type", "ip", "port", "server-ip", "server-port", "server-name", "cipher", "rsakey", "rsacert", "cacert", "session-cache", "version", "handshake"];

        private void RunProxyList(string first, IReadOnlyList<string> w)
        {
            switch (first)
            {
                case "active":
                    Arity(w, 1, 1, "active");
                    SetList(List with { State = AdminState.Active });
                    return;
                case "suspend":
                    Arity(w, 1, 1, "suspend");
                    SetList(List with { State = AdminState.Suspended });
                    return;
                case "description":
                    Arity(w, 2, 2, "description \"TEXT\"");
                    SetList(List with { Description = w[1] });
                    return;
                case "ssl-server":
                    SslServerLine(w);
                    return;
                case "backend-server":
                    BackendLine(w);
                    return;
                case "crl-record":
                    CrlRecordLine(w);
                    return;
                case "no" when w.Count > 1 && w[1].Equals("crl-record", StringComparison.OrdinalIgnoreCase):
                    Arity(w, 3, 3, "no crl-record NAME");
                    SetList(List with { CrlRecords = List.CrlRecords.Remove(Existing(List.CrlRecords, w[2], $"crl-record in ssl-proxy-list {List.Name}")) });
                    return;
                case "no":
                    ProxyListNo(w);
                    return;
            }
        }

        private void SslServerLine(IReadOnlyList<string> w)
        {
            if (w.Count < 2) throw new LineException(w[0], "missing the ssl-server number; write 'ssl-server N' (1-255)");
            var n = Number(w[1], MinObjectNumber, MaxObjectNumber, "ssl-server number");
            var list = List;
            if (w.Count == 2)
            {
                if (!list.SslServers.ContainsKey(n)) SetList(list with { SslServers = list.SslServers.SetItem(n, new SslServer(n)) });
                return;
            }
            if (!list.SslServers.TryGetValue(n, out var server))
            {
                throw new LineException(w[1], $"ssl-server {n} does not exist in ssl-proxy-list {list.Name}; create it first with a line 'ssl-server {n}'");
            }
            var option = w[2].ToLowerInvariant();
            var args = w.Skip(3).ToArray();
            server = option switch
            {
                "rsakey" => server with { RsaKey = One(args, w, $"ssl-server {n} rsakey NAME") },
                "rsacert" => server with { RsaCert = One(args, w, $"ssl-server {n} rsacert NAME") },
                "ecdsakey" => server with { EcdsaKey = One(args, w, $"ssl-server {n} ecdsakey NAME") },
                "ecdsacert" => server with { EcdsaCert = One(args, w, $"ssl-server {n} ecdsacert NAME") },
                "dsakey" or "dsacert" or "dhparam" => throw new LineException(w[2], "DSA keys and static DH parameters are not supported; use rsakey/rsacert or ecdsakey/ecdsacert (key exchange is always ECDHE)"),
                "vip" => server with { VipAddress = Address(AfterKeyword(args, w, "address", $"ssl-server {n} vip address IP")) },
                "port" => server with { Port = Port(One(args, w, $"ssl-server {n} port PORT")) },
                "cipher" => server with { Ciphers = AddCipher(server, args, w, n) },
                "session-cache" => server with { SessionCacheSeconds = Number(One(args, w, $"ssl-server {n} session-cache SECONDS"), 0, 72000, "session-cache timeout (seconds)") },
                "handshake" => server with { HandshakeTimeoutSeconds = Number(AfterKeyword(args, w, "timeout", $"ssl-server {n} handshake timeout SECONDS"), 1, 3600, "handshake timeout (seconds)") },
                "idle" => server with { IdleTimeoutSeconds = Number(AfterKeyword(args, w, "timeout", $"ssl-server {n} idle timeout SECONDS"), 0, 86400, "idle timeout (seconds; 0 never closes an idle flow)") },
                "version" => server with { MinimumVersion = Version(One(args, w, $"ssl-server {n} version tls1.2|tls1.3")) },
                "urlrewrite" => server with { UrlRewrites = AddUrlRewrite(server, args, w) },
                "alpn" => server with { Alpn = AlpnList(args, w, n) },
                "ocsp-url" => server with { OcspUrl = Url(One(args, w, $"ssl-server {n} ocsp-url \"URL\""), httpsToo: false) },
                "http-reuse" => server with
                {
                    HttpReuseSeconds = args.Length switch
                    {
                        0 => SslServer.DefaultHttpReuseSeconds,
                        1 => Number(args[0], 1, 3600, "http-reuse idle time (seconds an idle back-end connection is kept)"),
                        _ => throw new LineException(w[^1], $"write 'ssl-server {n} http-reuse [SECONDS]'"),
                    },
                },
                "authentication" or "cacert" or "crl" or "failure" or "failure-url" or "revocation-check" or "client-ocsp-url" or "log-auth-failures" => server with { ClientAuth = ClientAuthLine(server.ClientAuth, option, args, w, n) },
                "http-header" => server with { HttpHeaders = HttpHeaderLine(server.HttpHeaders, args, w, n) },
                "send-proxy-v2" when args.Length == 0 => server with { SendProxyV2 = true },
                "send-proxy-v2" => throw new LineException(args[0], $"write 'ssl-server {n} send-proxy-v2' (it takes no value)"),
                _ => throw new LineException(w[2], $"'{w[2]}' is not an ssl-server option{Suggest.DidYouMean(option, SslServerOptions)} (options: {string.Join(", ", SslServerOptions)})"),
            };
            SetList(List with { SslServers = List.SslServers.SetItem(n, server) });
        }

        private ValueList<CipherEntry> AddCipher(SslServer server, string[] args, IReadOnlyList<string> w, int n)
        {
            if (args.Length is < 3 or > 4)
                throw new LineException(w[^1], $"write 'ssl-server {n} cipher NAME IP PORT [WEIGHT]': the suite, then the clear-text destination of its flows");
            var cipher = CipherName(args[0]);
            var entry = new CipherEntry(cipher, Address(args[1]), Port(args[2]), args.Length == 4 ? Number(args[3], 1, 10, "cipher weight") : 1);
            var index = server.Ciphers.ToList().FindIndex(c => c.Name == entry.Name);
            return index >= 0 ? server.Ciphers.SetItem(index, entry) : server.Ciphers.Add(entry);
        }

        /// <summary>
        /// <c>urlrewrite NUMBER HOSTNAME [sslport PORT [clearport PORT]]</c>, in that order as on the CSS; a rule with
        /// the number of an existing one replaces it.
        /// </summary>
        private static ValueMap<int, UrlRewriteRule> AddUrlRewrite(SslServer server, string[] args, IReadOnlyList<string> w)
        {
            var usage = $"ssl-server {server.Number} urlrewrite NUMBER HOSTNAME [sslport PORT [clearport PORT]]";
            if (args.Length < 2)
                throw new LineException(w[^1], $"incomplete command; write '{usage}' (NUMBER 1-{UrlRewriteRule.MaxRules}, HOSTNAME such as www.example.com or *.example.com)");
            var number = Number(args[0], 1, UrlRewriteRule.MaxRules, "urlrewrite rule number");
            if (UrlRewriteRule.HostProblem(args[1]) is { } why) throw new LineException(args[1], why);
            var rule = new UrlRewriteRule(number, args[1]);
            var rest = args.AsSpan(2);
            if (rest.Length > 0)
            {
                rule = rule with { SslPort = PortAfter(rest, "sslport", usage) };
                rest = rest[2..];
            }
            if (rest.Length > 0)
            {
                rule = rule with { ClearPort = PortAfter(rest, "clearport", usage) };
                rest = rest[2..];
            }
            if (rest.Length > 0) throw new LineException(rest[0], $"unexpected word; write '{usage}'");
            return server.UrlRewrites.SetItem(number, rule);
        }

        /// <summary>"sslport 8443": the keyword, then a port; the error for a missing or misplaced keyword says which.</summary>
        private static int PortAfter(ReadOnlySpan<string> words, string keyword, string usage)
        {
            if (!words[0].Equals(keyword, StringComparison.OrdinalIgnoreCase))
            {
                var word = words[0];
                if (keyword == "sslport" && word.Equals("clearport", StringComparison.OrdinalIgnoreCase))
                    throw new LineException(word, $"'clearport' comes after 'sslport'; write 'sslport {UrlRewriteRule.DefaultSslPort} clearport PORT' to keep the default SSL port ({usage})");
                throw new LineException(word, $"expected '{keyword}'{Suggest.DidYouMean(word.ToLowerInvariant(), [keyword])}; write '{usage}'");
            }
            if (words.Length < 2) throw new LineException(words[0], $"incomplete command; '{keyword}' needs a port; write '{usage}'");
            return Port(words[1]);
        }

        private static ValueMap<int, UrlRewriteRule> RemoveUrlRewrite(SslServer s, string word)
        {
            var number = Number(word, 1, UrlRewriteRule.MaxRules, "urlrewrite rule number");
            if (!s.UrlRewrites.ContainsKey(number))
            {
                var existing = s.UrlRewrites.Count == 0 ? "it has none" : "its rules: " + string.Join(", ", s.UrlRewrites.Keys);
                throw new LineException(word, $"ssl-server {s.Number} has no urlrewrite rule {number} ({existing})");
            }
            return s.UrlRewrites.Remove(number);
        }

        private string CipherName(string word)
        {
            var name = word.ToLowerInvariant();
            if (!CipherCatalog.TryGet(name, out var info))
                throw new LineException(word, "unknown cipher suite" + Suggest.DidYouMean(name, CipherCatalog.KnownNames) +
                    "; modern names: all-cipher-suites, ecdhe-rsa-with-aes-128-gcm-sha256, ecdhe-ecdsa-with-aes-128-gcm-sha256, tls13-aes-128-gcm-sha256, ...");
            if (info.Status == CipherStatus.Legacy)
            {
                if (options.StrictCiphers)
                    throw new LineException(word, CipherCatalog.LegacyWarning(info) + "; strict cipher checking is on, so name a modern suite such as ecdhe-rsa-with-aes-128-gcm-sha256");
                Warn(word, CipherCatalog.LegacyWarning(info));
            }
            return name;
        }

        private void BackendLine(IReadOnlyList<string> w)
        {
            if (w.Count < 2) throw new LineException(w[0], "missing the backend-server number; write 'backend-server N' (1-255)");
            var n = Number(w[1], MinObjectNumber, MaxObjectNumber, "backend-server number");
            var list = List;
            if (w.Count == 2)
            {
                if (!list.BackendServers.ContainsKey(n)) SetList(list with { BackendServers = list.BackendServers.SetItem(n, new BackendServer(n)) });
                return;
            }
            if (!list.BackendServers.TryGetValue(n, out var b))
                throw new LineException(w[1], $"backend-server {n} does not exist in ssl-proxy-list {list.Name}; create it first with a line 'backend-server {n}'");
            var option = w[2].ToLowerInvariant();
            var args = w.Skip(3).ToArray();
            b = option switch
            {
                "type" => b with
                {
                    Type = One(args, w, $"backend-server {n} type backend-ssl|initiation").ToLowerInvariant() switch
                    {
                        "backend-ssl" => BackendServerType.BackendSsl,
                        "initiation" => BackendServerType.Initiation,
                        var t => throw new LineException(t, "unknown backend-server type; write backend-ssl or initiation" + Suggest.DidYouMean(t, ["backend-ssl", "initiation"])),
                    },
                },
                "ip" => b with { IpAddress = Address(AfterKeyword(args, w, "address", $"backend-server {n} ip address IP")) },
                "port" => b with { Port = Port(One(args, w, $"backend-server {n} port PORT")) },
                "server-ip" => b with { ServerIp = Address(One(args, w, $"backend-server {n} server-ip IP")) },
                "server-port" => b with { ServerPort = Port(One(args, w, $"backend-server {n} server-port PORT")) },
                "server-name" => b with { ServerName = DnsName(One(args, w, $"backend-server {n} server-name HOST")) },
                "cipher" => b with { Ciphers = b.Ciphers.Contains(CipherName(One(args.Take(1).ToArray(), w, $"backend-server {n} cipher NAME"))) ? b.Ciphers : b.Ciphers.Add(args[0].ToLowerInvariant()) },
                "rsakey" => b with { RsaKey = One(args, w, $"backend-server {n} rsakey NAME") },
                "rsacert" => b with { RsaCert = One(args, w, $"backend-server {n} rsacert NAME") },
                "cacert" => b with { CaCert = One(args, w, $"backend-server {n} cacert NAME") },
                "session-cache" => b with { SessionCacheSeconds = Number(One(args, w, $"backend-server {n} session-cache SECONDS"), 0, 72000, "session-cache timeout (seconds)") },
                "version" => b with { MinimumVersion = Version(One(args, w, $"backend-server {n} version tls1.2|tls1.3")) },
                "handshake" => b with { HandshakeTimeoutSeconds = Number(AfterKeyword(args, w, "timeout", $"backend-server {n} handshake timeout SECONDS"), 1, 3600, "handshake timeout (seconds)") },
                "renegotiation" or "rehandshake" => throw new LineException(w[2], "renegotiation is never used (CVE-2009-3555 and handshake floods); a session is reused until its session-cache timeout, then a full handshake starts a new one: remove the line, or set 'session-cache SECONDS'"),
                _ => throw new LineException(w[2], $"'{w[2]}' is not a backend-server option{Suggest.DidYouMean(option, BackendOptions)} (options: {string.Join(", ", BackendOptions)})"),
            };
            SetList(List with { BackendServers = List.BackendServers.SetItem(n, b) });
        }

        private void ProxyListNo(IReadOnlyList<string> w)
        {
            var what = w[1].ToLowerInvariant();
            if (w.Count < 3) throw new LineException(w[1], $"write 'no {what} N' or 'no {what} N OPTION'");
            var n = Number(w[2], MinObjectNumber, MaxObjectNumber, $"{what} number");
            var list = List;
            if (what == "ssl-server")
            {
                if (!list.SslServers.TryGetValue(n, out var s))
                    throw new LineException(w[2], $"ssl-proxy-list {list.Name} has no ssl-server {n}");
                if (w.Count == 3)
                {
                    SetList(list with { SslServers = list.SslServers.Remove(n) });
                    return;
                }
                var fresh = new SslServer(n);
                var option = w[3].ToLowerInvariant();
                s = option switch
                {
                    "rsakey" => s with { RsaKey = null },
                    "rsacert" => s with { RsaCert = null },
                    "ecdsakey" => s with { EcdsaKey = null },
                    "ecdsacert" => s with { EcdsaCert = null },
                    "vip" => s with { VipAddress = null },
                    "port" => s with { Port = fresh.Port },
                    "session-cache" => s with { SessionCacheSeconds = fresh.SessionCacheSeconds },
                    "handshake" => s with { HandshakeTimeoutSeconds = fresh.HandshakeTimeoutSeconds },
                    "idle" => s with { IdleTimeoutSeconds = fresh.IdleTimeoutSeconds },
                    "version" => s with { MinimumVersion = fresh.MinimumVersion },
                    "alpn" => s with { Alpn = fresh.Alpn },
                    "ocsp-url" => s with { OcspUrl = null },
                    "http-header" => s with { HttpHeaders = HttpHeaderNo(s.HttpHeaders, [.. w.Skip(4)], w, n) },
                    "http-reuse" => s with { HttpReuseSeconds = 0 },
                    "send-proxy-v2" => s with { SendProxyV2 = false },
                    "cipher" when w.Count == 5 => s with { Ciphers = RemoveCipher(s, w[4]) },
                    "cipher" => throw new LineException(w[3], $"write 'no ssl-server {n} cipher NAME'"),
                    "authentication" or "cacert" or "crl" or "failure" or "failure-url" or "revocation-check" or "client-ocsp-url" or "log-auth-failures" => s with { ClientAuth = ClientAuthNo(s, option, w) },
                    "urlrewrite" when w.Count == 5 => s with { UrlRewrites = RemoveUrlRewrite(s, w[4]) },
                    "urlrewrite" => throw new LineException(w[^1], $"write 'no ssl-server {n} urlrewrite NUMBER' (the rule number alone)"),
                    _ => throw new LineException(w[3], $"'{w[3]}' is not an ssl-server option{Suggest.DidYouMean(option, SslServerOptions)}"),
                };
                SetList(list with { SslServers = list.SslServers.SetItem(n, s) });
                return;
            }
            if (!list.BackendServers.TryGetValue(n, out var b))
                throw new LineException(w[2], $"ssl-proxy-list {list.Name} has no backend-server {n}");
            if (w.Count == 3)
            {
                SetList(list with { BackendServers = list.BackendServers.Remove(n) });
                return;
            }
            var bopt = w[3].ToLowerInvariant();
            b = bopt switch
            {
                "rsakey" => b with { RsaKey = null },
                "rsacert" => b with { RsaCert = null },
                "cacert" => b with { CaCert = null },
                "server-name" => b with { ServerName = null },
                "cipher" when w.Count == 5 => b with { Ciphers = b.Ciphers.Remove(w[4].ToLowerInvariant()) },
                _ => throw new LineException(w[3], $"'no backend-server {n} {w[3]}' is not a command; options that can be removed: rsakey, rsacert, cacert, server-name, cipher NAME"),
            };
            SetList(list with { BackendServers = list.BackendServers.SetItem(n, b) });
        }

        /// <summary>ALPN protocol names (RFC 7301 registry style: 1 to 255 printable ASCII characters), lower case, no repeats.</summary>
        private static ValueList<string> AlpnList(string[] args, IReadOnlyList<string> w, int n)
        {
            if (args.Length == 0) throw new LineException(w[^1], $"write 'ssl-server {n} alpn PROTOCOL...', for example 'ssl-server {n} alpn h2 http/1.1'");
            var list = ValueList<string>.Empty;
            foreach (var word in args)
            {
                var name = word.ToLowerInvariant();
                if (name.Length > 255 || !name.All(c => c is > ' ' and < (char)127))
                    throw new LineException(word, $"'{word}' is not an ALPN protocol name (printable ASCII, for example http/1.1 or h2)");
                if (list.Contains(name)) throw new LineException(word, $"'{word}' is listed twice");
                list = list.Add(name);
            }
            return list;
        }

        /// <summary>A DNS host name (RFC 1123 labels, at most 253 characters), lower case, without a trailing dot.</summary>
        private static string DnsName(string word)
        {
            var name = word.TrimEnd('.').ToLowerInvariant();
            if (name.Length is 0 or > 253 || Uri.CheckHostName(name) != UriHostNameType.Dns ||
                name.Split('.').Any(label => label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
            {
                throw new LineException(word, $"'{word}' is not a DNS host name (letters, digits and hyphens in dot-separated labels, for example backend1.example.com)");
            }

            return name;
        }

        private static ValueList<CipherEntry> RemoveCipher(SslServer s, string name)
        {
            var lower = name.ToLowerInvariant();
            if (!s.Ciphers.Any(c => c.Name == lower))
                throw new LineException(name, $"ssl-server {s.Number} has no cipher '{name}'" + Suggest.DidYouMean(lower, s.Ciphers.Select(c => c.Name)));
            return s.Ciphers.RemoveAll(c => c.Name == lower);
        }
    }
}
