using System.Text;

namespace SslCluster.Protocol.Config;

/// <summary>One line of configuration split into words; quoted words keep their spaces.</summary>
internal sealed record ConfigLine(int Number, IReadOnlyList<string> Words, string Text);

/// <summary>
/// Splits configuration text into lines of words. <c>!</c> starts a comment line (the CSS prints its section banners
/// that way); straight and typographic double quotes both delimit a quoted word, because operators paste commands
/// from documents that use “these”.
/// </summary>
internal static class ConfigTokenizer
{
    public static IEnumerable<ConfigLine> Lines(string text)
    {
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '!' || line[0] == '#') continue;
            yield return new ConfigLine(number, Split(line, out _), line);
        }
    }

    /// <summary>Splits one line; <paramref name="unterminatedQuote"/> tells whether a quote was left open.</summary>
    public static IReadOnlyList<string> Split(string line, out bool unterminatedQuote)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inQuote = false;
        var hasWord = false;
        foreach (var c in line)
        {
            if (c is '"' or '\u201C' or '\u201D')
            {
                inQuote = !inQuote;
                hasWord = true;
                continue;
            }
            if (!inQuote && char.IsWhiteSpace(c))
            {
                if (hasWord) words.Add(current.ToString());
                current.Clear();
                hasWord = false;
                continue;
            }
            current.Append(c);
            hasWord = true;
        }
        if (hasWord) words.Add(current.ToString());
        unterminatedQuote = inQuote;
        return words;
    }

    /// <summary>Quotes a word for printing when it needs it.</summary>
    public static string Quote(string word) =>
        word.Length == 0 || word.Any(char.IsWhiteSpace) || word.Contains('!', StringComparison.Ordinal)
            ? $"\"{word}\""
            : word;
}
