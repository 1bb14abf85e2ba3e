using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol;

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
        CheckMeta(parameters);
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

    /// <summary>
    /// Refuses a <c>_meta</c> that is not an object, or a progress token that is neither a string nor a number, as the
    /// MCP schema says. Forwarded as they are, they are dropped without an answer by servers built on the TypeScript
    /// SDK (every reference server): the agent's request would wait for the whole call timeout.
    /// </summary>
    private static void CheckMeta(JsonObject parameters)
    {
        if (!parameters.TryGetPropertyValue("_meta", out JsonNode? node))
        {
            return;
        }

        if (node is not JsonObject meta)
        {
            throw new McpProtocolException("'_meta' must be an object.", McpErrorCode.InvalidParams);
        }

        if (meta.TryGetPropertyValue("progressToken", out JsonNode? token) && token?.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number))
        {
            throw new McpProtocolException("'_meta.progressToken' must be a string or a number.", McpErrorCode.InvalidParams);
        }
    }
}
