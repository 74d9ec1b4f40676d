using System.Globalization;
using System.Net;

namespace SslCluster.Protocol.Config;

public static partial class ConfigParser
{
    private sealed partial class Session
    {
        // ------------------------------------------------------------------ service

        private static readonly string[] ServiceTypes = ["local", "ssl-accel", "ssl-accel-backend", "ssl-init"];
        private static readonly string[] KeepaliveOptions = ["type", "port", "frequency", "retryperiod", "maxfailure", "uri", "method", "hash"];
        private static readonly string[] KeepaliveTypes = ["none", "icmp", "tcp", "http", "ssl", "named", "script"];

        private Service Svc => Config.Services[_object];

        private void SetService(Service s) => Config = Config with { Services = Config.Services.SetItem(s.Name, s) };

        private void RunService(string first, IReadOnlyList<string> w)
        {
            var s = Svc;
            var args = w.Skip(1).ToArray();
            s = first switch
            {
                "type" => s with { Type = ServiceTypeOf(One(args, w, "type ssl-accel|ssl-accel-backend|ssl-init|local")) },
                "ip" => s with { IpAddress = Address(AfterKeyword(args, w, "address", "ip address IP")) },
                "port" => s with { Port = Port(One(args, w, "port PORT")) },
                "protocol" => s with { Protocol = ProtocolOf(One(args, w, "protocol tcp|udp|any")) },
                "slot" => s with { Slot = Number(One(args, w, "slot N"), 1, 255, "slot") },
                "keepalive" => s with { Keepalive = KeepaliveLine(s.Keepalive, args, w) },
                "weight" => s with { Weight = Number(One(args, w, "weight N"), 0, Service.MaxWeight, "weight") },
                "max-conns" => s with { MaxConnections = Number(One(args, w, "max-conns N"), 0, Service.MaxMaxConnections, "max-conns (connections open at once on each node; 0 for no limit)") },
                "add" => AddProxyList(s, args, w),
                "remove" => RemoveProxyList(s, args, w),
                "active" => Bare(w, s with { State = AdminState.Active }),
                "suspend" => Bare(w, s with { State = AdminState.Suspended }),
                "description" => s with { Description = One(args, w, "description \"TEXT\"") },
                "no" => ServiceNo(s, w),
                _ => s,
            };
            SetService(s);
        }

        private static T Bare<T>(IReadOnlyList<string> w, T value)
        {
            Arity(w, 1, 1, w[0]);
            return value;
        }

        private static ServiceType ServiceTypeOf(string word) => word.ToLowerInvariant() switch
        {
            "local" => ServiceType.Local,
            "ssl-accel" => ServiceType.SslAccel,
            "ssl-accel-backend" => ServiceType.SslAccelBackend,
            "ssl-init" => ServiceType.SslInit,
            var t => throw new LineException(word, "unknown service type" + Suggest.DidYouMean(t, ServiceTypes) + $" (types: {string.Join(", ", ServiceTypes)})"),
        };

        private static ContentProtocol ProtocolOf(string word) => word.ToLowerInvariant() switch
        {
            "tcp" => ContentProtocol.Tcp,
            "udp" => ContentProtocol.Udp,
            "any" => ContentProtocol.Any,
            var p => throw new LineException(word, "unknown protocol; write tcp, udp or any" + Suggest.DidYouMean(p, ["tcp", "udp", "any"])),
        };

        private static KeepaliveSettings KeepaliveLine(KeepaliveSettings k, string[] args, IReadOnlyList<string> w)
        {
            if (args.Length == 0)
                throw new LineException(w[0], $"incomplete keepalive command; write 'keepalive OPTION VALUE' ({string.Join(", ", KeepaliveOptions)})");
            return KeepaliveOption(k, args[0], args.Skip(1).ToArray(), w, "keepalive ", allowNamed: true);
        }

