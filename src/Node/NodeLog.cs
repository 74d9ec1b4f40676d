using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using MsLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace SslCluster.Node;

/// <summary>
/// The node's one log writer: Akka's events (through <see cref="NodeLogger"/>), the data path's structured events
/// (through <see cref="NodeLoggerProvider"/>) and the node's own start-up lines go to standard output as short lines
/// for a person or as one JSON object per line. Akka's internal chatter is kept at warnings unless asked for.
/// </summary>
internal static class NodeLog
{
    private static readonly Lock Gate = new();
    private static bool _json;
    private static AkkaLogLevel _akkaLevel = AkkaLogLevel.WarningLevel;

    /// <summary>The node's address, in every JSON line once known.</summary>
    public static string? Node { get; set; }

    public static void Configure(string format, string akkaLevel)
    {
        _json = format == "json";
        _akkaLevel = akkaLevel.ToUpperInvariant() switch
        {
            "DEBUG" => AkkaLogLevel.DebugLevel,
            "INFO" => AkkaLogLevel.InfoLevel,
            "ERROR" => AkkaLogLevel.ErrorLevel,
            _ => AkkaLogLevel.WarningLevel,
        };
    }

    public static bool Json => _json;

    /// <summary>A line of the node itself (start-up, shutdown).</summary>
    public static void Info(string message) => Write(DateTime.UtcNow, "INFO", "sslnode", null, message, null, null, null);

    /// <summary>An Akka log event: the product's own at any enabled level, Akka's internals from the configured level.</summary>
    public static void Write(LogEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var ours = e.LogClass?.Namespace?.StartsWith("SslCluster", StringComparison.Ordinal) == true;
        if (!ours && e.LogLevel() < _akkaLevel) return;
        var level = e.LogLevel() switch
        {
            AkkaLogLevel.DebugLevel => "DEBUG",
            AkkaLogLevel.InfoLevel => "INFO",
            AkkaLogLevel.WarningLevel => "WARN",
            _ => "ERROR",
        };
        var message = e.Message?.ToString() ?? "";
        var cause = (e as Error)?.Cause;
        Write(e.Timestamp, level, e.LogClass?.FullName ?? "akka", e.LogSource, ours ? message : $"[akka] {message}", cause, null, null);
    }

    /// <summary>A Microsoft.Extensions.Logging event (the data path's [LoggerMessage] events).</summary>
    public static void Write(string category, MsLogLevel level, EventId id, string message, Exception? exception, IReadOnlyList<KeyValuePair<string, object?>>? fields)
    {
        var word = level switch
        {
            MsLogLevel.Trace or MsLogLevel.Debug => "DEBUG",
            MsLogLevel.Information => "INFO",
            MsLogLevel.Warning => "WARN",
            _ => "ERROR",
        };
        Write(DateTime.UtcNow, word, category, null, message, exception, id, fields);
    }

    private static void Write(DateTime at, string level, string logger, string? source, string message, Exception? exception, EventId? id,
        IReadOnlyList<KeyValuePair<string, object?>>? fields)
    {
        string line;
        if (_json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("time", at.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                w.WriteString("level", level.ToLowerInvariant());
                w.WriteString("logger", logger);
                if (source is not null) w.WriteString("source", source);
                if (Node is not null) w.WriteString("node", Node);
                if (id is { } e && e.Id != 0)
                {
                    w.WriteNumber("eventId", e.Id);
                    if (e.Name is not null) w.WriteString("event", e.Name);
                }
                w.WriteString("message", message);
                if (fields is not null)
                {
                    foreach (var (k, v) in fields)
                    {
                        if (k == "{OriginalFormat}") continue;
                        w.WriteString(char.ToLowerInvariant(k[0]) + k[1..], Convert.ToString(v, CultureInfo.InvariantCulture));
                    }
                }
                if (exception is not null) w.WriteString("exception", exception.ToString());
                w.WriteEndObject();
            }
            line = Encoding.UTF8.GetString(buffer.ToArray());
        }
        else
        {
            line = $"{at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)} {level,-5} {message}" +
                (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})");
        }
        lock (Gate) Console.Out.WriteLine(line);
    }
}

/// <summary>The Akka logger of a node (akka.loggers): every log event goes to <see cref="NodeLog"/>.</summary>
internal sealed class NodeLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public NodeLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(NodeLog.Write);
    }
}

/// <summary>Microsoft.Extensions.Logging into <see cref="NodeLog"/>, for the data path's structured events.</summary>
internal sealed class NodeLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new CategoryLogger(categoryName);

    public void Dispose()
    {
    }

    private sealed class CategoryLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(MsLogLevel logLevel) => logLevel >= MsLogLevel.Information;

        public void Log<TState>(MsLogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            NodeLog.Write(category, logLevel, eventId, formatter(state, exception), exception, state as IReadOnlyList<KeyValuePair<string, object?>>);
        }
    }
}
