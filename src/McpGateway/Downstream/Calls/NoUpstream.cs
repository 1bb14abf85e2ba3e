using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>The agent side of a request the gateway makes on its own (no agent to tell anything to).</summary>
internal sealed class NoUpstream : IUpstream
{
    public static NoUpstream Instance { get; } = new();

    public object Session => this;

    public bool AskedForLogs => false;

    public ClientCapabilities? ClientCapabilities => null;

    public Task SendNotificationAsync(string method, JsonNode? parameters, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, CancellationToken cancellationToken) =>
        throw new McpProtocolException("No agent is waiting on this request.", McpErrorCode.InvalidRequest);
}
