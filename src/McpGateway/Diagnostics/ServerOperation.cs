using System.Diagnostics;

namespace McpGateway.Diagnostics;

/// <summary>
/// One agent request being answered: its SERVER span (when traces are on) and when it started. Made by
/// <see cref="GatewayTelemetry.StartServer"/>; <see cref="Complete"/> records it once the response has been sent.
/// </summary>
internal sealed class ServerOperation
{
    private int _completed;

    internal ServerOperation(Activity? activity, string method, string? target, string transport)
    {
        Activity = activity;
        Method = method;
        Target = target;
        Transport = transport;
        StartedAt = Stopwatch.GetTimestamp();
    }

    /// <summary>The span, or null when traces are off (or the sampler dropped it).</summary>
    public Activity? Activity { get; }

    public string Method { get; }

    public string? Target { get; }

    public string Transport { get; }

    public string? ProtocolVersion { get; private set; }

    internal long StartedAt { get; }

    /// <summary>
    /// What the request says about itself. <paramref name="sessionId"/> is the session's fingerprint, never the
    /// <c>Mcp-Session-Id</c> itself, which is a bearer secret and must not reach a trace backend.
    /// </summary>
    public void Describe(string? protocolVersion, string? sessionId, string? requestId, string? resourceUri = null)
    {
        ProtocolVersion = protocolVersion;
        if (Activity is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(GatewayTelemetry.Attributes.ProtocolVersion, protocolVersion);
            activity.SetTag(GatewayTelemetry.Attributes.SessionId, sessionId);
            activity.SetTag(GatewayTelemetry.Attributes.RequestId, requestId);
            activity.SetTag(GatewayTelemetry.Attributes.ResourceUri, resourceUri);
        }
    }

    /// <summary>
    /// Records the duration (and, for tools/call, the call) and ends the span: <paramref name="errorType"/> is null for
    /// a result, <c>tool_error</c>, a JSON-RPC code with <paramref name="statusCode"/>, or <c>cancelled</c>. Only the first call counts.
    /// </summary>
    public void Complete(in RequestDimensions dimensions, string? errorType, int? statusCode)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        try
        {
            GatewayTelemetry.RecordServer(this, dimensions, errorType, statusCode);
        }
        finally
        {
            Activity?.Dispose();
        }
    }
}