        /// <summary>
        /// One keepalive attribute, as a service writes it after <c>keepalive</c> (<paramref name="prefix"/>
        /// "keepalive ") or a global keepalive writes it bare (prefix empty). A global keepalive cannot be named.
        /// </summary>
        private static KeepaliveSettings KeepaliveOption(KeepaliveSettings k, string word, string[] rest, IReadOnlyList<string> w, string prefix, bool allowNamed)
        {
            var option = word.ToLowerInvariant();
            return option switch
            {
                "type" => KeepaliveTypeLine(k, rest, w, prefix, allowNamed),
                "port" => k with { Port = Port(One(rest, w, $"{prefix}port PORT")) },
                "frequency" => k with { FrequencySeconds = Number(One(rest, w, $"{prefix}frequency SECONDS"), 2, 255, "keepalive frequency (seconds)") },
                "retryperiod" => k with { RetryPeriodSeconds = Number(One(rest, w, $"{prefix}retryperiod SECONDS"), 2, 255, "keepalive retry period (seconds)") },
                "maxfailure" => k with { MaxFailure = Number(One(rest, w, $"{prefix}maxfailure N"), 1, 10, "keepalive maxfailure") },
                "uri" => k with { Uri = One(rest, w, $"{prefix}uri \"/PATH\"") },
                "hash" => k with { Hash = Md5Hex(One(rest, w, $"{prefix}hash \"MD5HEX\"")) },
                "method" => k with
                {
                    MethodHead = One(rest, w, $"{prefix}method get|head").ToLowerInvariant() switch
                    {
                        "head" => true,
                        "get" => false,
                        var m => throw new LineException(rest[0], $"write '{prefix}method get' or '{prefix}method head'" + Suggest.DidYouMean(m, ["get", "head"])),
                    },
                },
                _ => throw new LineException(word, "unknown keepalive option" + Suggest.DidYouMean(option, KeepaliveOptions) + $" (options: {string.Join(", ", KeepaliveOptions)})"),
            };
        }

        private static string Md5Hex(string word)
        {
            if (word.Length != 32 || !word.All(char.IsAsciiHexDigit))
                throw new LineException(word, "a keepalive hash is the MD5 of the page: 32 hexadecimal digits");
            return word.ToLowerInvariant();
        }

        /// <summary>
        /// <c>type none|icmp|tcp|ssl</c>, <c>type http [encrypt]</c>, <c>type named NAME</c>,
        /// <c>type script NAME ["ARGS"] [use-output]</c>. A new type drops the words of the previous one.
        /// </summary>
        private static KeepaliveSettings KeepaliveTypeLine(KeepaliveSettings k, string[] rest, IReadOnlyList<string> w, string prefix, bool allowNamed)
        {
            var usage = $"{prefix}type none|icmp|tcp|http [encrypt]|ssl|{(allowNamed ? "named NAME|" : "")}script NAME [\"ARGS\"] [use-output]";
            if (rest.Length == 0) throw new LineException(w[^1], $"incomplete command; write '{usage}'");
            var t = rest[0].ToLowerInvariant();
            var bare = k with { Encrypt = false, Named = null, Script = null, ScriptArgs = null, UseOutput = false };
            switch (t)
            {
                case "http":
                    if (rest.Length == 2 && rest[1].Equals("encrypt", StringComparison.OrdinalIgnoreCase))
                        return bare with { Type = KeepaliveType.Http, Encrypt = true };
                    if (rest.Length > 1) throw new LineException(rest[1], $"unexpected word; write '{prefix}type http' or '{prefix}type http encrypt'" + Suggest.DidYouMean(rest[1], ["encrypt"]));
                    return bare with { Type = KeepaliveType.Http };
                case "named" when allowNamed:
                    return bare with { Type = KeepaliveType.Named, Named = Name(One(rest.Skip(1).ToArray(), w, $"{prefix}type named KEEPALIVE"), "keepalive") };
                case "named":
                    throw new LineException(rest[0], "a global keepalive cannot take the state of another one; give it a type of its own (icmp, tcp, http, ssl, script)");
                case "script":
                    if (rest.Length < 2) throw new LineException(w[^1], $"incomplete command; write '{prefix}type script NAME [\"ARGS\"] [use-output]'");
                    var more = rest.Skip(2).ToList();
                    var useOutput = more.Count > 0 && more[^1].Equals("use-output", StringComparison.OrdinalIgnoreCase);
                    if (useOutput) more.RemoveAt(more.Count - 1);
                    if (more.Count > 1)
                        throw new LineException(more[1], $"the script arguments are one quoted word; write '{prefix}type script {rest[1]} \"{string.Join(' ', more)}\"'");
                    return bare with { Type = KeepaliveType.Script, Script = rest[1], ScriptArgs = more.Count == 1 ? more[0] : null, UseOutput = useOutput };
            }
            if (rest.Length > 1) throw new LineException(rest[1], $"unexpected word; write '{usage}'");
            return bare with
            {
                Type = t switch
                {
                    "none" => KeepaliveType.None,
                    "icmp" => KeepaliveType.Icmp,
                    "tcp" => KeepaliveType.Tcp,
                    "ssl" => KeepaliveType.Ssl,
                    _ => throw new LineException(rest[0], "unknown keepalive type" + Suggest.DidYouMean(t, KeepaliveTypes) + $" (types: {string.Join(", ", KeepaliveTypes)})"),
                },
            };
        }

