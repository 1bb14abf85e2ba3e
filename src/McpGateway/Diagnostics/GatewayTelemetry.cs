using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Diagnostics;

/// <summary>
/// The gateway's traces and metrics, after the OpenTelemetry semantic conventions for MCP: the one owner of the
/// <see cref="ActivitySource"/> and <see cref="Meter"/> (both named <see cref="Name"/>), their instruments and their
/// attribute names. The SDK path and the fast path start their spans and record their durations through the same
/// methods here, so a call cannot be named or counted differently depending on which path answered it. Nothing is
/// created when nobody listens: no span, no measurement, no allocation.
/// </summary>
/// <remarks>
/// Cardinality is bounded on the metrics: agents only when the rules define them (anything else is
/// <see cref="Unknown"/>), servers only as configured, decisions from a fixed set, tool names only for tools that
/// exist in a configured server's catalog (or the gateway's own), and at most <see cref="MaxToolNames"/> of them
/// (then <see cref="Other"/>). Spans carry the same bounded dimensions, and the tool name the agent asked for.
/// </remarks>
internal static class GatewayTelemetry
{
    /// <summary>The name of the gateway's ActivitySource and Meter, for <c>AddSource</c> and <c>AddMeter</c>.</summary>
    public const string Name = "McpGateway";

    /// <summary>The agent of a request that names no agent of the rules.</summary>
    public const string Unknown = "unknown";

    /// <summary>The conventions' value for "one of too many to name".</summary>
    public const string Other = "_OTHER";

    /// <summary>Distinct tool names the metrics name before the rest are counted as <see cref="Other"/>.</summary>
    public const int MaxToolNames = 500;

    /// <summary>The attribute names: the conventions' first, then the gateway's own dimensions.</summary>
    public static class Attributes
    {
        public const string MethodName = "mcp.method.name";
        public const string ProtocolVersion = "mcp.protocol.version";
        public const string SessionId = "mcp.session.id";
        public const string ResourceUri = "mcp.resource.uri";
        public const string ToolName = "gen_ai.tool.name";
        public const string PromptName = "gen_ai.prompt.name";
        public const string OperationName = "gen_ai.operation.name";
        public const string ErrorType = "error.type";
        public const string ResponseStatusCode = "rpc.response.status_code";
        public const string RequestId = "jsonrpc.request.id";
        public const string NetworkTransport = "network.transport";
        public const string NetworkProtocolName = "network.protocol.name";

        /// <summary>The agent the request acts as (an agent of the rules, or <see cref="Unknown"/>).</summary>
        public const string Agent = "mcp_gateway.agent";

        /// <summary>The configured server the request went to.</summary>
        public const string Server = "mcp_gateway.server";

        /// <summary>allowed, denied, unknown, refused or rate-limited.</summary>
        public const string Decision = "mcp_gateway.decision";
    }

    /// <summary>Values of <c>error.type</c> besides a JSON-RPC error code.</summary>
    public static class ErrorTypes
    {
        /// <summary>A tools/call result with <c>isError: true</c>.</summary>
        public const string ToolError = "tool_error";

        /// <summary>The agent cancelled, or went away, before the answer.</summary>
        public const string Cancelled = "cancelled";

        /// <summary>Downstream only: the server did not answer within the call timeout.</summary>
        public const string Timeout = "timeout";

        /// <summary>Downstream only: the connection was lost or closed during the request.</summary>
        public const string ConnectionClosed = "connection_closed";

        /// <summary>Downstream only: the reply was over the server's message size limit.</summary>
        public const string ReplyTooLarge = "reply_too_large";
    }

    /// <summary>Values of <c>network.transport</c>.</summary>
    public static class Transports
    {
        /// <summary>stdio (a child process, or the gateway's own stdin/stdout).</summary>
        public const string Pipe = "pipe";

        /// <summary>Streamable HTTP (or HTTP+SSE).</summary>
        public const string Tcp = "tcp";
    }

    private const string ToolsCall = "tools/call";
    private const string PromptsGet = "prompts/get";

