using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using McpGateway.Downstream;
using McpGateway.Identity;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Gateway;

/// <summary>
/// Plugs the gateway into the SDK server. The SDK keeps the protocol (initialize, ping, sessions, transports); the
/// methods the gateway forwards are answered here, from the raw JSON-RPC message, because the SDK's typed handlers
/// would re-serialise tools and results through models that drop fields (execution, icons, unknown keys) and, in
/// 2.4.0, throw on content blocks carrying annotations or icons.
/// </summary>
internal sealed partial class GatewayRequestFilter(
    ToolsRequestHandler tools,
    PromptsRequestHandler prompts,
    ResourcesRequestHandler resources,
    CompletionRequestHandler completions,
    LoggingRequestHandler logging,
    TasksRequestHandler tasks,
    MultiRoundTrip roundTrips,
    GatewayOptions options,
    GatewayAudit audit,
    GatewayStateProvider stateProvider,
    TimeProvider time,
    ILogger<GatewayRequestFilter> logger,
    IHttpContextAccessor? httpContextAccessor = null)
{
    public McpMessageFilter Create(GatewaySession session) => next => async (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is not JsonRpcRequest message || !IsForwarded(message.Method))
        {
            await (context.JsonRpcMessage is JsonRpcRequest answeredBySdk ? TraceAsync(session, answeredBySdk, context, next, cancellationToken) : next(context, cancellationToken));
            return;
        }

        string? agentVersion = message.Context?.ProtocolVersion ?? context.Server.NegotiatedProtocolVersion;
        ServerOperation? telemetry = StartTelemetry(session, message, agentVersion);
        if (ProtocolEras.IsJuly2026OrLater(agentVersion))
        {
            // 2026-07-28 asks for log messages per request (_meta io.modelcontextprotocol/logLevel), not with logging/setLevel.
            session.LogLevel = message.Context?.LogLevel is { } requestLevel ? LogLevels.Name(requestLevel) : null;
        }

        HttpContext? http = httpContextAccessor?.HttpContext;

        // Read now: the record is written after the response has gone out, when the request's HttpContext may
        // already be recycled (reading it then throws, and the record would be lost).
        long? contentLength = http?.Request.ContentLength;
        var request = new GatewayRequest(session, message, HttpIdentity.ClaimsOf(http, message.Context?.User, options.Identity), new SessionUpstream(context.Server, session, message.Context?.ClientCapabilities))
        {
            ClientAddress = HttpIdentity.ClientAddress(http) ?? session.ClientAddress,
            ReceivedAt = time.GetTimestamp(),
        };

        // An agent that drops its HTTP request has given up on it: the call downstream is cancelled too, whether or
        // not the client also sends notifications/cancelled (the SDK's client does not, on stateful HTTP).
        using CancellationTokenSource? linked = http is not null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, http.RequestAborted)
            : null;
        CancellationToken token = linked?.Token ?? cancellationToken;
        CallOutcome outcome = new(AuditOutcome.Cancelled);
        JsonNode? result = null;
        try
        {
            result = MultiRoundTrip.Applies(agentVersion) && InputRequests.MayBeAnsweredWith(message.Method)
                ? await roundTrips.RunAsync(request, DispatchAsync, token)
                : await DispatchAsync(request, token);
            ProtocolEras.AdaptResult(result, agentVersion);
            outcome = new CallOutcome(IsToolError(message.Method, result) ? AuditOutcome.ToolError : AuditOutcome.Result, ResponseBytes: audit.Enabled ? Size(result) : 0);
            await context.Server.SendMessageAsync(new JsonRpcResponse { Id = message.Id, Result = result }, cancellationToken);
        }
        catch (McpProtocolException ex)
        {
            McpProtocolException error = ProtocolEras.AdaptError(ex, message, agentVersion);
            outcome = new CallOutcome((int)error.ErrorCode == DownstreamErrors.RequestTimeoutErrorCode ? AuditOutcome.Timeout : AuditOutcome.ProtocolError, (int)error.ErrorCode, error.Message);
            if (!ReferenceEquals(error, ex))
            {
                throw error;
            }

            throw;
        }
        catch (McpException ex)
        {
            outcome = new CallOutcome(AuditOutcome.ProtocolError, (int)McpErrorCode.InternalError, ex.Message);
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The SDK answers unexpected exceptions with a bare "An error occurred."; the cause belongs in the log.
            outcome = new CallOutcome(AuditOutcome.ProtocolError, (int)McpErrorCode.InternalError, ex.GetType().Name);
            LogUnexpected(logger, message.Method, ex);
            throw;
        }
        finally
        {
            telemetry?.Complete(Dimensions(request, telemetry.Target), outcome.ErrorType(), outcome.Code);
            if (audit.Enabled)
            {
                await audit.Request(request, outcome, contentLength ?? Size(message));
            }
        }
    };

    /// <summary>
    /// A request the SDK answers itself (initialize, ping, subscriptions/listen): traced and timed like the others,
    /// with the session's agent once it has one.
    /// </summary>
    private async Task TraceAsync(GatewaySession session, JsonRpcRequest message, MessageContext context, McpMessageHandler next, CancellationToken cancellationToken)
    {
        if (StartTelemetry(session, message, message.Context?.ProtocolVersion ?? context.Server.NegotiatedProtocolVersion) is not { } telemetry)
        {
            await next(context, cancellationToken);
            return;
        }

        string? errorType = GatewayTelemetry.ErrorTypes.Cancelled;
        int? code = null;
        try
        {
            await next(context, cancellationToken);
            errorType = null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            code = ex is McpProtocolException protocol ? (int)protocol.ErrorCode : (int)McpErrorCode.InternalError;
            errorType = GatewayTelemetry.ErrorTypeOf(code.Value);
            throw;
        }
        finally
        {
            telemetry.Complete(new RequestDimensions(KnownAgent(session.BoundAgent), null, null, null), errorType, code);
        }
    }

    /// <summary>The SERVER span of an agent request, a child of the agent's trace context in <c>params._meta</c> when it sent one.</summary>
    private ServerOperation? StartTelemetry(GatewaySession session, JsonRpcRequest message, string? agentVersion)
    {
        (string? traceParent, string? traceState) = GatewayTelemetry.TraceContextOf(message.Params);
        bool overHttp = httpContextAccessor?.HttpContext is not null;
        ServerOperation? telemetry = GatewayTelemetry.StartServer(
            message.Method, GatewayTelemetry.TargetOf(message.Method, message.Params), overHttp ? GatewayTelemetry.Transports.Tcp : GatewayTelemetry.Transports.Pipe, traceParent, traceState);
        telemetry?.Describe(agentVersion, session.Fingerprint, message.Id.Id?.ToString(), GatewayTelemetry.ResourceUriOf(message.Method, message.Params));
        return telemetry;
    }

    /// <summary>
    /// The request's agent, server, decision and tool as the metrics may name them (what the audit record says,
    /// bounded). <paramref name="target"/> is the tool name as the agent sent it (the handler has since put the
    /// server's own name in the params it forwarded).
    /// </summary>
    private RequestDimensions Dimensions(GatewayRequest request, string? target)
    {
        RequestAudit facts = request.Audit;
        string decision = facts.Tool is { } tool && facts.Decision == AuditDecisions.Allowed ? tool.DecisionName : facts.Decision;
        string? server = facts.Tool?.Route?.Server.Name ?? facts.Server;
        string? name = request.Message.Method == RequestMethods.ToolsCall ? target : null;

        // Only a tool that exists (routed to a server, or the gateway's own) is named: an agent can ask for any name.
        string? toolName = name is not null && (GatewayTools.IsGatewayTool(name) || facts.Tool?.Route is not null) ? name : null;
        return new RequestDimensions(
            KnownAgent(facts.Caller.Agent ?? facts.Caller.EstablishedAgent ?? request.Session.BoundAgent),
            server is not null && stateProvider.Current.Config.Servers.Find(server) is not null ? server : null,
            GatewayTelemetry.DecisionOf(decision),
            toolName);
    }

    private string? KnownAgent(string? agent) => agent is not null && stateProvider.Current.Policy.FindAgent(agent) is not null ? agent : null;

    private static bool IsToolError(string method, JsonNode? result) =>
        method == RequestMethods.ToolsCall && result is JsonObject obj && obj["isError"] is JsonValue flag && flag.GetValueKind() == System.Text.Json.JsonValueKind.True;

    private static long Size(JsonNode? node) =>
        node is null ? 0 : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(node, GatewayJsonContext.Default.JsonNode).Length;

    private static long Size(JsonRpcMessage message) =>
        System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(message, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage))).Length;

    private static bool IsForwarded(string method) => method is
        RequestMethods.ToolsList or RequestMethods.ToolsCall or
        RequestMethods.PromptsList or RequestMethods.PromptsGet or
        RequestMethods.ResourcesList or RequestMethods.ResourcesTemplatesList or RequestMethods.ResourcesRead or
        RequestMethods.ResourcesSubscribe or RequestMethods.ResourcesUnsubscribe or
        RequestMethods.CompletionComplete or RequestMethods.LoggingSetLevel or
        TasksRequestHandler.Get or TasksRequestHandler.Result or TasksRequestHandler.List or TasksRequestHandler.Cancel;

    private async Task<JsonNode?> DispatchAsync(GatewayRequest request, CancellationToken cancellationToken) => request.Message.Method switch
    {
        RequestMethods.ToolsList => tools.ListTools(request),
        RequestMethods.ToolsCall => await tools.CallToolAsync(request, cancellationToken),
        RequestMethods.PromptsList => prompts.List(request),
        RequestMethods.PromptsGet => await prompts.GetAsync(request, cancellationToken),
        RequestMethods.ResourcesList => resources.List(request),
        RequestMethods.ResourcesTemplatesList => resources.ListTemplates(request),
        RequestMethods.ResourcesRead => await resources.ReadAsync(request, cancellationToken),
        RequestMethods.ResourcesSubscribe => await resources.SubscribeAsync(request, subscribe: true, cancellationToken),
        RequestMethods.ResourcesUnsubscribe => await resources.SubscribeAsync(request, subscribe: false, cancellationToken),
        RequestMethods.CompletionComplete => await completions.CompleteAsync(request, cancellationToken),
        RequestMethods.LoggingSetLevel => await logging.SetLevelAsync(request, cancellationToken),
        _ => await tasks.HandleAsync(request, cancellationToken),
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected failure handling '{Method}'.")]
    private static partial void LogUnexpected(ILogger logger, string method, Exception exception);
}
