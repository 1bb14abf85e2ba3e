using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Downstream;

/// <summary>The lists a server offers that the gateway keeps a copy of.</summary>
internal enum ListKind
{
    Tools,
    Prompts,
    Resources,
    ResourceTemplates,
}

/// <summary>
/// A prompt, resource or resource template as the server described it, keyed by its name, URI or URI template.
/// The definition is the server's JSON, untouched; treat it as read-only.
/// </summary>
internal sealed record DownstreamItem(string Key, JsonObject Definition);

/// <summary>Reads one page of a prompts, resources or templates list, judging each entry on its own.</summary>
internal static class ItemListReader
{
    public static (string Method, string ResultKey, string KeyField) Describe(ListKind kind) => kind switch
    {
        ListKind.Prompts => ("prompts/list", "prompts", "name"),
        ListKind.Resources => ("resources/list", "resources", "uri"),
        ListKind.ResourceTemplates => ("resources/templates/list", "resourceTemplates", "uriTemplate"),
        _ => ("tools/list", "tools", "name"),
    };

    public static void Read(ListKind kind, JsonNode? result, List<DownstreamItem> items, HashSet<string> seen, List<string> problems)
    {
        (_, string resultKey, string keyField) = Describe(kind);
        if (result?[resultKey] is not JsonArray array)
        {
            problems.Add($"the {resultKey} list result has no '{resultKey}' array");
            return;
        }

        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject item || item[keyField] is not JsonValue value || value.GetValueKind() != JsonValueKind.String ||
                value.GetValue<string>() is not { Length: > 0 } key)
            {
                problems.Add($"{resultKey}[{i}] has no '{keyField}'");
                continue;
            }

            if (!seen.Add(key))
            {
                problems.Add($"'{key}' appears more than once in {resultKey}; the first is kept");
                continue;
            }

            items.Add(new DownstreamItem(key, item));
        }
    }
}
