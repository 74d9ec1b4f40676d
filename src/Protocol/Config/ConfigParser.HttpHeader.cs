namespace SslCluster.Protocol.Config;

public static partial class ConfigParser
{
    private sealed partial class Session
    {
        // ------------------------------------------------------------------ HTTP header insertion

        private static readonly string[] HttpHeaderWords = ["session", "client-cert", "server-cert", "xfcc", "rfc9440", "client-ip-port", "alias", "prefix", "static"];

        private static readonly string[] ClientCertWords = ["basic", "pem"];

        /// <summary>
        /// <c>ssl-server N http-header session | client-cert [basic | pem] | server-cert | xfcc | rfc9440 | prefix "TEXT" |
        /// static "NAME:VALUE"</c>.
        /// </summary>
        private static HttpHeaderSettings HttpHeaderLine(HttpHeaderSettings headers, string[] args, IReadOnlyList<string> w, int n)
        {
            var usage = $"ssl-server {n} http-header session | client-cert [basic | pem] | server-cert | xfcc | rfc9440 | client-ip-port | alias STANDARD-NAME ALIAS | prefix \"TEXT\" | static \"NAME:VALUE\"";
            if (args.Length == 0) throw new LineException(w[^1], $"incomplete command; write '{usage}'");
            var what = args[0].ToLowerInvariant();
            switch (what)
            {
                case "session":
                    if (args.Length != 1) throw new LineException(args[1], $"unexpected word; write 'ssl-server {n} http-header session'");
                    return headers with { Session = true };
                case "prefix":
                    if (args.Length != 2) throw new LineException(w[^1], $"write 'ssl-server {n} http-header prefix \"TEXT\"' (for example \"SSL-\")");
                    return headers with { Prefix = Prefix(args[1]) };
                case "static":
                    if (args.Length != 2) throw new LineException(w[^1], $"write 'ssl-server {n} http-header static \"NAME:VALUE\"', the line in quotes");
                    var line = StaticLine(args[1]);
                    var name = HttpHeaderSettings.StaticName(line);
                    var index = StaticIndex(headers, name);
                    if (index >= 0) return headers with { Static = headers.Static.SetItem(index, line) };
                    if (headers.Static.Count >= HttpHeaderSettings.MaxStatic)
                        throw new LineException(args[1], $"ssl-server {n} already inserts {HttpHeaderSettings.MaxStatic} static lines, the most it can; remove one with 'no ssl-server {n} http-header static NAME'");
                    return headers with { Static = headers.Static.Add(line) };
                case "client-cert":
                    if (args.Length > 2) throw new LineException(args[2], $"unexpected word; write 'ssl-server {n} http-header client-cert [basic | pem]'");
                    if (args.Length == 1) return headers with { ClientCert = ClientCertFields.All };
                    return args[1].ToLowerInvariant() switch
                    {
                        "basic" => headers with { ClientCert = ClientCertFields.Basic },
                        "pem" => headers with { ClientCert = ClientCertFields.Pem },
                        var other => throw new LineException(args[1], $"'{args[1]}' is not a client-cert option{Suggest.DidYouMean(other, ClientCertWords)}; write 'client-cert' (25 fields), 'client-cert basic' (21) or 'client-cert pem' (the certificate)"),
                    };
                case "server-cert" or "xfcc" or "rfc9440" or "client-ip-port":
                    if (args.Length != 1) throw new LineException(args[1], $"unexpected word; write 'ssl-server {n} http-header {what}'");
                    return what switch
                    {
                        "server-cert" => headers with { ServerCert = true },
                        "xfcc" => headers with { Xfcc = true },
                        "client-ip-port" => headers with { ClientIpPort = true },
                        _ => headers with { Rfc9440 = true },
                    };
                case "alias":
                    if (args.Length != 3) throw new LineException(w[^1], $"write 'ssl-server {n} http-header alias STANDARD-NAME ALIAS'");
                    var (standard, alias) = AliasPair(args[1], args[2]);
                    return headers with { Aliases = headers.Aliases.SetItem(standard, alias) };
                default:
                    throw new LineException(args[0], $"'{args[0]}' is not an http-header option{Suggest.DidYouMean(what, HttpHeaderWords)} (options: {string.Join(", ", HttpHeaderWords)})");
            }
        }

