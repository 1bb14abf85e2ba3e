namespace McpGateway.Diagnostics;

/// <summary>How a request ended, as the audit log records it (written in lower-kebab case: <c>tool-error</c>).</summary>
internal enum AuditOutcome
{
    /// <summary>A result went back to the agent.</summary>
    Result,

    /// <summary>The tool ran and failed: a result with <c>isError: true</c>, which the model can act on.</summary>
    ToolError,

    /// <summary>A JSON-RPC error went back (unknown tool, denied, bad request, downstream error).</summary>
    ProtocolError,

    /// <summary>The downstream server did not answer within the call timeout.</summary>
    Timeout,

    /// <summary>The agent cancelled, or the connection went away, before the answer.</summary>
    Cancelled,

    /// <summary>Turned away before any JSON-RPC (authentication, rate limits): <see cref="AuditRecord.ErrorCode"/> is the HTTP status.</summary>
    Refused,
}
