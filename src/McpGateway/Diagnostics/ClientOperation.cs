using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Diagnostics;

/// <summary>
/// One request to a downstream server: its CLIENT span (a child of the agent's request it serves) and when it
/// started. It carries its trace context to the server in <c>params._meta</c> (<c>traceparent</c>, and
/// <c>tracestate</c> when there is one), as the conventions say. Made by <see cref="GatewayTelemetry.StartClient"/>.
/// </summary>
internal sealed class ClientOperation
{
    private int _completed;

    internal ClientOperation(Activity? activity, string method, string? target, string server, string transport, string? protocolVersion)
    {
        Activity = activity;
        Method = method;
        Target = target;
        Server = server;
        Transport = transport;
        ProtocolVersion = protocolVersion;
        StartedAt = Stopwatch.GetTimestamp();
    }

    public Activity? Activity { get; }

    public string Method { get; }

    public string? Target { get; }

    public string Server { get; }

    public string Transport { get; }

    public string? ProtocolVersion { get; }

    internal long StartedAt { get; }

    /// <summary>The W3C <c>traceparent</c> of this span, or null without a span.</summary>
    public string? TraceParent => Activity is { } activity
        ? string.Create(CultureInfo.InvariantCulture, $"00-{activity.TraceId.ToHexString()}-{activity.SpanId.ToHexString()}-{(activity.Recorded ? "01" : "00")}")
        : null;

    /// <summary>Sets the id the request went out with (known only on the fast path, which makes its ids itself).</summary>
    public void SetRequestId(string id) => Activity?.SetTag(GatewayTelemetry.Attributes.RequestId, id);

    /// <summary>
    /// Writes the trace context into <paramref name="parameters"/>' <c>_meta</c> (created when missing), replacing
    /// the agent's: the server's spans are children of this one, which is a child of the agent's. The params must be
    /// this request's own (they are changed in place).
    /// </summary>
    public void InjectInto(JsonNode? parameters)
    {
        if (TraceParent is not { } traceParent || parameters is not JsonObject obj)
        {
            return;
        }

        if (obj["_meta"] is not JsonObject meta)
        {
            if (obj["_meta"] is not null)
            {
                return;
            }

            obj["_meta"] = meta = [];
        }

        meta["traceparent"] = traceParent;
        if (Activity!.TraceStateString is { Length: > 0 } traceState)
        {
            meta["tracestate"] = traceState;
        }
        else
        {
            meta.Remove("tracestate");
        }
    }

    /// <summary>Writes the trace context as a <c>_meta</c> property of the params object being written (the fast path's raw request).</summary>
    public void WriteMeta(Utf8JsonWriter writer)
    {
        if (TraceParent is not { } traceParent)
        {
            return;
        }

        writer.WriteStartObject("_meta"u8);
        writer.WriteString("traceparent"u8, traceParent);
        if (Activity!.TraceStateString is { Length: > 0 } traceState)
        {
            writer.WriteString("tracestate"u8, traceState);
        }

        writer.WriteEndObject();
    }

    /// <summary>A result arrived: a tools/call result with <c>isError: true</c> is a <c>tool_error</c>.</summary>
    public void Succeeded(JsonNode? result) =>
        Complete(Method == "tools/call" && result is JsonObject obj && obj["isError"] is JsonValue flag && flag.GetValueKind() == JsonValueKind.True ? GatewayTelemetry.ErrorTypes.ToolError : null, null);

    /// <summary>A JSON-RPC error response arrived with <paramref name="code"/>.</summary>
    public void Errored(int code) => Complete(GatewayTelemetry.ErrorTypeOf(code), code);

    /// <summary>No response: one of <see cref="GatewayTelemetry.ErrorTypes"/> says why.</summary>
    public void Failed(string errorType) => Complete(errorType, null);

    /// <summary>Records the duration and ends the span; only the first call counts.</summary>
    public void Complete(string? errorType, int? statusCode)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        try
        {
            GatewayTelemetry.RecordClient(this, errorType, statusCode);
        }
        finally
        {
            Activity?.Dispose();
        }
    }
}
