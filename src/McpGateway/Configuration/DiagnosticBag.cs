namespace McpGateway.Configuration;

/// <summary>Collects every problem of one file in one pass, with positions looked up from the parsed document.</summary>
internal sealed class DiagnosticBag(string file, JsonPositionMap? positions = null)
{
    private readonly List<ConfigDiagnostic> _items = [];

    public string File { get; } = file;

    public IReadOnlyList<ConfigDiagnostic> Items => _items;

    public bool HasErrors => _items.Exists(d => d.IsError);

    public void Error(string path, string message, string? fix = null) => Add(DiagnosticSeverity.Error, path, message, fix);

    public void Warning(string path, string message, string? fix = null) => Add(DiagnosticSeverity.Warning, path, message, fix);

    public void Add(ConfigDiagnostic diagnostic) => _items.Add(diagnostic);

    private void Add(DiagnosticSeverity severity, string path, string message, string? fix)
    {
        (int Line, int Column)? position = positions?.Find(path);
        _items.Add(new ConfigDiagnostic(severity, File, path, message, fix, position?.Line, position?.Column));
    }
}
