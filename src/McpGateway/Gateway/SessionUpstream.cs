using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Gateway;

/// <summary>
/// The way back to the agent for one request: the SDK server bound to that request (over Streamable HTTP it writes on
/// the request's own response stream), the session's log level, and the capabilities the agent declared (a 2026-07-28
/// agent declares them on each request, <paramref name="requestCapabilities"/>; a 2025-11-25 agent at initialize).
/// </summary>
internal sealed class SessionUpstream(McpServer server, GatewaySession session, ClientCapabilities? requestCapabilities = null) : IUpstream
{
    public object Session => session;

    public bool AskedForLogs => session.LogLevel is not null;

    public string? LogLevel => session.LogLevel;

    public ClientCapabilities? ClientCapabilities => requestCapabilities ?? server.ClientCapabilities;

    public Task SendNotificationAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
    {
        if (method == NotificationMethods.LoggingMessageNotification && (!session.WantsLog(parameters) || IsModernWithoutLevel()))
        {
            return Task.CompletedTask;
        }

        return server.SendMessageAsync(new JsonRpcNotification { Method = method, Params = parameters }, cancellationToken);
    }

    public async Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
    {
        if (session.IsStateless)
        {
            // The SDK would throw InvalidOperationException, which reads downstream like a broken connection ("closed
            // the connection during the request"); the server, and through it the agent, should learn the real reason.
            throw new McpProtocolException(
                $"The agent is served statelessly (request by request), so the gateway cannot pass the server's {method} request on to it.",
                McpErrorCode.InvalidRequest);
        }

        if (ProtocolEras.IsJuly2026OrLater(server.NegotiatedProtocolVersion))
        {
            // 2026-07-28 has no requests from server to client: input is asked for only in the answer to tools/call,
            // prompts/get and resources/read (MultiRoundTrip), never in the middle of another request.
            throw new McpProtocolException(
                $"The agent speaks {server.NegotiatedProtocolVersion}, which takes a {method} request only in the answer to tools/call, prompts/get or resources/read.",
                McpErrorCode.InvalidRequest);
        }

        JsonRpcResponse response = await server.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken);
        return response.Result;
    }

    /// <summary>
    /// 2026-07-28 has no logging/setLevel: a request asks for log messages with its own level, and a server "MUST NOT
    /// emit notifications/message for a request that does not include" one. The gateway sets a 2026-07-28
    /// session's level from each request (see GatewayRequestFilter), so without a level on it, nothing was asked for.
    /// </summary>
    private bool IsModernWithoutLevel() =>
        session.LogLevel is null && ProtocolEras.IsJuly2026OrLater(server.NegotiatedProtocolVersion);

    internal static string? LevelOf(JsonNode? parameters) =>
        parameters?["level"] is JsonValue level && level.GetValueKind() == JsonValueKind.String ? level.GetValue<string>() : null;
}
