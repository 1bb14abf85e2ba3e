using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>One request from an agent: its session, the raw message, the identity header, and the way back to the agent.</summary>
internal sealed record GatewayRequest(GatewaySession Session, JsonRpcRequest Message, string? HeaderAgent, IUpstream Upstream)
{
    public JsonObject? Params => Message.Params as JsonObject;
}
