namespace SslCluster.Protocol.Config;

/// <summary>
/// Script keepalives: the built-in scripts and what a script name may be. On the CSS a script is a file of its
/// <c>/script</c> directory; here any other name is an executable of the node's scripts folder, so the name must be
/// a plain file name: no path separators, no "..", nothing that could leave that folder.
/// </summary>
public static class KeepaliveScripts
{
    /// <summary>
    /// The reference's script (its header says <c>ap-kal-service-check</c>, its configuration names it
    /// <c>kal-service-check</c>): ARGS names a service; alive iff <c>show service</c> prints it Alive.
    /// </summary>
    public static IReadOnlyList<string> BuiltIns { get; } = ["kal-service-check", "ap-kal-service-check"];

    public static bool IsBuiltIn(string name) => BuiltIns.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Why <paramref name="name"/> cannot name a script file, or null when it can.</summary>
    public static string? FileNameProblem(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 64) return "a script name has 1 to 64 characters";
        if (name is "." or ".." || name.StartsWith('.')) return "a script name cannot start with '.'";
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return $"a script name is a file name of the scripts folder: letters, digits and - _ . only, not '{c}'";
        }
        return null;
    }
}