        /// <summary><c>no keepalive</c> resets all of it; <c>no keepalive OPTION</c> resets one attribute.</summary>
        private static KeepaliveSettings KeepaliveNo(KeepaliveSettings k, string word)
        {
            var d = KeepaliveSettings.Default;
            return word.ToLowerInvariant() switch
            {
                "type" => k with { Type = d.Type, Encrypt = false, Named = null, Script = null, ScriptArgs = null, UseOutput = false },
                "port" => k with { Port = null },
                "frequency" => k with { FrequencySeconds = d.FrequencySeconds },
                "retryperiod" => k with { RetryPeriodSeconds = d.RetryPeriodSeconds },
                "maxfailure" => k with { MaxFailure = d.MaxFailure },
                "uri" => k with { Uri = null },
                "method" => k with { MethodHead = d.MethodHead },
                "hash" => k with { Hash = null },
                var o => throw new LineException(word, "unknown keepalive option" + Suggest.DidYouMean(o, KeepaliveOptions) + $" (options: {string.Join(", ", KeepaliveOptions)})"),
            };
        }

        // ------------------------------------------------------------------ global keepalive

        private static readonly string[] GlobalKeepaliveOwnWords = ["ip", "description", "active", "suspend"];

        private GlobalKeepalive Kal => Config.Keepalives[_object];

        private void RunKeepalive(string first, IReadOnlyList<string> w)
        {
            var kal = Kal;
            var args = w.Skip(1).ToArray();
            kal = first switch
            {
                "ip" => kal with { IpAddress = Address(AfterKeyword(args, w, "address", "ip address IP")) },
                "description" => kal with { Description = One(args, w, "description \"TEXT\"") },
                "active" => Bare(w, kal with { State = AdminState.Active }),
                "suspend" => Bare(w, kal with { State = AdminState.Suspended }),
                "no" => w.Count != 2 ? throw new LineException(w[^1], $"write 'no {w[1]}'") : w[1].ToLowerInvariant() switch
                {
                    "ip" => kal with { IpAddress = null },
                    "description" => kal with { Description = null },
                    var o => kal with { Settings = KeepaliveNo(kal.Settings, o) },
                },
                _ => kal with { Settings = KeepaliveOption(kal.Settings, w[0], args, w, string.Empty, allowNamed: false) },
            };
            Config = Config with { Keepalives = Config.Keepalives.SetItem(kal.Name, kal) };
        }

        private Service AddProxyList(Service s, string[] args, IReadOnlyList<string> w)
        {
            if (args.Length != 2 || !args[0].Equals("ssl-proxy-list", StringComparison.OrdinalIgnoreCase))
                throw new LineException(args.Length > 0 ? args[0] : w[0], "in a service, write 'add ssl-proxy-list NAME'" + (args.Length > 0 ? Suggest.DidYouMean(args[0], ["ssl-proxy-list"]) : string.Empty));
            var name = Name(args[1], "proxy list");
            if (s.ProxyList is not null && s.ProxyList != name)
                throw new LineException(args[1], $"service {s.Name} already uses ssl-proxy-list {s.ProxyList}, and a module is limited to one proxy list; write 'remove ssl-proxy-list {s.ProxyList}' first");
            return s with { ProxyList = name };
        }

        private static Service RemoveProxyList(Service s, string[] args, IReadOnlyList<string> w)
        {
            if (args.Length != 2 || !args[0].Equals("ssl-proxy-list", StringComparison.OrdinalIgnoreCase))
                throw new LineException(args.Length > 0 ? args[0] : w[0], "in a service, write 'remove ssl-proxy-list NAME'");
            if (s.ProxyList != args[1])
                throw new LineException(args[1], s.ProxyList is null
                    ? $"service {s.Name} has no ssl-proxy-list to remove"
                    : $"service {s.Name} uses ssl-proxy-list {s.ProxyList}, not {args[1]}");
            return s with { ProxyList = null };
        }

