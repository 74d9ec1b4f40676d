namespace SslCluster.Protocol.Config;

public enum DiagnosticSeverity
{
    /// <summary>The configuration is rejected whole; nothing is applied.</summary>
    Error,

    /// <summary>Applied, but the operator should know (a legacy cipher replaced by modern suites, say).</summary>
    Warning,

    /// <summary>A line of the reference chassis' hardware (interface, circuit, ...) that has no meaning here.</summary>
    NotApplicable,
}

/// <summary>
/// One finding about a configuration: where (line and word, or the object), what, why, and what to write instead.
/// Line is 0 for findings about the whole model (a reference to a missing proxy list, say).
/// </summary>
public sealed record ConfigDiagnostic(DiagnosticSeverity Severity, int Line, string? Word, string Message)
{
    public override string ToString()
    {
        var kind = Severity switch
        {
            DiagnosticSeverity.Error => "error",
            DiagnosticSeverity.Warning => "warning",
            _ => "not applicable",
        };
        var where = Line > 0 ? $"line {Line}: " : string.Empty;
        var word = Word is null ? string.Empty : $"'{Word}': ";
        return $"{kind}: {where}{word}{Message}";
    }
}
