using McpGateway.Diagnostics;

namespace McpGateway.Gateway;

/// <summary>How a call's outcome reads as the conventions' <c>error.type</c>, one mapping for the SDK path and the fast path.</summary>
internal static class CallOutcomeTelemetry
{
    /// <summary>Null for a result; <c>tool_error</c>; the JSON-RPC code of an error response; <c>cancelled</c>.</summary>
    public static string? ErrorType(this in CallOutcome outcome) => outcome.Kind switch
    {
        AuditOutcome.Result => null,
        AuditOutcome.ToolError => GatewayTelemetry.ErrorTypes.ToolError,
        AuditOutcome.Cancelled => GatewayTelemetry.ErrorTypes.Cancelled,
        _ => outcome.Code is int code ? GatewayTelemetry.ErrorTypeOf(code) : GatewayTelemetry.Other,
    };
}
