using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Gateway;

/// <summary>Builds <c>tools/call</c> results for the gateway's own tools, as raw JSON.</summary>
internal static class ToolResults
{
    /// <summary>A failed call the model can correct: <c>isError: true</c> with one text block.</summary>
    public static JsonObject Error(string message) => new()
    {
        ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = message }),
        ["isError"] = true,
    };

    /// <summary>A structured result, also given as JSON text for clients that ignore structuredContent.</summary>
    public static JsonObject Structured(JsonObject structured) => new()
    {
        ["content"] = new JsonArray(new JsonObject
        {
            ["type"] = "text",
            ["text"] = structured.ToJsonString(s_compact),
        }),
        ["structuredContent"] = structured,
    };

    private static readonly JsonSerializerOptions s_compact = new()
    {
        WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = GatewayJsonContext.Default,
    };
}
