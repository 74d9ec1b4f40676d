using System.Globalization;
using System.Net;

namespace SslCluster.Protocol.Config;

public static partial class ConfigParser
{
    private sealed partial class Session
    {
        // ------------------------------------------------------------------ service

        private static readonly string[] ServiceTypes = ["local", "ssl-accel", "ssl-accel-backend", "ssl-init"];
        private static readonly string[] KeepaliveOptions = ["type", "port", "frequency", "retryperiod", "maxfailure", "uri", "method"];
        private static readonly string[] KeepaliveTypes = ["none", "icmp", "tcp", "http", "ssl"];

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
            var option = args[0].ToLowerInvariant();
            var rest = args.Skip(1).ToArray();
            return option switch
            {
                "type" => k with
                {
                    Type = One(rest, w, "keepalive type none|icmp|tcp|http|ssl").ToLowerInvariant() switch
                    {
                        "none" => KeepaliveType.None,
                        "icmp" => KeepaliveType.Icmp,
                        "tcp" => KeepaliveType.Tcp,
                        "http" => KeepaliveType.Http,
                        "ssl" => KeepaliveType.Ssl,
                        var t => throw new LineException(rest[0], "unknown keepalive type" + Suggest.DidYouMean(t, KeepaliveTypes) + $" (types: {string.Join(", ", KeepaliveTypes)})"),
                    },
                },
                "port" => k with { Port = Port(One(rest, w, "keepalive port PORT")) },
                "frequency" => k with { FrequencySeconds = Number(One(rest, w, "keepalive frequency SECONDS"), 2, 255, "keepalive frequency (seconds)") },
                "retryperiod" => k with { RetryPeriodSeconds = Number(One(rest, w, "keepalive retryperiod SECONDS"), 2, 255, "keepalive retry period (seconds)") },
                "maxfailure" => k with { MaxFailure = Number(One(rest, w, "keepalive maxfailure N"), 1, 10, "keepalive maxfailure") },
                "uri" => k with { Uri = One(rest, w, "keepalive uri \"/PATH\"") },
                "method" => k with
                {
                    MethodHead = One(rest, w, "keepalive method get|head").ToLowerInvariant() switch
                    {
                        "head" => true,
                        "get" => false,
                        var m => throw new LineException(rest[0], "write 'keepalive method get' or 'keepalive method head'" + Suggest.DidYouMean(m, ["get", "head"])),
                    },
                },
                _ => throw new LineException(args[0], "unknown keepalive option" + Suggest.DidYouMean(option, KeepaliveOptions) + $" (options: {string.Join(", ", KeepaliveOptions)})"),
            };
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
            "keepalive" => s with { Keepalive = KeepaliveSettings.Default },
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
