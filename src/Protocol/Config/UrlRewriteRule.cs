namespace SslCluster.Protocol.Config;

/// <summary>
/// <c>ssl-server N urlrewrite NUMBER HOSTNAME [sslport PORT [clearport PORT]]</c>: when the back end answers a request
/// of this ssl-server with a 300-series redirect whose <c>Location</c> is <c>http://HOST[:CLEARPORT]/...</c> and HOST
/// matches <see cref="Host"/>, the Location becomes <c>https://HOST[:SSLPORT]/...</c>, so a client that came in over
/// TLS is not sent back to clear text.
/// </summary>
/// <param name="Number">The rule number, 1 to <see cref="MaxRules"/>; rules are tried in number order.</param>
/// <param name="Host">
/// A host name, or a pattern where <c>*</c> stands for any run of characters (<c>*.example.com</c>,
/// <c>www.example.*</c>). Compared without regard to case, as host names are.
/// </param>
/// <param name="SslPort">The port written into the rewritten Location; 443 is left out of it.</param>
/// <param name="ClearPort">The port a Location must name (80 when it names none) to be rewritten.</param>
public sealed record UrlRewriteRule(int Number, string Host, int SslPort = UrlRewriteRule.DefaultSslPort, int ClearPort = UrlRewriteRule.DefaultClearPort)
{
    public const int DefaultSslPort = 443;
    public const int DefaultClearPort = 80;

    /// <summary>The CSS allows 32 rules per ssl-server, numbered 1 to 32.</summary>
    public const int MaxRules = 32;

    /// <summary>The CSS limit on the host name of a rule.</summary>
    public const int MaxHostLength = 240;

    /// <summary>
    /// Why <paramref name="host"/> cannot be a rule's host pattern, with what to write instead; null when it can.
    /// The parser and the validator share it so that a model built in code is held to what the language accepts.
    /// </summary>
    public static string? HostProblem(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.Length is 0 or > MaxHostLength)
            return $"a urlrewrite host name has 1 to {MaxHostLength} characters";
        if (host.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || host.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return "write the host name alone, without 'http://' (the rule only ever matches http Locations)";
        if (host.Contains(':', StringComparison.Ordinal))
            return "a urlrewrite host name carries no port; name the port the back end redirects to with 'clearport PORT'";
        if (host.Contains('/', StringComparison.Ordinal))
            return "a urlrewrite host name carries no path; the whole host of the Location is matched and its path is kept";
        foreach (var c in host)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '*'))
                return $"a urlrewrite host name may hold letters, digits, '-', '.' and the wildcard '*' only, not '{c}'";
        }
        if (host.Contains("..", StringComparison.Ordinal) || host[0] == '.' || host[^1] == '.')
            return "a urlrewrite host name has no empty label (no leading, trailing or doubled '.'); write it like www.example.com or *.example.com";
        if (host.Contains("**", StringComparison.Ordinal))
            return "write a single '*' (it already stands for any run of characters)";
        return null;
    }

    /// <summary>Whether <paramref name="port"/> can be an sslport or clearport (a TCP port, 1 to 65535).</summary>
    public static bool IsPort(int port) => port is >= 1 and <= 65535;
}
