using System.Text.Json.Nodes;

namespace McpGateway.Diagnostics;

/// <summary>
/// One line of the audit log: who asked for what, what the policy decided and how the call ended. Created on the
/// request path, so it is a plain object; <see cref="AuditLog"/> serializes it later on its own task. A record
/// handed to <see cref="AuditLog.Write"/> belongs to the log from then on and must not be changed.
/// </summary>
internal sealed class AuditRecord
{
    /// <summary>When the request arrived; written as UTC with milliseconds.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The agent the request was attributed to, if any.</summary>
    public string? Agent { get; init; }

    /// <summary>How the agent was established; see <see cref="AuditIdentitySources"/>.</summary>
    public required string IdentitySource { get; init; }

    /// <summary>The key id or token subject that authenticated the caller; never the secret itself.</summary>
    public string? CredentialId { get; init; }

    /// <summary>A fingerprint of the session, never the session id, which is a bearer credential on HTTP.</summary>
    public string? Session { get; init; }

    public string? ClientAddress { get; init; }

    /// <summary>The JSON-RPC method, or <c>http</c> for refusals before any JSON-RPC was read.</summary>
    public required string Method { get; init; }

    /// <summary>The downstream server the item belongs to.</summary>
    public string? Server { get; init; }

    /// <summary>The tool name, prompt name or resource URI as the agent sent it (the exposed name).</summary>
    public string? Item { get; init; }

    /// <summary>The downstream server's own name or URI for <see cref="Item"/>, when it differs.</summary>
    public string? OriginalItem { get; init; }

    /// <summary>What the gateway decided; see <see cref="AuditDecisions"/>.</summary>
    public required string Decision { get; init; }

    /// <summary>The reason text or rule path that decided.</summary>
    public string? Rule { get; init; }

    public required AuditOutcome Outcome { get; init; }

    /// <summary>The JSON-RPC error code, or the HTTP status for <see cref="AuditOutcome.Refused"/>.</summary>
    public int? ErrorCode { get; init; }

    /// <summary>A short message, already free of secrets (see <see cref="AuditRedaction.Excerpt"/>).</summary>
    public string? Error { get; init; }

    public double LatencyMs { get; init; }

    public long RequestBytes { get; init; }

    public long ResponseBytes { get; init; }

    /// <summary>
    /// The call's arguments, only when the operator asked for them (<see cref="AuditOptions.IncludeArguments"/>).
    /// It is read later on the writer's task, so it must be a node nobody else holds or changes: pass the copy
    /// <see cref="AuditRedaction.RedactArguments"/> returns, never the request's own node.
    /// </summary>
    public JsonNode? Arguments { get; init; }
}
