using SslCluster.Protocol.Admin;

namespace SslCluster.Cli;

/// <summary>
/// What may come next on an sslctl command line: the command words of every palette, and the names the node knows
/// (members, entity types, services, content rules, proxy lists, keepalives, SSLM proxy services). One engine for the
/// shell's tab and for bash completion (<c>sslctl completion bash</c>).
/// </summary>
internal static class Completion
{
    /// <summary>The words that may follow each prefix of a command (Petabridge.Cmd's palettes and ours).</summary>
    private static readonly Dictionary<string, string[]> Next = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = ["cluster", "cluster-sharding", "show", "clear", "configure", "ssl", "copy", "node", "completion", "help", "exit"],
        ["cluster"] = ["show", "leader", "tail", "shards", "join", "leave", "down", "rolling-restart"],
        ["cluster-sharding"] = ["regions", "region-stats", "shard-stats"],
        ["node"] = ["drain"],
        ["completion"] = ["bash"],
        ["show"] = ["running-config", "ssl", "connections", "service", "keepalive", "content", "ssl-proxy-list", "ssl-proxy"],
        ["show ssl"] = ["flows", "files", "sessions"],
        ["show ssl-proxy"] = ["stats", "service", "conn"],
        ["show ssl-proxy stats"] = ["tcp", "ssl", "hdr", "pki", "app-if"],
        ["show ssl-proxy conn"] = ["service", "client"],
        ["clear"] = ["ssl-proxy"],
        ["clear ssl-proxy"] = ["stats"],
        ["clear ssl-proxy stats"] = ["tcp", "ssl", "hdr", "pki", "service"],
        ["ssl"] = ["genrsa", "genecdsa", "gencsr", "gencert"],
    };

    /// <summary>Options that take a value: the value is not a command word.</summary>
    internal static readonly HashSet<string> OptionsWithValue = new(StringComparer.Ordinal)
    {
        "--endpoint", "--token", "--token-file", "--data-dir", "--ca", "-o", "--output", "--watch", "--times",
    };

    /// <summary>
    /// The completions of <paramref name="partial"/>, the word being typed after <paramref name="before"/> (the whole
    /// words before it, options included), case-insensitively, in the order they are offered.
    /// </summary>
    public static IReadOnlyList<string> Complete(IReadOnlyList<string> before, string partial, NamesResponse names)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(partial);
        ArgumentNullException.ThrowIfNull(names);
        IEnumerable<string> choices;
        if (before.Count > 0 && OptionsWithValue.Contains(before[^1]))
        {
            choices = before[^1] is "-o" or "--output" ? ["text", "json"] : [];
        }
        else if (partial.StartsWith('-'))
        {
            choices = ["--endpoint", "--token", "--token-file", "--data-dir", "--ca", "-o", "--watch", "--times", "--help"];
        }
        else
        {
            choices = After(Words(before), names);
        }

        return [.. choices.Where(c => c.StartsWith(partial, StringComparison.OrdinalIgnoreCase))];
    }

    /// <summary>The command's words: the global options and their values left out.</summary>
    private static List<string> Words(IReadOnlyList<string> line)
    {
        var words = new List<string>();
        for (var i = 0; i < line.Count; i++)
        {
            if (OptionsWithValue.Contains(line[i])) i++;
            else if (!line[i].StartsWith('-')) words.Add(line[i]);
        }

        return words;
    }

    private static IEnumerable<string> After(List<string> w, NamesResponse names)
    {
        var key = string.Join(' ', w).ToLowerInvariant();
        if (Next.TryGetValue(key, out var next)) return next;
        var modules = names.Services.Concat(names.ContentRules).Concat(names.SslProxyModules).Distinct(StringComparer.Ordinal);
        switch (key)
        {
            case "cluster leave" or "cluster down" or "cluster join":
                return names.Members;
            case "cluster-sharding shard-stats":
                return names.EntityTypes;
            case "show service":
                return names.Services;
            case "show keepalive":
                return names.Keepalives;
            case "show content":
                return names.ContentRules;
            case "show ssl-proxy-list":
                return names.ProxyLists;
            case "show ssl-proxy service":
                return names.SslProxyServices;
        }

        // Filters: after a filter's name, its values; otherwise the filters not given yet.
        if (w.Count >= 2 && w[0].Equals("show", StringComparison.OrdinalIgnoreCase) && w[1].Equals("connections", StringComparison.OrdinalIgnoreCase))
            return Filters(w.Skip(2).ToList(), ["module", "client", "node", "limit"], name => name switch
            {
                "module" => modules,
                "node" => names.Members,
                _ => [],
            });
        if (w.Count >= 3 && key.StartsWith("show ssl-proxy conn ", StringComparison.Ordinal))
            return Filters(w.Skip(3).ToList(), ["service", "client"], name => name == "service" ? names.SslProxyServices : []);
        if (w.Count >= 4 && key.StartsWith("clear ssl-proxy stats ", StringComparison.Ordinal))
            return w[^1].Equals("service", StringComparison.OrdinalIgnoreCase) ? names.SslProxyServices : [];
        return [];
    }

    private static IEnumerable<string> Filters(List<string> given, string[] filters, Func<string, IEnumerable<string>> values)
    {
        if (given.Count % 2 == 1) return values(given[^1].ToLowerInvariant());
        var used = given.Where((_, i) => i % 2 == 0).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return filters.Where(f => !used.Contains(f));
    }

    /// <summary>
    /// The completions of a command line up to the cursor, as bash would put them in place: the line is split the way
    /// sslctl's shell splits it (so a member address stays one word), and each candidate loses what bash keeps before
    /// the last of its word-break characters (<paramref name="wordBreaks"/>: a colon in an address, by default).
    /// </summary>
    public static IReadOnlyList<string> CompleteLine(string line, string wordBreaks, NamesResponse names)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(wordBreaks);
        var words = Shell.Split(line);
        var partial = line.Length == 0 || char.IsWhiteSpace(line[^1]) || words.Count == 0 ? "" : words[^1];
        var before = words.Skip(1).Take(words.Count - 1 - (partial.Length > 0 ? 1 : 0)).ToList();
        var kept = partial.LastIndexOfAny(wordBreaks.Replace(" ", "", StringComparison.Ordinal).ToCharArray()) + 1;
        return [.. Complete(before, partial, names).Select(c => c[kept..])];
    }

    /// <summary>
    /// The bash completion script <c>sslctl completion bash</c> prints: bash hands the line up to the cursor to
    /// <c>sslctl __complete</c>, which answers one candidate a line (asking the node for names, briefly).
    /// </summary>
    public const string BashScript = """
        # bash completion for sslctl (installed, or ./sslctl at the repository's root): source <(sslctl completion bash), or save it as
        # /etc/bash_completion.d/sslctl (or ~/.local/share/bash-completion/completions/sslctl).
        _sslctl() {
            # One candidate a line, taken as it is: no globbing of [::1], no splitting at spaces.
            mapfile -t COMPREPLY < <(command "${COMP_WORDS[0]}" __complete "${COMP_LINE:0:COMP_POINT}" "$COMP_WORDBREAKS" 2>/dev/null)
        }
        complete -o default -F _sslctl sslctl ./sslctl
        """;
}
