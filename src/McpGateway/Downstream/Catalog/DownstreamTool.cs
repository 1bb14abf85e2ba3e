using System.Text.Json.Nodes;

namespace McpGateway.Downstream;

/// <summary>
/// One tool as a downstream server described it. <see cref="Definition"/> is the server's JSON object, untouched:
/// fields the SDK does not model (execution, icons, unknown annotations, vendor keys) survive because it is never
/// deserialised into the SDK's <c>Tool</c> type. Treat it as read-only.
/// </summary>
internal sealed record DownstreamTool(string Name, JsonObject Definition);
