using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// A 2026-07-28 request written by hand (headers and per-request <c>_meta</c>), for what the SDK client hides: it
/// answers <c>input_required</c> results itself (the test must see the keys and <c>requestState</c>), never sends a
/// per-request log level, and reports errors without their HTTP status.
/// </summary>
internal static class ModernHttp
{
    private static readonly HttpClient s_http = new();

    /// <summary>The per-request <c>_meta</c> of a 2026-07-28 request: its revision, who sends it, what it can do.</summary>
    public static JsonObject Meta(JsonObject? capabilities = null, string? logLevel = null)
    {
        var meta = new JsonObject
        {
            ["io.modelcontextprotocol/protocolVersion"] = ProtocolAgents.Modern,
            ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "raw-2026-client", ["version"] = "1.0" },
            ["io.modelcontextprotocol/clientCapabilities"] = capabilities ?? new JsonObject(),
        };
        if (logLevel is not null)
        {
            meta["io.modelcontextprotocol/logLevel"] = logLevel;
        }

        return meta;
    }

    /// <summary>Every client capability a gateway can relay: sampling, elicitation (form and URL) and roots.</summary>
    public static JsonObject AllCapabilities() => new()
    {
        ["sampling"] = new JsonObject(),
        ["elicitation"] = new JsonObject { ["form"] = new JsonObject(), ["url"] = new JsonObject() },
        ["roots"] = new JsonObject(),
    };

    /// <summary>
    /// Sends one request to <paramref name="endpoint"/> as agent <paramref name="agent"/> and returns the HTTP status
    /// and every JSON-RPC message of the answer in order (a JSON body, or the events of an SSE stream).
    /// </summary>
    public static async Task<Answer> SendAsync(
        Uri endpoint,
        string method,
        JsonObject parameters,
        CancellationToken cancellationToken,
        string agent = ProtocolGateway.Tester,
        string protocolVersion = ProtocolAgents.Modern,
        JsonObject? meta = null)
    {
        parameters = (JsonObject)parameters.DeepClone();
        parameters["_meta"] = meta ?? Meta(AllCapabilities());
        var body = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = 1, ["method"] = method, ["params"] = parameters };
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", protocolVersion);
        request.Headers.Add("Mcp-Method", method);
        if ((parameters["name"] ?? parameters["uri"]) is JsonValue name)
        {
            request.Headers.Add("Mcp-Name", name.GetValue<string>());
        }

        request.Headers.Add("X-Agent-Id", agent);
        using HttpResponseMessage response = await s_http.SendAsync(request, cancellationToken);
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        List<JsonObject> messages = response.Content.Headers.ContentType?.MediaType == "text/event-stream"
            ? [.. text.Split('\n').Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l["data:".Length..])!.AsObject())]
            : text.Length == 0 ? [] : [JsonNode.Parse(text)!.AsObject()];
        return new Answer(response.StatusCode, messages, text);
    }

    /// <summary>A tools/call; <paramref name="extra"/> adds <c>inputResponses</c>, <c>requestState</c> and the like.</summary>
    public static Task<Answer> CallAsync(Uri endpoint, string tool, CancellationToken cancellationToken, JsonObject? extra = null, string agent = ProtocolGateway.Tester, JsonObject? meta = null)
    {
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = new JsonObject() };
        foreach ((string key, JsonNode? value) in extra ?? [])
        {
            parameters[key] = value?.DeepClone();
        }

        return SendAsync(endpoint, "tools/call", parameters, cancellationToken, agent, meta: meta);
    }

    /// <summary>The answer to one request: its HTTP status and its messages, the response last.</summary>
    internal sealed record Answer(HttpStatusCode Status, IReadOnlyList<JsonObject> Messages, string Body)
    {
        public JsonObject Response => Messages.LastOrDefault(m => m.ContainsKey("id")) ?? throw new InvalidOperationException($"No response in HTTP {(int)Status}: {Body}");

        /// <summary>The result; fails the test with the whole answer when it is an error.</summary>
        public JsonObject Result => Response["result"] as JsonObject ?? throw new Xunit.Sdk.XunitException($"Expected a result, got HTTP {(int)Status}: {Body}");

        public JsonObject Error => Response["error"] as JsonObject ?? throw new Xunit.Sdk.XunitException($"Expected an error, got HTTP {(int)Status}: {Body}");

        public IEnumerable<JsonObject> Notifications(string method) => Messages.Where(m => m["method"]?.GetValue<string>() == method);
    }
}
