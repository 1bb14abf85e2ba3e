namespace McpGateway.Diagnostics;

/// <summary>The values of <see cref="AuditRecord.IdentitySource"/>: one spelling everywhere, so the log can be filtered.</summary>
internal static class AuditIdentitySources
{
    public const string ApiKey = "api-key";
    public const string Jwt = "jwt";
    public const string StdioAgent = "stdio-agent";
    public const string Session = "session";
    public const string Header = "header";
    public const string Argument = "argument";
    public const string DefaultAgent = "default-agent";
    public const string None = "none";
}

/// <summary>The values of <see cref="AuditRecord.Decision"/>.</summary>
internal static class AuditDecisions
{
    public const string Allowed = "allowed";
    public const string Denied = "denied";

    /// <summary>The item does not exist (or is hidden from this agent, which looks the same to it).</summary>
    public const string Unknown = "unknown";

    /// <summary>Turned away before the policy was asked: authentication, malformed requests.</summary>
    public const string Refused = "refused";

    public const string RateLimited = "rate-limited";
}

/// <summary>The values of <see cref="AuditRecord.Method"/> that are not JSON-RPC methods.</summary>
internal static class AuditMethods
{
    /// <summary>A refusal at the HTTP level, before any JSON-RPC was read.</summary>
    public const string Http = "http";
}
