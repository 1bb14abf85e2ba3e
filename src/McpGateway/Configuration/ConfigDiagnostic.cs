using System.Text;

namespace McpGateway.Configuration;

/// <summary>How bad a configuration problem is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Accepted, but probably not what the user meant.</summary>
    Warning,

    /// <summary>The file cannot be used until this is fixed.</summary>
    Error,
}

/// <summary>
/// One problem found in a configuration file: where it is (file, JSON path and, when known, line and column),
/// what is wrong, and what to write instead. Messages never echo values that came from the environment.
/// </summary>
public sealed record ConfigDiagnostic(
    DiagnosticSeverity Severity,
    string File,
    string JsonPath,
    string Message,
    string? Fix = null,
    int? Line = null,
    int? Column = null)
{
    public bool IsError => Severity == DiagnosticSeverity.Error;

    /// <summary>Formats as <c>file:line:col: error: $.path: message Fix: fix</c>, the shape editors and CI logs link.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(File);
        if (Line is int line)
        {
            sb.Append(':').Append(line);
            if (Column is int column)
            {
                sb.Append(':').Append(column);
            }
        }

        sb.Append(Severity == DiagnosticSeverity.Error ? ": error: " : ": warning: ");
        if (JsonPath.Length > 0)
        {
            sb.Append(JsonPath).Append(": ");
        }

        sb.Append(Message);
        if (Fix is not null)
        {
            sb.Append(" Fix: ").Append(Fix);
        }

        return sb.ToString();
    }
}
