using System.Buffers;
using System.Buffers.Text;
using System.Text;
using SslCluster.Protocol.Config;

namespace SslCluster.Protocol.Http;

/// <summary>
/// The urlrewrite rules of one ssl-server, compiled once per configuration revision and shared by all its
/// connections (immutable, so thread-safe). Turns <c>http://HOST[:CLEARPORT]/rest</c> into
/// <c>https://HOST[:SSLPORT]/rest</c> for the first rule, in number order, whose host pattern and clear port match.
/// </summary>
public sealed class UrlRewriter
{
    private const int HttpsDefaultPort = 443;
    private const int HttpDefaultPort = 80;

    /// <summary>A DNS name has at most 253 characters; a longer "host" is not one a rule is meant for.</summary>
    private const int MaxHostLength = 255;

    private readonly CompiledRule[] _rules;

    public UrlRewriter(IEnumerable<UrlRewriteRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        _rules = [.. rules.OrderBy(r => r.Number).Select(r => new CompiledRule(r))];
    }

    /// <summary>The rewriter of an ssl-server's rules.</summary>
    public static UrlRewriter For(SslServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new UrlRewriter(server.UrlRewrites.Values);
    }

    /// <summary>False when the ssl-server has no rule: its connections need no rewriter at all.</summary>
    public bool HasRules => _rules.Length > 0;

    /// <summary>
    /// Writes the https form of <paramref name="location"/> (a Location header value, without surrounding
    /// whitespace) to <paramref name="output"/> if a rule applies, and returns true; writes nothing otherwise.
    /// </summary>
    public bool TryRewrite(ReadOnlySpan<byte> location, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_rules.Length == 0 || !TrySplit(location, out var host, out var port, out var restStart)) return false;
        foreach (var rule in _rules)
        {
            if (rule.ClearPort != port || !rule.Matches(host)) continue;
            output.Write("https://"u8);
            output.Write(host);
            if (rule.SslPort != HttpsDefaultPort)
            {
                var span = output.GetSpan(6);
                span[0] = (byte)':';
                Utf8Formatter.TryFormat(rule.SslPort, span[1..], out var digits);
                output.Advance(1 + digits);
            }
            output.Write(location[restStart..]);
            return true;
        }
        return false;
    }

    /// <summary>The rewritten form of <paramref name="location"/>, or null when no rule applies (for tests and tools).</summary>
    public string? Rewrite(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        var output = new ArrayBufferWriter<byte>();
        return TryRewrite(Encoding.Latin1.GetBytes(location), output) ? Encoding.Latin1.GetString(output.WrittenSpan) : null;
    }

    /// <summary>
    /// Splits <c>http://host[:port]rest</c>: rest starts at the first '/', '?' or '#' after the scheme. False for
    /// anything a rule cannot match: another scheme, a relative reference, user information (rewriting a URL that
    /// carries credentials is not this feature's business), an IPv6 literal (a rule's host holds no brackets), a
    /// port that is not a number.
    /// </summary>
    private static bool TrySplit(ReadOnlySpan<byte> location, out ReadOnlySpan<byte> host, out int port, out int restStart)
    {
        host = default;
        port = HttpDefaultPort;
        const int schemeLength = 7;
        restStart = 0;
        if (location.Length <= schemeLength || !Ascii.EqualsIgnoreCase(location[..schemeLength], "http://"u8)) return false;
        var authority = location[schemeLength..];
        var end = authority.IndexOfAny("/?#"u8);
        if (end >= 0) authority = authority[..end];
        restStart = schemeLength + authority.Length;
        if (authority.Contains((byte)'@') || authority.Contains((byte)'[')) return false;
        var colon = authority.IndexOf((byte)':');
        host = colon >= 0 ? authority[..colon] : authority;
        if (host.IsEmpty || host.Length > MaxHostLength) return false;
        if (colon < 0) return true;
        var digits = authority[(colon + 1)..];
        // RFC 3986 section 3.2.3: an empty port means the scheme's default.
        if (digits.IsEmpty) return true;
        return digits.Length <= 5 && Utf8Parser.TryParse(digits, out port, out var used) && used == digits.Length && port is > 0 and <= 65535;
    }

    /// <summary>A rule with its host pattern as lower-case bytes, ready to match without allocating.</summary>
    private sealed class CompiledRule(UrlRewriteRule rule)
    {
        private readonly byte[] _pattern = LowerAscii(rule.Host);

        public int SslPort { get; } = rule.SslPort;

        public int ClearPort { get; } = rule.ClearPort;

        /// <summary>
        /// Wildcard match, ASCII case-insensitive: '*' stands for any run of characters, dots included. The classic
        /// greedy match with one backtrack point, linear for the patterns operators write.
        /// </summary>
        public bool Matches(ReadOnlySpan<byte> host)
        {
            var p = _pattern.AsSpan();
            int pi = 0, hi = 0, star = -1, resume = 0;
            while (hi < host.Length)
            {
                if (pi < p.Length && p[pi] == '*')
                {
                    star = pi++;
                    resume = hi;
                }
                else if (pi < p.Length && p[pi] == Lower(host[hi]))
                {
                    pi++;
                    hi++;
                }
                else if (star >= 0)
                {
                    pi = star + 1;
                    hi = ++resume;
                }
                else
                {
                    return false;
                }
            }
            while (pi < p.Length && p[pi] == '*') pi++;
            return pi == p.Length;
        }

        private static byte[] LowerAscii(string host)
        {
            var bytes = Encoding.ASCII.GetBytes(host);
            Ascii.ToLowerInPlace(bytes, out _);
            return bytes;
        }

        private static byte Lower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
    }
}