        private static Service ServiceNo(Service s, IReadOnlyList<string> w) => w[1].ToLowerInvariant() switch
        {
            "weight" => s with { Weight = Service.DefaultWeight },
            "max-conns" => s with { MaxConnections = 0 },
            "keepalive" when w.Count == 2 => s with { Keepalive = KeepaliveSettings.Default },
            "keepalive" when w.Count == 3 => s with { Keepalive = KeepaliveNo(s.Keepalive, w[2]) },
            "keepalive" => throw new LineException(w[^1], "write 'no keepalive' or 'no keepalive OPTION'"),
            "description" => s with { Description = null },
            "slot" => s with { Slot = null },
            "ip" => s with { IpAddress = null },
            "port" => s with { Port = null },
            _ => s,
        };

        // ------------------------------------------------------------------ owner / content

        private void RunOwner(string first, IReadOnlyList<string> w)
        {
            var owner = Config.Owners[_owner];
            if (first == "content")
            {
                Arity(w, 2, 2, "content NAME");
                var name = Name(w[1], "content rule");
                if (!owner.Contents.ContainsKey(name))
                    SetOwner(owner with { Contents = owner.Contents.SetItem(name, new ContentRule(name)) });
                Enter(Mode.Content, name);
                return;
            }
            // "no content NAME"
            Arity(w, 3, 3, "no content NAME");
            SetOwner(owner with { Contents = owner.Contents.Remove(Existing(owner.Contents, w[2], $"content rule in owner {owner.Name}")) });
        }

        private void SetOwner(Owner owner) => Config = Config with { Owners = Config.Owners.SetItem(owner.Name, owner) };

        private static readonly string[] BalanceWords = ["roundrobin", "weightedrr", "leastconn"];
        private static readonly string[] StickyWords = ["ssl", "sticky-srcip", "none"];

        private void RunContent(string first, IReadOnlyList<string> w)
        {
            var owner = Config.Owners[_owner];
            var rule = owner.Contents[_object];
            var args = w.Skip(1).ToArray();
            rule = first switch
            {
                "vip" => rule with { VipAddress = Address(AfterKeyword(args, w, "address", "vip address IP")) },
                "protocol" => rule with { Protocol = ProtocolOf(One(args, w, "protocol tcp|udp|any")) },
                "port" => rule with { Port = Port(One(args, w, "port PORT")) },
                "add" => AddService(rule, args, w),
                "remove" => RemoveService(rule, args, w),
                "active" => Bare(w, rule with { State = AdminState.Active }),
                "suspend" => Bare(w, rule with { State = AdminState.Suspended }),
                "balance" => rule with
                {
                    Balance = One(args, w, "balance roundrobin|weightedrr|leastconn").ToLowerInvariant() switch
                    {
                        "roundrobin" => BalanceMethod.RoundRobin,
                        "weightedrr" => BalanceMethod.WeightedRoundRobin,
                        "leastconn" => BalanceMethod.LeastConnections,
                        var b => throw new LineException(args[0], "unknown balance method" + Suggest.DidYouMean(b, BalanceWords) + $" (methods: {string.Join(", ", BalanceWords)})"),
                    },
                },
                "advanced-balance" => rule with
                {
                    Sticky = One(args, w, "advanced-balance ssl|sticky-srcip|none").ToLowerInvariant() switch
                    {
                        "ssl" => Stickiness.SslSessionId,
                        "sticky-srcip" => Stickiness.SourceIp,
                        "none" => Stickiness.None,
                        var b => throw new LineException(args[0], "unknown advanced-balance method" + Suggest.DidYouMean(b, StickyWords) + $" (methods: {string.Join(", ", StickyWords)})"),
                    },
                },
                // "application ssl" tells a CSS to parse SSL for session-ID stickiness; the dispatcher always can,
                // so the line is accepted and implied by "advanced-balance ssl".
                "application" => One(args, w, "application ssl").Equals("ssl", StringComparison.OrdinalIgnoreCase)
                    ? rule
                    : throw new LineException(args[0], "only 'application ssl' is known"),
                "no" => w[1].ToLowerInvariant() switch
                {
                    "vip" => rule with { VipAddress = null },
                    "port" => rule with { Port = null },
                    "balance" => rule with { Balance = BalanceMethod.RoundRobin },
                    _ => rule with { Sticky = Stickiness.None },
                },
                _ => rule,
            };
            SetOwner(owner with { Contents = owner.Contents.SetItem(rule.Name, rule) });
        }

