using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Downstream;

/// <summary>
/// Judges each tool of a raw <c>tools/list</c> page on its own, so one malformed tool is skipped with a reason
/// instead of failing the whole list (the SDK's typed <c>ListToolsAsync</c> throws on the first bad schema).
/// </summary>
internal static class ToolListReader
{
    public static void Read(JsonNode? result, List<DownstreamTool> tools, HashSet<string> seen, List<string> problems)
    {
        if (result?["tools"] is not JsonArray array)
        {
            problems.Add("the tools/list result has no 'tools' array");
            return;
        }

        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject tool)
            {
                problems.Add($"tools[{i}] is not an object");
                continue;
            }

            if (tool["name"] is not JsonValue nameValue || nameValue.GetValueKind() != JsonValueKind.String || nameValue.GetValue<string>() is not { Length: > 0 } name)
            {
                problems.Add($"tools[{i}] has no name");
                continue;
            }

            if (tool["inputSchema"] is not JsonObject schema)
            {
                problems.Add($"tool '{name}' has no inputSchema object");
                continue;
            }

            if (schema["type"] is JsonNode type && (type.GetValueKind() != JsonValueKind.String || type.GetValue<string>() != "object"))
            {
                problems.Add($"tool '{name}' has an inputSchema whose type is not \"object\"");
                continue;
            }

            if (!seen.Add(name))
            {
                problems.Add($"tool '{name}' appears more than once; the first is kept");
                continue;
            }

            tools.Add(new DownstreamTool(name, tool));
        }
    }
}