        /// <summary><c>no ssl-server N http-header [session | prefix | static NAME]</c>; without a word, nothing is inserted any more.</summary>
        private static HttpHeaderSettings HttpHeaderNo(HttpHeaderSettings headers, string[] args, IReadOnlyList<string> w, int n)
        {
            if (args.Length == 0) return HttpHeaderSettings.None;
            var what = args[0].ToLowerInvariant();
            switch (what)
            {
                case "session" when args.Length == 1:
                    return headers with { Session = false };
                case "client-cert" when args.Length == 1 || args.Length == 2 && ClientCertWords.Contains(args[1].ToLowerInvariant()):
                    return headers with { ClientCert = ClientCertFields.None };
                case "server-cert" when args.Length == 1:
                    return headers with { ServerCert = false };
                case "xfcc" when args.Length == 1:
                    return headers with { Xfcc = false };
                case "rfc9440" when args.Length == 1:
                    return headers with { Rfc9440 = false };
                case "client-ip-port" when args.Length == 1:
                    return headers with { ClientIpPort = false };
                case "alias" when args.Length is 2 or 3:
                    var standard = Http.HttpHeaderFields.CanonicalName(args[1]);
                    if (!headers.Aliases.ContainsKey(standard)) throw new LineException(args[1], $"ssl-server {n} has no alias for '{args[1]}'");
                    return headers with { Aliases = headers.Aliases.Remove(standard) };
                case "prefix" when args.Length == 1:
                    return headers with { Prefix = null };
                case "static" when args.Length == 2:
                    var name = HttpHeaderSettings.StaticName(args[1]);
                    var index = StaticIndex(headers, name);
                    if (index < 0)
                    {
                        var existing = headers.Static.Count == 0 ? "it inserts none" : "it inserts: " + string.Join(", ", headers.Static.Select(HttpHeaderSettings.StaticName));
                        throw new LineException(args[1], $"ssl-server {n} inserts no static line named '{name}' ({existing})");
                    }
                    return headers with { Static = headers.Static.Remove(headers.Static[index]) };
                default:
                    throw new LineException(w[^1], $"write 'no ssl-server {n} http-header [session | client-cert | server-cert | xfcc | rfc9440 | prefix | static NAME]' (alone, it stops all insertion)");
            }
        }

        /// <summary>
        /// <c>alias STANDARD-NAME ALIAS</c>: the standard spelling of a field the module inserts, and a header name that
        /// neither frames the request nor belongs to the connection.
        /// </summary>
        private static (string Standard, string Alias) AliasPair(string standard, string alias)
        {
            if (!Http.HttpHeaderFields.IsStandardName(standard))
                throw new LineException(standard, $"'{standard}' is not a field the module inserts (for example ClientCert-Subject-CN, Session-Id, ClientIP)");
            if (!Http.HttpHead.IsToken(alias) || alias.Length > 64)
                throw new LineException(alias, "an alias is a header name of 1 to 64 characters (letters, digits, '-' and !#$%&'*+.^_`|~)");
            if (HttpHeaderSettings.FramingNames.Contains(alias.ToLowerInvariant()))
                throw new LineException(alias, $"'{alias}' frames the request or belongs to the connection, so no field may be sent under it");
            return (Http.HttpHeaderFields.CanonicalName(standard), alias);
        }

        /// <summary>Where the static line named <paramref name="name"/> (any case) stands; -1 when there is none.</summary>
        private static int StaticIndex(HttpHeaderSettings headers, string name) => LineIndex(headers.Static, name);

        /// <summary>Where the "NAME:VALUE" line named <paramref name="name"/> (any case) stands in <paramref name="lines"/>; -1 when none.</summary>
        private static int LineIndex(ValueList<string> lines, string name) =>
            lines.ToList().FindIndex(l => HttpHeaderSettings.StaticName(l).Equals(name, StringComparison.OrdinalIgnoreCase));

        private static string Prefix(string text)
        {
            if (text.Length > HttpHeaderSettings.MaxPrefixLength || !Http.HttpHead.IsToken(text))
                throw new LineException(text, $"a prefix is 1 to {HttpHeaderSettings.MaxPrefixLength} characters that may start a header name (letters, digits, '-' and !#$%&'*+.^_`|~), for example \"SSL-\"");
            return text;
        }

        /// <summary>A static line: a header name (a token), a colon and a value of printable characters.</summary>
        private static string StaticLine(string text)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? "" : text[..colon].Trim();
            if (colon < 0 || !Http.HttpHead.IsToken(name))
                throw new LineException(text, "a static line is \"NAME:VALUE\", NAME a header name (letters, digits, '-' and !#$%&'*+.^_`|~), for example \"X-Offload:css\"");
            if (HttpHeaderSettings.FramingNames.Contains(name.ToLowerInvariant()))
                throw new LineException(text, $"'{name}' frames the request or belongs to the connection, so it cannot be a static line (also refused: {string.Join(", ", HttpHeaderSettings.FramingNames)})");
            if (text.Length > HttpHeaderSettings.MaxStaticLength || text.Any(c => c < 0x20 || c > 0x7e || c == '"'))
                throw new LineException(text, $"a static line is at most {HttpHeaderSettings.MaxStaticLength} printable ASCII characters, none of them a '\"' (the line is written in quotes)");
            return name + ":" + text[(colon + 1)..].Trim();
        }
    }
}
