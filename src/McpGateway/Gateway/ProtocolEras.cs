using System.Text.Json;
using System.Text.Json.Nodes;

using McpGateway.Downstream;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// Adapts what a downstream server answered to the protocol revision the agent speaks. The two hops negotiate
/// separately: a downstream server on 2026-07-28 adds <c>resultType</c>, caching hints and its own
/// <c>_meta["io.modelcontextprotocol/serverInfo"]</c>, which a 2025-11-25 agent does not expect and which would reveal
/// the downstream server to the agent; a 2025-11-25 server leaves out <c>resultType</c>, which a 2026-07-28 agent expects.
/// </summary>
internal static class ProtocolEras
{
    public const string July2026 = ProtocolVersions.July2026;
    private const string ReservedMetaPrefix = "io.modelcontextprotocol/";

    /// <summary>True for revisions that use per-request metadata and <c>resultType</c> (2026-07-28 and later).</summary>
    public static bool IsJuly2026OrLater(string? protocolVersion) => ProtocolVersions.IsJuly2026OrLater(protocolVersion);

    /// <summary>
    /// The error an agent speaking <paramref name="agentProtocolVersion"/> gets for <paramref name="error"/>: the same
    /// one, except that 2026-07-28 implementations "MUST NOT emit" the 2025-11-25 resource-not-found code -32002, which
    /// became -32602 (Invalid params), with the URI asked for in <c>data.uri</c> (SEP-2164).
    /// </summary>
    public static McpProtocolException AdaptError(McpProtocolException error, JsonRpcRequest request, string? agentProtocolVersion)
    {
        if (!IsJuly2026OrLater(agentProtocolVersion) || error.ErrorCode != McpErrorCode.ResourceNotFound)
        {
            return error;
        }

        var adapted = new McpProtocolException(error.Message, McpErrorCode.InvalidParams);
        foreach (System.Collections.DictionaryEntry entry in error.Data)
        {
            adapted.Data[entry.Key] = entry.Value;
        }

        if (!adapted.Data.Contains("uri") && request.Params?["uri"] is JsonValue uri && uri.GetValueKind() == JsonValueKind.String)
        {
            adapted.Data["uri"] = uri.GetValue<string>();
        }

        return adapted;
    }

    /// <summary>Rewrites <paramref name="result"/> in place for an agent speaking <paramref name="agentProtocolVersion"/>.</summary>
    public static void AdaptResult(JsonNode? result, string? agentProtocolVersion)
    {
        if (result is not JsonObject obj)
        {
            return;
        }

        if (obj["_meta"] is JsonObject meta)
        {
            List<string>? reserved = null;
            foreach (KeyValuePair<string, JsonNode?> entry in meta)
            {
                if (entry.Key.StartsWith(ReservedMetaPrefix, StringComparison.Ordinal))
                {
                    (reserved ??= []).Add(entry.Key);
                }
            }

            if (reserved is not null)
            {
                foreach (string key in reserved)
                {
                    meta.Remove(key);
                }

                if (meta.Count == 0)
                {
                    obj.Remove("_meta");
                }
            }
        }

        bool complete = obj["resultType"] is JsonValue type && type.GetValueKind() == JsonValueKind.String && type.GetValue<string>() == "complete";
        if (IsJuly2026OrLater(agentProtocolVersion))
        {
            if (!obj.ContainsKey("resultType"))
            {
                obj["resultType"] = "complete";
            }
        }
        else
        {
            if (complete)
            {
                obj.Remove("resultType");
            }

            // Caching hints of 2026-07-28 results, which 2025-11-25 does not have.
            obj.Remove("ttlMs");
            obj.Remove("cacheScope");
        }
    }
}
