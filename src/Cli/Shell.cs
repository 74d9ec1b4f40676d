using System.Text;

namespace SslCluster.Cli;

/// <summary>
/// <c>sslctl</c> with no command, on a terminal: a prompt that runs one command a line against the same node, with
/// history (up and down arrows), Ctrl-U to clear the line, and tab completion of the command words and of the
/// members' addresses. <c>exit</c>, <c>quit</c> or Ctrl-D on an empty line leave it.
/// </summary>
internal static class Shell
{
    /// <summary>The words that may follow each prefix of a command (Petabridge.Cmd's palettes and ours).</summary>
    private static readonly Dictionary<string, string[]> Next = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = ["cluster", "cluster-sharding", "show", "clear", "configure", "ssl", "copy", "node", "help", "exit"],
        ["cluster"] = ["show", "leader", "tail", "shards", "leave", "down", "rolling-restart"],
        ["cluster-sharding"] = ["regions", "region-stats"],
        ["node"] = ["drain"],
        ["show"] = ["running-config", "ssl", "connections", "service", "keepalive", "content", "ssl-proxy-list", "ssl-proxy"],
        ["show ssl"] = ["flows", "files", "sessions"],
        ["show ssl-proxy"] = ["stats", "service", "conn"],
        ["clear"] = ["ssl-proxy"],
        ["clear ssl-proxy"] = ["stats"],
        ["ssl"] = ["genrsa", "genecdsa", "gencsr", "gencert"],
    };

    /// <summary>The completions of the line's last (partial) word; <paramref name="members"/> after cluster leave/down.</summary>
    internal static IReadOnlyList<string> Complete(string line, IReadOnlyList<string> members)
    {
        var words = Split(line);
        var partial = line.Length == 0 || char.IsWhiteSpace(line[^1]) ? "" : words[^1];
        var before = partial.Length == 0 ? words : words.Take(words.Count - 1).ToList();
        var key = string.Join(' ', before);
        IEnumerable<string> choices = Next.TryGetValue(key, out var next) ? next
            : key.Equals("cluster leave", StringComparison.OrdinalIgnoreCase) || key.Equals("cluster down", StringComparison.OrdinalIgnoreCase) ? members
            : [];
        return [.. choices.Where(c => c.StartsWith(partial, StringComparison.OrdinalIgnoreCase))];
    }

    /// <summary>A line's words: spaces separate them, double quotes keep a word's spaces (a password, a subject).</summary>
    internal static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
                any = true;
            }
            else if (char.IsWhiteSpace(c) && !quoted)
            {
                if (any) words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else
            {
                word.Append(c);
                any = true;
            }
        }
        if (any) words.Add(word.ToString());
        return words;
    }

    /// <param name="run">Runs one command's words against the node, as <c>sslctl WORDS</c> would.</param>
    /// <param name="members">The members' addresses, for completion (asked again after every command).</param>
    public static async Task<int> RunAsync(Func<string[], Task<int>> run, Func<Task<IReadOnlyList<string>>> members, string endpoint)
    {
        Console.WriteLine($"sslctl shell on {endpoint}: one command a line (tab completes, arrows recall); 'help' lists them, 'exit' leaves.");
        var history = new List<string>();
        var known = await SafeAsync(members);
        while (true)
        {
            var line = ReadLine("sslctl> ", history, text => Complete(text, known));
            if (line is null) break;
            var words = Split(line);
            if (words.Count == 0) continue;
            if (history.Count == 0 || history[^1] != line) history.Add(line);
            if (words[0] is "exit" or "quit") break;
            await run([.. words]);
            known = await SafeAsync(members);
        }
        return ExitCodes.Ok;
    }

    private static async Task<IReadOnlyList<string>> SafeAsync(Func<Task<IReadOnlyList<string>>> members)
    {
        try
        {
            return await members();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or NodeErrorException or IOException)
        {
            return [];
        }
    }

    /// <summary>One line from the terminal with editing, history and completion; null at Ctrl-D on an empty line.</summary>
    private static string? ReadLine(string prompt, List<string> history, Func<string, IReadOnlyList<string>> complete)
    {
        var buffer = new StringBuilder();
        var cursor = 0;
        var recalled = history.Count;
        void Redraw()
        {
            Console.Write("\r" + prompt + buffer + "\u001b[K");
            var back = buffer.Length - cursor;
            if (back > 0) Console.Write($"\u001b[{back}D");
        }
        Console.Write(prompt);
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    Console.WriteLine();
                    return buffer.ToString();
                case ConsoleKey.Backspace when cursor > 0:
                    buffer.Remove(--cursor, 1);
                    break;
                case ConsoleKey.Delete when cursor < buffer.Length:
                    buffer.Remove(cursor, 1);
                    break;
                case ConsoleKey.LeftArrow when cursor > 0:
                    cursor--;
                    break;
                case ConsoleKey.RightArrow when cursor < buffer.Length:
                    cursor++;
                    break;
                case ConsoleKey.Home:
                    cursor = 0;
                    break;
                case ConsoleKey.End:
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.UpArrow when recalled > 0:
                case ConsoleKey.DownArrow when recalled < history.Count:
                    recalled += key.Key == ConsoleKey.UpArrow ? -1 : 1;
                    buffer.Clear().Append(recalled < history.Count ? history[recalled] : "");
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.Tab:
                    var text = buffer.ToString(0, cursor);
                    var choices = complete(text);
                    var partial = text.Length == 0 || char.IsWhiteSpace(text[^1]) ? "" : Split(text)[^1];
                    var common = choices.Count == 0 ? partial : choices.Aggregate((a, b) => CommonPrefix(a, b));
                    if (common.Length > partial.Length)
                    {
                        var added = common[partial.Length..] + (choices.Count == 1 ? " " : "");
                        buffer.Insert(cursor, added);
                        cursor += added.Length;
                    }
                    else if (choices.Count > 1)
                    {
                        Console.WriteLine();
                        Console.WriteLine(string.Join("  ", choices));
                    }
                    break;
                case ConsoleKey.U when (key.Modifiers & ConsoleModifiers.Control) != 0:
                    buffer.Clear();
                    cursor = 0;
                    break;
                case ConsoleKey.D when (key.Modifiers & ConsoleModifiers.Control) != 0 && buffer.Length == 0:
                    Console.WriteLine();
                    return null;
                default:
                    if (!char.IsControl(key.KeyChar))
                    {
                        buffer.Insert(cursor++, key.KeyChar);
                    }
                    break;
            }
            Redraw();
        }
    }

    private static string CommonPrefix(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && char.ToLowerInvariant(a[n]) == char.ToLowerInvariant(b[n])) n++;
        return a[..n];
    }
}