        private static ContentRule AddService(ContentRule rule, string[] args, IReadOnlyList<string> w)
        {
            if (args.Length != 2 || !args[0].Equals("service", StringComparison.OrdinalIgnoreCase))
                throw new LineException(args.Length > 0 ? args[0] : w[0], "in a content rule, write 'add service NAME'" + (args.Length > 0 ? Suggest.DidYouMean(args[0], ["service"]) : string.Empty));
            var name = Name(args[1], "service");
            return rule.Services.Contains(name) ? rule : rule with { Services = rule.Services.Add(name) };
        }

        private static ContentRule RemoveService(ContentRule rule, string[] args, IReadOnlyList<string> w)
        {
            if (args.Length != 2 || !args[0].Equals("service", StringComparison.OrdinalIgnoreCase))
                throw new LineException(args.Length > 0 ? args[0] : w[0], "in a content rule, write 'remove service NAME'");
            if (!rule.Services.Contains(args[1]))
                throw new LineException(args[1], $"content {rule.Name} has no service '{args[1]}'" + Suggest.DidYouMean(args[1], rule.Services));
            return rule with { Services = rule.Services.Remove(args[1]) };
        }

        // ------------------------------------------------------------------ words

        private static void Arity(IReadOnlyList<string> w, int min, int max, string usage)
        {
            if (w.Count < min) throw new LineException(w[^1], $"incomplete command; write '{usage}'");
            if (w.Count > max) throw new LineException(w[max], $"unexpected word; write '{usage}'");
        }

        /// <summary>Exactly one argument.</summary>
        private static string One(string[] args, IReadOnlyList<string> w, string usage)
        {
            if (args.Length == 0) throw new LineException(w[^1], $"incomplete command; write '{usage}'");
            if (args.Length > 1) throw new LineException(args[1], $"unexpected word; write '{usage}'");
            return args[0];
        }

        /// <summary>"vip address X", "ip address X", "handshake timeout X": a fixed keyword, then one value.</summary>
        private static string AfterKeyword(string[] args, IReadOnlyList<string> w, string keyword, string usage)
        {
            if (args.Length == 0) throw new LineException(w[^1], $"incomplete command; write '{usage}'");
            if (!args[0].Equals(keyword, StringComparison.OrdinalIgnoreCase))
                throw new LineException(args[0], $"expected '{keyword}'{Suggest.DidYouMean(args[0], [keyword])}; write '{usage}'");
            return One(args.Skip(1).ToArray(), w, usage);
        }

        private static string Name(string word, string what)
        {
            if (word.Length is 0 or > 32)
                throw new LineException(word, $"a {what} name has 1 to 32 characters");
            foreach (var c in word)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':'))
                    throw new LineException(word, $"a {what} name may hold letters, digits and - _ . / : only, not '{c}'");
            }
            return word;
        }

        private static int Number(string word, int min, int max, string what)
        {
            if (!int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                throw new LineException(word, $"the {what} must be a whole number from {min} to {max}");
            if (n < min || n > max)
                throw new LineException(word, $"the {what} must be from {min} to {max}, not {n}");
            return n;
        }

        private static int Port(string word) => Number(word, 1, 65535, "port");

        private static string Address(string word)
        {
            if (!IPAddress.TryParse(word, out var ip) || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && word.Count(c => c == '.') != 3))
                throw new LineException(word, "not an IP address; write four numbers such as 192.0.2.10 (or an IPv6 address)");
            return ip.ToString();
        }

        private static TlsVersionFloor Version(string word) => word.ToLowerInvariant() switch
        {
            "tls1.2" or "tls12" => TlsVersionFloor.Tls12,
            "tls1.3" or "tls13" => TlsVersionFloor.Tls13,
            "ssl3" or "ssl-tls" or "tls1" or "tls1.0" or "tls1.1" => throw new LineException(word, "SSL 3.0, TLS 1.0 and TLS 1.1 are broken or deprecated (RFC 8996) and never negotiated; write 'version tls1.2' (the default) or 'version tls1.3'"),
            _ => throw new LineException(word, "unknown version; write tls1.2 or tls1.3"),
        };
    }
}
