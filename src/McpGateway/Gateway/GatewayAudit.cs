using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using McpGateway.Identity;

namespace McpGateway.Gateway;

/// <summary>How a forwarded request ended, as every path reports it to the audit.</summary>
internal readonly record struct CallOutcome(AuditOutcome Kind, int? Code = null, string? Error = null, long ResponseBytes = 0)
{
    public static CallOutcome Result(long bytes = 0) => new(AuditOutcome.Result, ResponseBytes: bytes);
}

/// <summary>
/// Turns the gateway's decisions into audit records: one builder per kind of decision, called by every path that
/// makes it (a tool call's record is the same whether the SDK path or the fast path answered it). Does nothing when
/// auditing is off. Records carry the key id or token subject and a session fingerprint, never a secret.
/// </summary>
internal sealed class GatewayAudit(TimeProvider time, bool includeArguments, AuditLog? log = null)
{
    public bool Enabled => log is not null;

    public bool IncludeArguments => log is not null && includeArguments;

    /// <summary>A tool call, allowed or not, with its outcome.</summary>
    public ValueTask ToolCall(in ToolCallDecision decision, GatewaySession session, string? clientAddress, long receivedAt, long requestBytes, in CallOutcome outcome, JsonNode? arguments = null)
    {
        if (log is null)
        {
            return ValueTask.CompletedTask;
        }

        // Enqueued without waiting; only a full buffer (a writer far behind) makes the caller wait, and nothing is dropped.
        return log.WriteAsync(new AuditRecord
        {
            Time = time.GetUtcNow(),
            Agent = decision.Caller.Agent,
            IdentitySource = decision.Caller.SourceName,
            CredentialId = decision.Caller.CredentialId,
            Session = session.Fingerprint,
            ClientAddress = clientAddress,
            Method = ModelContextProtocol.Protocol.RequestMethods.ToolsCall,
            Server = decision.Route?.Server.Name,
            Item = decision.Name,
            OriginalItem = decision.Route?.Tool.Name,
            Decision = decision.DecisionName,
            Rule = decision.Rule,
            Outcome = outcome.Kind,
            ErrorCode = outcome.Code,
            Error = outcome.Error is null ? null : AuditRedaction.Excerpt(outcome.Error),
            LatencyMs = time.GetElapsedTime(receivedAt).TotalMilliseconds,
            RequestBytes = requestBytes,
            ResponseBytes = outcome.ResponseBytes,
            Arguments = includeArguments && arguments is not null ? AuditRedaction.RedactArguments(arguments) : null,
        }, CancellationToken.None);
    }

    /// <summary>
    /// The one record of a request the SDK path answered, from what its handlers decided: a tool call's record is
    /// built exactly as the fast path builds it; anything else (lists, prompts, resources, completions, tasks, the
    /// gateway's own tools, refused identities) from the request's <see cref="RequestAudit"/>.
    /// </summary>
    public ValueTask Request(GatewayRequest request, in CallOutcome outcome, long requestBytes)
    {
        if (log is null)
        {
            return ValueTask.CompletedTask;
        }

        RequestAudit audit = request.Audit;
        if (audit.Tool is { } decision && request.Message.Method == ModelContextProtocol.Protocol.RequestMethods.ToolsCall && audit.Decision == "allowed")
        {
            return ToolCall(decision, request.Session, request.ClientAddress, request.ReceivedAt, requestBytes, outcome, audit.Arguments);
        }

        Caller caller = audit.Caller;
        return log.WriteAsync(new AuditRecord
        {
            Time = time.GetUtcNow(),
            Agent = caller.Agent ?? caller.EstablishedAgent,
            IdentitySource = caller.SourceName,
            CredentialId = caller.CredentialId,
            Session = request.Session.Fingerprint,
            ClientAddress = request.ClientAddress,
            Method = request.Message.Method,
            Server = audit.Tool?.Route?.Server.Name ?? audit.Server,
            Item = audit.Tool?.Name ?? audit.Item,
            OriginalItem = audit.Tool?.Route?.Tool.Name ?? audit.OriginalItem,
            Decision = audit.Tool is { } tool && audit.Decision == "allowed" ? tool.DecisionName : audit.Decision,
            Rule = audit.Tool is { } ruled && audit.Decision == "allowed" ? ruled.Rule : audit.Rule,
            Outcome = outcome.Kind,
            ErrorCode = outcome.Code,
            Error = outcome.Error is null ? null : AuditRedaction.Excerpt(outcome.Error),
            LatencyMs = time.GetElapsedTime(request.ReceivedAt).TotalMilliseconds,
            RequestBytes = requestBytes,
            ResponseBytes = outcome.ResponseBytes,
            Arguments = includeArguments && audit.Arguments is not null ? AuditRedaction.RedactArguments(audit.Arguments) : null,
        }, CancellationToken.None);
    }

    /// <summary>A request refused before any JSON-RPC was handled (session limits, HTTP rate limit, malformed body).</summary>
    /// <summary>A request refused before JSON-RPC, by what its credential says (none: anonymous).</summary>
    public ValueTask HttpRefused(AuthenticatedCaller? caller, string? clientAddress, string reason, int status) =>
        HttpRefused(caller?.Agent, caller is null ? "none" : caller.Source == IdentitySource.Jwt ? "jwt" : "api-key", caller?.CredentialId, clientAddress, reason, status);

    public ValueTask HttpRefused(string? agent, string identitySource, string? credentialId, string? clientAddress, string reason, int status) =>
        log?.WriteAsync(new AuditRecord
        {
            Time = time.GetUtcNow(),
            Agent = agent,
            IdentitySource = identitySource,
            CredentialId = credentialId,
            ClientAddress = clientAddress,
            Method = "http",
            Decision = "refused",
            Rule = reason,
            Outcome = AuditOutcome.Refused,
            ErrorCode = status,
        }, CancellationToken.None) ?? ValueTask.CompletedTask;
}
