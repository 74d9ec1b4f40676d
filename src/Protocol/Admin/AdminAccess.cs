using System.Security.Cryptography;
using System.Text;

namespace SslCluster.Protocol.Admin;

/// <summary>What a token may do on the admin endpoint.</summary>
public enum AdminRole
{
    /// <summary>Reads only: every show command, no configure, no store or node commands, no clear.</summary>
    ReadOnly,

    /// <summary>Reads and changes.</summary>
    Admin,
}

/// <summary>
/// Who a request is: the node's own token (admin of everything), or a token of the tokens file, with its role and, for
/// a token of one SSLM context, that context (its show and configure see nothing else).
/// </summary>
public sealed record AdminPrincipal(string Name, AdminRole Role, string? Context)
{
    public static AdminPrincipal Node { get; } = new("node token", AdminRole.Admin, null);

    /// <summary>
    /// Why this principal may not make a request of <paramref name="method"/> on <paramref name="path"/> (a /v1 path),
    /// or null when it may. The body-dependent checks (a clear, the sections a configure changes) are the handlers'.
    /// </summary>
    public string? Refusal(string method, string path)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(path);
        var reads = method == "GET" || path is AdminPaths.Show or AdminPaths.SslProxy;
        if (Role == AdminRole.ReadOnly && !reads)
            return $"{Name} is read-only: it may run show commands, not change the cluster";
        if (Context is { } context && path is not (AdminPaths.Configure or AdminPaths.RunningConfig or AdminPaths.SslFlows or AdminPaths.SslProxy or AdminPaths.Connections or AdminPaths.Names))
            return $"{Name} is limited to ssl-proxy context {context}: it may run show running-config, show ssl flows, show ssl-proxy, show connections and (when admin) configure that context";
        return null;
    }

    /// <summary>Whether this principal sees module <paramref name="module"/> (a context token: only its context's, named <c>NAME@CONTEXT</c>).</summary>
    public bool Sees(string module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return Context is not { } context || Config.SslmLowering.InContext(module, context);
    }
}

/// <summary>
/// The tokens file (<c>sslcluster.node.admin.tokens-file</c>, by default <c>DATA-DIR/admin-tokens</c> when it exists):
/// one token a line, <c>ROLE [context NAME] TOKEN</c>, ROLE <c>admin</c> or <c>read-only</c>, the token at least 32
/// characters of letters, digits and <c>-._~+/=</c>; blank lines and lines starting with <c>#</c> are ignored. A bad
/// line stops the node (fail closed), naming the line.
/// </summary>
public sealed class AdminTokens
{
    /// <summary>The file's name in the data folder.</summary>
    public const string FileName = "admin-tokens";

    public const int MinimumLength = 32;

    private readonly List<(byte[] Header, AdminPrincipal Principal)> _tokens;

    private AdminTokens(List<(byte[] Header, AdminPrincipal Principal)> tokens) => _tokens = tokens;

    public static AdminTokens None { get; } = new([]);

    public int Count => _tokens.Count;

    /// <summary>Reads the file's text.</summary>
    /// <exception cref="FormatException">A line that is not <c>ROLE [context NAME] TOKEN</c>, a short token, a token given twice.</exception>
    public static AdminTokens Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<(byte[], AdminPrincipal)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var w = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string Where() => $"{source} line {number}";
            var role = w[0].ToLowerInvariant() switch
            {
                "admin" => AdminRole.Admin,
                "read-only" => AdminRole.ReadOnly,
                // The word is not repeated: on a line whose role was forgotten, it is the token.
                _ => throw new FormatException($"{Where()}: the first word is not a role; write 'admin' or 'read-only', then '[context NAME]', then the token"),
            };
            string? context = null;
            var at = 1;
            if (w.Length > 2 && w[1].Equals("context", StringComparison.OrdinalIgnoreCase))
            {
                context = w[2];
                at = 3;
            }

            if (w.Length != at + 1)
                throw new FormatException($"{Where()}: write 'ROLE [context NAME] TOKEN' (the token is the last word, and there is one)");
            var token = w[at];
            if (token.Length < MinimumLength || !token.All(c => char.IsAsciiLetterOrDigit(c) || "-._~+/=".Contains(c)))
                throw new FormatException($"{Where()}: a token is at least {MinimumLength} characters of letters, digits and -._~+/= (for example: openssl rand -hex 24)");
            if (!seen.Add(token)) throw new FormatException($"{Where()}: this token is already given on an earlier line");
            var name = $"token of {source} line {number}";
            tokens.Add((Encoding.UTF8.GetBytes("Bearer " + token), new AdminPrincipal(name, role, context)));
        }

        return new AdminTokens(tokens);
    }

    /// <summary>
    /// The principal whose token the Authorization header carries, or null. Every token is compared in constant time,
    /// and all of them every time, so the answer's timing tells nothing about which one came close.
    /// </summary>
    public AdminPrincipal? Find(ReadOnlySpan<byte> authorization)
    {
        AdminPrincipal? found = null;
        foreach (var (header, principal) in _tokens)
        {
            if (CryptographicOperations.FixedTimeEquals(authorization, header)) found = principal;
        }

        return found;
    }
}