    // The protocol revisions the metrics name; any other value stays on the span only.
    private static readonly HashSet<string> s_protocolVersions = new(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"], StringComparer.Ordinal);

    // The buckets the conventions give for every MCP duration histogram (the SDK's own are the same).
    private static readonly InstrumentAdvice<double> s_durationBuckets = new()
    {
        HistogramBucketBoundaries = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    };

    private static readonly ActivitySource s_source = new(Name, GatewayVersion.Value);
    private static readonly Meter s_meter = new(Name, GatewayVersion.Value);

    private static readonly Histogram<double> s_serverOperationDuration = s_meter.CreateHistogram(
        "mcp.server.operation.duration", "s", "Duration of an agent's MCP request, from its arrival at the gateway until the response was sent.", tags: null, s_durationBuckets);

    private static readonly Histogram<double> s_clientOperationDuration = s_meter.CreateHistogram(
        "mcp.client.operation.duration", "s", "Duration of an MCP request the gateway sent to a downstream server, until its response arrived.", tags: null, s_durationBuckets);

    private static readonly Histogram<double> s_serverSessionDuration = s_meter.CreateHistogram(
        "mcp.server.session.duration", "s", "Duration of an agent's MCP session (stdio, or stateful Streamable HTTP).", tags: null, s_durationBuckets);

    private static readonly Counter<long> s_toolCalls = s_meter.CreateCounter<long>(
        "mcp_gateway.tool.calls", "{call}", "Tool calls by agent, server and the gateway's decision.");

    private static readonly UpDownCounter<long> s_openSessions = s_meter.CreateUpDownCounter<long>(
        "mcp_gateway.session.open", "{session}", "Agent sessions open now (stdio, or stateful Streamable HTTP).");

    private static readonly UpDownCounter<long> s_sharedStore = s_meter.CreateUpDownCounter<long>(
        "mcp_gateway.shared_store.available", "{store}", "1 while the shared store (Redis) answers and limits hold across replicas; 0 while this replica counts its limits alone.");

    private static readonly ConcurrentDictionary<string, byte> s_toolNames = new(StringComparer.Ordinal);

    /// <summary>The shared store became available (true), stopped answering (false), or is configured and not yet connected (null).</summary>
    public static void SharedStoreAvailable(bool? available) => s_sharedStore.Add(available switch { true => 1, false => -1, null => 0 });

    /// <summary>
    /// Starts the SERVER span and duration of an agent's request. The parent is the agent's trace context from
    /// <c>params._meta</c> (<paramref name="traceParent"/>, as the conventions say), else the HTTP request's
    /// <c>traceparent</c> header, else none: a new trace.
    /// </summary>
    public static ServerOperation? StartServer(string method, string? target, string transport, string? traceParent = null, string? traceState = null)
    {
        bool traced = s_source.HasListeners();
        if (!traced && !s_serverOperationDuration.Enabled && !s_toolCalls.Enabled)
        {
            return null;
        }

        Activity? activity = traced ? Start(SpanName(method, target), ActivityKind.Server, RemoteParent(traceParent, traceState)) : null;
        var operation = new ServerOperation(activity, method, target, transport);
        if (activity is { IsAllDataRequested: true })
        {
            AddCommonTags(activity, method, target, transport);
        }

        return operation;
    }

    /// <summary>Starts the CLIENT span and duration of a request to server <paramref name="server"/>, as a child of the agent's request being answered.</summary>
    public static ClientOperation? StartClient(string method, string? target, string server, string transport, string? protocolVersion)
    {
        bool traced = s_source.HasListeners();
        if (!traced && !s_clientOperationDuration.Enabled)
        {
            return null;
        }

        Activity? activity = traced ? Start(SpanName(method, target), ActivityKind.Client, default) : null;
        if (activity is { IsAllDataRequested: true })
        {
            AddCommonTags(activity, method, target, transport);
            activity.SetTag(Attributes.Server, server);
            activity.SetTag(Attributes.ProtocolVersion, protocolVersion);
        }

        return new ClientOperation(activity, method, target, server, transport, protocolVersion);
    }

    /// <summary>Counts a session from its start; null when no one listens.</summary>
    public static SessionTelemetry? StartSession(string transport)
    {
        if (!s_serverSessionDuration.Enabled && !s_openSessions.Enabled)
        {
            return null;
        }

        s_openSessions.Add(1, new KeyValuePair<string, object?>(Attributes.NetworkTransport, transport));
        return new SessionTelemetry(transport, Stopwatch.GetTimestamp());
    }

    /// <summary>The span's target: the tool or prompt name (a resource URI, unbounded, stays out of span names, as in the conventions).</summary>
    public static string? TargetOf(string method, JsonNode? parameters) =>
        method is ToolsCall or PromptsGet && parameters is JsonObject obj && obj["name"] is JsonValue name && name.GetValueKind() == JsonValueKind.String
            ? name.GetValue<string>()
            : null;

    /// <summary>The <c>uri</c> of a resource request, for <c>mcp.resource.uri</c> on its span.</summary>
    public static string? ResourceUriOf(string method, JsonNode? parameters) =>
        method.StartsWith("resources/", StringComparison.Ordinal) && parameters is JsonObject obj && obj["uri"] is JsonValue uri && uri.GetValueKind() == JsonValueKind.String
            ? uri.GetValue<string>()
            : null;

    /// <summary>The agent's W3C trace context from <c>params._meta</c>: traceparent and tracestate, when present.</summary>
    public static (string? TraceParent, string? TraceState) TraceContextOf(JsonNode? parameters)
    {
        if (parameters is not JsonObject { } obj || obj["_meta"] is not JsonObject meta)
        {
            return default;
        }

        return (StringOf(meta["traceparent"]), StringOf(meta["tracestate"]));

        static string? StringOf(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
    }

    /// <summary><c>error.type</c> for a JSON-RPC error code.</summary>
    public static string ErrorTypeOf(int code) => code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One of the decision values the metrics use, from the audit's word (no-identity and other refusals before the policy: refused).</summary>
    public static string DecisionOf(string audited) => audited switch
    {
        AuditDecisions.Allowed or AuditDecisions.Denied or AuditDecisions.Unknown or AuditDecisions.RateLimited => audited,
        _ => AuditDecisions.Refused,
    };

    internal static void RecordServer(ServerOperation operation, in RequestDimensions dimensions, string? errorType, int? statusCode)
    {
        string agent = dimensions.Agent ?? Unknown;
        string? tool = dimensions.Tool is { } name ? BoundedToolName(name) : null;
        if (operation.Activity is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(Attributes.Agent, agent);
            activity.SetTag(Attributes.Server, dimensions.Server);
            activity.SetTag(Attributes.Decision, dimensions.Decision);
            SetOutcome(activity, errorType, statusCode);
        }

        if (s_serverOperationDuration.Enabled)
        {
            TagList tags = OperationTags(operation.Method, tool, operation.Transport, operation.ProtocolVersion, errorType, statusCode);
            tags.Add(Attributes.Agent, agent);
            if (dimensions.Server is not null)
            {
                tags.Add(Attributes.Server, dimensions.Server);
            }

            if (dimensions.Decision is not null)
            {
                tags.Add(Attributes.Decision, dimensions.Decision);
            }

            s_serverOperationDuration.Record(Stopwatch.GetElapsedTime(operation.StartedAt).TotalSeconds, tags);
        }

        if (operation.Method == ToolsCall && s_toolCalls.Enabled)
        {
            var tags = new TagList { { Attributes.Agent, agent }, { Attributes.Decision, dimensions.Decision ?? AuditDecisions.Allowed } };
            if (dimensions.Server is not null)
            {
                tags.Add(Attributes.Server, dimensions.Server);
            }

            s_toolCalls.Add(1, tags);
        }
    }

    internal static void RecordClient(ClientOperation operation, string? errorType, int? statusCode)
    {
        if (operation.Activity is { IsAllDataRequested: true } activity)
        {
            SetOutcome(activity, errorType, statusCode);
        }

        if (s_clientOperationDuration.Enabled)
        {
            string? tool = operation.Method == ToolsCall && operation.Target is { } name ? BoundedToolName(name) : null;
            TagList tags = OperationTags(operation.Method, tool, operation.Transport, operation.ProtocolVersion, errorType, statusCode);
            tags.Add(Attributes.Server, operation.Server);
            s_clientOperationDuration.Record(Stopwatch.GetElapsedTime(operation.StartedAt).TotalSeconds, tags);
        }
    }

    internal static void RecordSession(SessionTelemetry session, string? agent, string? protocolVersion)
    {
        s_openSessions.Add(-1, new KeyValuePair<string, object?>(Attributes.NetworkTransport, session.Transport));
        var tags = new TagList { { Attributes.NetworkTransport, session.Transport }, { Attributes.Agent, agent ?? Unknown } };
        if (protocolVersion is not null && s_protocolVersions.Contains(protocolVersion))
        {
            tags.Add(Attributes.ProtocolVersion, protocolVersion);
        }

        s_serverSessionDuration.Record(Stopwatch.GetElapsedTime(session.StartedAt).TotalSeconds, tags);
    }

    private static TagList OperationTags(string method, string? tool, string transport, string? protocolVersion, string? errorType, int? statusCode)
    {
        var tags = new TagList { { Attributes.MethodName, method }, { Attributes.NetworkTransport, transport } };
        if (transport == Transports.Tcp)
        {
            tags.Add(Attributes.NetworkProtocolName, "http");
        }

        if (tool is not null)
        {
            tags.Add(Attributes.ToolName, tool);
            tags.Add(Attributes.OperationName, "execute_tool");
        }

        if (protocolVersion is not null && s_protocolVersions.Contains(protocolVersion))
        {
            tags.Add(Attributes.ProtocolVersion, protocolVersion);
        }

        if (errorType is not null)
        {
            tags.Add(Attributes.ErrorType, errorType);
        }

        if (statusCode is int code)
        {
            tags.Add(Attributes.ResponseStatusCode, ErrorTypeOf(code));
        }

        return tags;
    }

    private static void AddCommonTags(Activity activity, string method, string? target, string transport)
    {
        activity.SetTag(Attributes.MethodName, method);
        activity.SetTag(Attributes.NetworkTransport, transport);
        if (transport == Transports.Tcp)
        {
            activity.SetTag(Attributes.NetworkProtocolName, "http");
        }

        if (target is null)
        {
            return;
        }

        if (method == ToolsCall)
        {
            activity.SetTag(Attributes.ToolName, target);
            activity.SetTag(Attributes.OperationName, "execute_tool");
        }
        else if (method == PromptsGet)
        {
            activity.SetTag(Attributes.PromptName, target);
        }
    }

    private static void SetOutcome(Activity activity, string? errorType, int? statusCode)
    {
        if (errorType is null)
        {
            return;
        }

        activity.SetTag(Attributes.ErrorType, errorType);
        if (statusCode is int code)
        {
            activity.SetTag(Attributes.ResponseStatusCode, ErrorTypeOf(code));
        }

        activity.SetStatus(ActivityStatusCode.Error);
    }

    private static string BoundedToolName(string name)
    {
        if (s_toolNames.ContainsKey(name))
        {
            return name;
        }

        // Racing callers may pass the cap by a few names; the bound is what matters, not its exact value.
        if (s_toolNames.Count >= MaxToolNames)
        {
            return Other;
        }

        s_toolNames.TryAdd(name, 0);
        return name;
    }

    private static string SpanName(string method, string? target) => target is null ? method : method + " " + target;

    /// <summary>
    /// Starts a span. A span with no parent of its own becomes a child of the current span only when that span is
    /// the gateway's: the request activity ASP.NET Core creates is never exported, and a child of it would point at
    /// a parent no trace backend has.
    /// </summary>
    private static Activity? Start(string name, ActivityKind kind, ActivityContext parent)
    {
        if (parent == default && Activity.Current is { } current && current.Source != s_source)
        {
            Activity.Current = null;
        }

        return s_source.StartActivity(name, kind, parent);
    }

    /// <summary>The agent's context from <c>_meta</c>, else the one its HTTP request carried (the request activity's remote parent).</summary>
    private static ActivityContext RemoteParent(string? traceParent, string? traceState)
    {
        if (traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out ActivityContext fromMeta))
        {
            return fromMeta;
        }

        // ASP.NET Core's request activity has the caller's traceparent header as its parent id (not as a parent object).
        if (Activity.Current is { Parent: null, IdFormat: ActivityIdFormat.W3C } request && request.Source != s_source && request.ParentSpanId != default)
        {
            return new ActivityContext(request.TraceId, request.ParentSpanId, request.ActivityTraceFlags, request.TraceStateString, isRemote: true);
        }

        return default;
    }
}

/// <summary>
/// The gateway's dimensions of one agent request, bounded by its callers: <see cref="Agent"/> only when the rules
/// define it (null otherwise), <see cref="Server"/> only a configured server, <see cref="Tool"/> only a tool that
/// exists (in a catalog, or the gateway's own).
/// </summary>
internal readonly record struct RequestDimensions(string? Agent, string? Server, string? Decision, string? Tool);
