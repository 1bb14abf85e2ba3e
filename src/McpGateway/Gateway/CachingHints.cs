using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Gateway;

/// <summary>
/// The caching hints of 2026-07-28 (SEP-2549: <c>ttlMs</c> and <c>cacheScope</c>, required on list results and
/// <c>resources/read</c>) as the gateway gives them. They are written on every such result and removed again for
/// 2025-11-25 agents (<see cref="ProtocolEras.AdaptResult"/>), which do not have them.
/// <list type="bullet">
/// <item><c>cacheScope</c> is always <c>"private"</c>: every list and every read is decided for the calling agent by the
/// access rules, so a response may never be reused for another caller, whatever the servers behind it said.</item>
/// <item>A list's <c>ttlMs</c> is the least time any server that may contribute to it said its list stays fresh, counted
/// from when the gateway fetched it; 0 when any of them gave no hint (a 2025-11-25 server promises nothing) or no
/// server contributes. The gateway's copy can be no fresher than the stalest list it is made of.</item>
/// <item>A read's <c>ttlMs</c> is the server's own hint (the read was just made), 0 when it gave none.</item>
/// </list>
/// </summary>
internal static class CachingHints
{
    public const string Scope = "private";

    /// <summary>Adds the hints to a list result the gateway builds.</summary>
    public static JsonObject OnList(JsonObject result, long ttlMs)
    {
        result["ttlMs"] = ttlMs;
        result["cacheScope"] = Scope;
        return result;
    }

    /// <summary>Sets the hints of a forwarded <c>resources/read</c> result (an <c>input_required</c> one carries none).</summary>
    public static void OnRead(JsonNode? result)
    {
        if (result is not JsonObject obj || Downstream.ModernHopMessages.IsInputRequired(obj))
        {
            return;
        }

        obj["ttlMs"] = obj["ttlMs"] is JsonValue ttl && ttl.GetValueKind() == JsonValueKind.Number && ttl.TryGetValue(out double ms)
            ? (long)Math.Clamp(ms, 0, long.MaxValue)
            : 0;
        obj["cacheScope"] = Scope;
    }
}
