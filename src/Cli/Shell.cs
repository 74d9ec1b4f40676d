using System.Text;
using SslCluster.Protocol.Admin;

namespace SslCluster.Cli;

/// <summary>
/// <c>sslctl</c> with no command, on a terminal: a prompt that runs one command a line against the same node, with
/// history (up and down arrows), Ctrl-U to clear the line, and tab completion of the command words and of the
/// members' addresses. <c>exit</c>, <c>quit</c> or Ctrl-D on an empty line leave it.
/// </summary>
internal static class Shell
{
    /// <summary>The completions of the line's last (partial) word, from the command words and the node's names.</summary>
    internal static IReadOnlyList<string> Complete(string line, NamesResponse names)
    {
        var words = Split(line);
        var partial = line.Length == 0 || char.IsWhiteSpace(line[^1]) ? "" : words[^1];
        return Completion.Complete(partial.Length == 0 ? words : words.Take(words.Count - 1).ToList(), partial, names);
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
    /// <param name="names">The names to complete (members, services, rules...), asked again after every command.</param>
    public static async Task<int> RunAsync(Func<string[], Task<int>> run, Func<Task<NamesResponse>> names, string endpoint)
    {
        Console.WriteLine($"sslctl shell on {endpoint}: one command a line (tab completes, arrows recall); 'help' lists them, 'exit' leaves.");
        var history = new List<string>();
        var known = await SafeAsync(names);
        while (true)
        {
            var line = ReadLine("sslctl> ", history, text => Complete(text, known));
            if (line is null) break;
            var words = Split(line);
            if (words.Count == 0) continue;
            if (history.Count == 0 || history[^1] != line) history.Add(line);
            if (words[0] is "exit" or "quit") break;
            await run([.. words]);
            known = await SafeAsync(names);
        }
        return ExitCodes.Ok;
    }

    /// <summary>The names, or none when the node does not answer (or is older and has no names): words still complete.</summary>
    internal static async Task<NamesResponse> SafeAsync(Func<Task<NamesResponse>> names)
    {
        try
        {
            return await names();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or NodeErrorException or IOException or System.Text.Json.JsonException)
        {
            return NamesResponse.None;
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
