using System.Text.Json.Nodes;
using McpGateway.Downstream;

namespace McpGateway.Gateway;

/// <summary>Sends one agent request on to a downstream server, so that what it causes there finds its way back.</summary>
internal static class Forwarding
{
    // Keys of _meta that describe the agent's own hop (2026-07-28 per-request metadata); the gateway's client adds
    // its own for the downstream hop, so the agent's are not forwarded.
    private const string ReservedMetaPrefix = "io.modelcontextprotocol/";

    /// <summary>
    /// Forwards <paramref name="parameters"/> (owned by the caller, changed in place) as <paramref name="method"/>.
    /// The agent's progress token is replaced by one unique to this call, and the result is returned only after every
    /// progress notification the server sent before it has gone to the agent.
    /// </summary>
    public static async Task<JsonNode?> SendAsync(DownstreamServer server, string method, JsonObject parameters, IUpstream upstream, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (parameters["_meta"] is JsonObject meta)
        {
            List<string>? reserved = null;
            foreach (KeyValuePair<string, JsonNode?> entry in meta)
            {
                if (entry.Key.StartsWith(ReservedMetaPrefix, StringComparison.Ordinal))
                {
                    (reserved ??= []).Add(entry.Key);
                }
            }

            reserved?.ForEach(key => meta.Remove(key));
        }

        using var call = new DownstreamCall(server, upstream, DownstreamCall.ReadProgressToken(parameters));
        call.ApplyProgressToken(parameters);
        JsonNode? result = await server.SendRequestAsync(method, parameters, timeout, cancellationToken);
        await call.FlushAsync();
        return result;
    }
}
