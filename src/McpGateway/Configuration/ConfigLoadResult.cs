namespace McpGateway.Configuration;

/// <summary>A parsed configuration with every problem found; <see cref="Value"/> is null when any is an error.</summary>
public sealed record ConfigLoadResult<T>(T? Value, IReadOnlyList<ConfigDiagnostic> Diagnostics)
    where T : class
{
    public bool Succeeded => Value is not null && !Diagnostics.Any(d => d.IsError);

    public IEnumerable<ConfigDiagnostic> Errors => Diagnostics.Where(d => d.IsError);

    public IEnumerable<ConfigDiagnostic> Warnings => Diagnostics.Where(d => !d.IsError);
}
