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
    GatewayOptions options,
    ILogger<GatewayRequestFilter> logger,
    IHttpContextAccessor? httpContextAccessor = null)
{
    public McpMessageFilter Create(GatewaySession session) => next => async (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is JsonRpcRequest request)
        {
            try
            {
                switch (request.Method)
                {
                    case RequestMethods.ToolsList:
                        await RespondAsync(context, request, tools.ListTools(session, HeaderAgent()), cancellationToken);
                        return;
                    case RequestMethods.ToolsCall:
                        await RespondAsync(context, request, await tools.CallToolAsync(session, request.Params, HeaderAgent(), cancellationToken), cancellationToken);
                        return;
                }
            }
            catch (Exception ex) when (ex is not McpException and not OperationCanceledException)
            {
                // The SDK answers unexpected exceptions with a bare "An error occurred."; the cause belongs in the log.
                LogUnexpected(logger, request.Method, ex);
                throw;
            }
        }

        await next(context, cancellationToken);
    };

    private string? HeaderAgent()
    {
        if (!options.AllowAgentHeader || httpContextAccessor?.HttpContext is not { } http)
        {
            return null;
        }

        string value = http.Request.Headers[options.AgentHeader].ToString();
        return value.Length == 0 ? null : value;
    }

    private static Task RespondAsync(MessageContext context, JsonRpcRequest request, System.Text.Json.Nodes.JsonNode? result, CancellationToken cancellationToken)
    {
        ProtocolEras.AdaptResult(result, request.Context?.ProtocolVersion ?? context.Server.NegotiatedProtocolVersion);
        return context.Server.SendMessageAsync(new JsonRpcResponse { Id = request.Id, Result = result }, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected failure handling '{Method}'.")]
    private static partial void LogUnexpected(ILogger logger, string method, Exception exception);
}
