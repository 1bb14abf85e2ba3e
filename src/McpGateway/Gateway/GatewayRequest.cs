using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// One request from an agent: its session, the raw message, what the request says about who sends it (an
/// authenticated principal, a self-asserted header), and the way back to the agent.
/// </summary>
internal sealed record GatewayRequest(GatewaySession Session, JsonRpcRequest Message, IdentityClaims Claims, IUpstream Upstream)
{
    public JsonObject? Params => Message.Params as JsonObject;

    /// <summary>The agent's network address (HTTP), for limits and the audit.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>When the gateway received the request (<see cref="TimeProvider.GetTimestamp"/>), for the audit's latency.</summary>
    public long ReceivedAt { get; init; }

    /// <summary>What the handlers decided, for the request's audit record (shared by copies made for retries).</summary>
    public RequestAudit Audit { get; init; } = new();
}
