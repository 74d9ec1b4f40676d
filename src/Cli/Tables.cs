using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace SslCluster.Cli;

/// <summary>A column of a table sslctl prints: its header, and whether its cells (numbers) line up on the right.</summary>
internal sealed record Column(string Header, bool Right = false);

/// <summary>
/// The tables sslctl prints, drawn by Spectre.Console. For a person at a terminal: rounded borders, bold headers, as wide
/// as the terminal. For a pipe or a file: no border, no colour, no wrapping, one line a row with columns two spaces
/// apart and no trailing blanks, so that grep, awk and older scripts read it as before (scripts should use -o json).
/// </summary>
internal static class Tables
{
    /// <summary>Widest a line is drawn for a pipe: wide enough that no cell is ever wrapped.</summary>
    private const int PipeWidth = 4096;

    public static string Render(IReadOnlyList<Column> columns, IEnumerable<IReadOnlyList<string>> rows, bool terminal, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        IRenderable drawing;
        if (terminal)
        {
            var table = new Table().Border(TableBorder.Rounded);
            if (title is not null) table.Title(new TableTitle(Markup.Escape(title), new Style(decoration: Decoration.Bold)));
            foreach (var c in columns)
            {
                var column = new TableColumn(new Text(c.Header, new Style(decoration: Decoration.Bold)));
                if (c.Right) column.RightAligned();
                table.AddColumn(column);
            }
            foreach (var row in Checked(columns, rows)) table.AddRow([.. row.Select(cell => (IRenderable)new Text(cell))]);
            drawing = table;
        }
        else
        {
            // A grid: Spectre's table without a border draws no padding, so its columns would touch.
            var grid = new Grid();
            foreach (var c in columns)
            {
                var column = new GridColumn().NoWrap().Padding(new Padding(0, 0, 2, 0));
                if (c.Right) column.RightAligned();
                grid.AddColumn(column);
            }
            grid.AddRow([.. columns.Select(c => (IRenderable)new Text(c.Header))]);
            foreach (var row in Checked(columns, rows)) grid.AddRow([.. row.Select(cell => (IRenderable)new Text(cell))]);
            drawing = grid;
        }

        using var text = new StringWriter(CultureInfo.InvariantCulture);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = terminal ? TerminalWidth() : PipeWidth;
        console.Write(drawing);
        var drawn = string.Join('\n', text.ToString().Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => l.TrimEnd())).TrimEnd('\n') + "\n";
        return title is not null && !terminal ? title + "\n\n" + drawn : drawn;
    }

    private static IEnumerable<IReadOnlyList<string>> Checked(IReadOnlyList<Column> columns, IEnumerable<IReadOnlyList<string>> rows) =>
        rows.Select(row => row.Count == columns.Count ? row : throw new ArgumentException($"a row has {row.Count} cells for {columns.Count} columns", nameof(rows)));

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth is > 20 and var w ? w : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }

    /// <summary>A count of bytes as a person reads it: 512 B, 1.5 KiB, 12.0 MiB.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0 ? FormattableString.Invariant($"{bytes} B") : FormattableString.Invariant($"{value:0.0} {units[unit]}");
    }

    /// <summary>An age as a person reads it: 4.2s, 3m05s, 2h07m, 3d04h.</summary>
    public static string Age(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return t.TotalSeconds < 60 ? FormattableString.Invariant($"{t.TotalSeconds:0.0}s")
            : t.TotalMinutes < 60 ? FormattableString.Invariant($"{t.Minutes}m{t.Seconds:00}s")
            : t.TotalHours < 24 ? FormattableString.Invariant($"{(int)t.TotalHours}h{t.Minutes:00}m")
            : FormattableString.Invariant($"{(int)t.TotalDays}d{t.Hours:00}h");
    }
}
