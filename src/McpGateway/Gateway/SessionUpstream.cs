using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Gateway;

/// <summary>
/// The way back to the agent for one request: the SDK server bound to that request (over Streamable HTTP it writes on
/// the request's own response stream), and the session's log level.
/// </summary>
internal sealed class SessionUpstream(McpServer server, GatewaySession session) : IUpstream
{
    public object Session => session;

    public ClientCapabilities? ClientCapabilities => server.ClientCapabilities;

    public Task SendNotificationAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
    {
        if (method == NotificationMethods.LoggingMessageNotification && !session.WantsLog(parameters))
        {
            return Task.CompletedTask;
        }

        return server.SendMessageAsync(new JsonRpcNotification { Method = method, Params = parameters }, cancellationToken);
    }

    public async Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, CancellationToken cancellationToken)
    {
        JsonRpcResponse response = await server.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken);
        return response.Result;
    }

    internal static string? LevelOf(JsonNode? parameters) =>
        parameters?["level"] is JsonValue level && level.GetValueKind() == JsonValueKind.String ? level.GetValue<string>() : null;
}
