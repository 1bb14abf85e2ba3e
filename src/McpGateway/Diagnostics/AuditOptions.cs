namespace McpGateway.Diagnostics;

/// <summary>Where and how the audit log is written (host settings, from the command line or environment).</summary>
internal sealed record AuditOptions
{
    /// <summary>The path passed as <see cref="Path"/> to write to standard output.</summary>
    public const string StandardOutput = "-";

    /// <summary>The file to append to, or <c>-</c> for standard output (never on a stdio gateway: stdout carries the protocol there).</summary>
    public required string Path { get; init; }

    /// <summary>The size past which the file is rotated; a single record larger than this still goes whole into a file of its own.</summary>
    public long MaxFileBytes { get; init; } = 100 * 1024 * 1024;

    /// <summary>Rotated files kept (<c>audit.jsonl.1</c> is the newest); 0 keeps none.</summary>
    public int MaxFiles { get; init; } = 5;

    /// <summary>Records held in memory while the writer catches up; when full, callers wait rather than lose records.</summary>
    public int BufferRecords { get; init; } = 16_384;

    /// <summary>Write <see cref="AuditRecord.Arguments"/>; off by default, so argument values reach the log only when the operator asked.</summary>
    public bool IncludeArguments { get; init; }
}
