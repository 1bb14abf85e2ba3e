using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// The agent's hop and the downstream hop negotiate their protocol revisions separately. A 2026-07-28 server (the
/// conformance fixture) marks its results with <c>resultType</c> and its own <c>_meta["io.modelcontextprotocol/serverInfo"]</c>:
/// a 2025-11-25 agent must see neither; a 2026-07-28 agent gets <c>resultType: "complete"</c> on every result, also
/// from a 2025-11-25 server (server-everything), and never the downstream server's identity.
/// </summary>
[Collection(CatalogGateway.Collection)]
public sealed class EraAdaptationTests(CatalogGateway catalog)
{
    private const string ServerInfoKey = "io.modelcontextprotocol/serverInfo";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Requests to the conformance fixture: (method, params through the gateway, params straight to the fixture).</summary>
    public static TheoryData<AgentLink, string, string, string> LegacyAgentRequests()
    {
        var data = new TheoryData<AgentLink, string, string, string>();
        foreach (AgentLink link in new[] { AgentLink.Stdio, AgentLink.Http })
        {
            data.Add(link, RequestMethods.ToolsCall, """{ "name": "conf_test_simple_text", "arguments": {} }""", """{ "name": "test_simple_text", "arguments": {} }""");
            data.Add(link, RequestMethods.ResourcesRead, """{ "uri": "test://static-text" }""", """{ "uri": "test://static-text" }""");
            data.Add(link, RequestMethods.PromptsGet, """{ "name": "conf_test_simple_prompt" }""", """{ "name": "test_simple_prompt" }""");
            data.Add(link, RequestMethods.CompletionComplete,
                """{ "ref": { "type": "ref/prompt", "name": "conf_test_prompt_with_arguments" }, "argument": { "name": "arg1", "value": "p" } }""",
                """{ "ref": { "type": "ref/prompt", "name": "test_prompt_with_arguments" }, "argument": { "name": "arg1", "value": "p" } }""");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LegacyAgentRequests))]
    public async Task LegacyAgent_NeverSeesResultTypeOrServerInfoOfThe2026DownstreamHop(AgentLink link, string method, string proxiedJson, string directJson)
    {
        Agent agent = await catalog.ConnectAsync(link);

        JsonObject direct = await catalog.DirectConformanceModern.RequestAsync(method, JsonNode.Parse(directJson)!.AsObject(), Ct);
        JsonObject proxied = await agent.RequestAsync(method, JsonNode.Parse(proxiedJson)!.AsObject(), Ct);

        // What the downstream hop carries (so the test would see a leak), and what the agent got.
        Assert.Equal("complete", direct["resultType"]?.GetValue<string>());
        Assert.Equal("fixture-server-conformance", direct["_meta"]?[ServerInfoKey]?["name"]?.GetValue<string>());
        Assert.False(proxied.ContainsKey("resultType"), proxied.ToJsonString());
        Assert.Empty(ProtocolJson.ReservedMetaKeys(proxied));
    }

    /// <summary>Requests a 2026-07-28 agent makes: to the 2025-11-25 server, to the 2026-07-28 fixture, and answered by the gateway itself.</summary>
    public static TheoryData<string, string> ModernAgentRequests() => new()
    {
        { RequestMethods.ToolsCall, """{ "name": "everything_get-sum", "arguments": { "a": 1, "b": 2 } }""" },
        { RequestMethods.ToolsCall, """{ "name": "conf_test_simple_text", "arguments": {} }""" },
        { RequestMethods.ResourcesRead, """{ "uri": "demo://resource/static/document/features.md" }""" },
        { RequestMethods.ResourcesRead, """{ "uri": "test://static-text" }""" },
        { RequestMethods.PromptsGet, """{ "name": "everything_simple-prompt" }""" },
        { RequestMethods.PromptsGet, """{ "name": "conf_test_simple_prompt" }""" },
        { RequestMethods.CompletionComplete, """{ "ref": { "type": "ref/prompt", "name": "everything_completable-prompt" }, "argument": { "name": "department", "value": "S" } }""" },
        { RequestMethods.ToolsList, "{}" },
        { RequestMethods.ResourcesList, "{}" },
        { RequestMethods.PromptsList, "{}" },
    };

    [Theory]
    [MemberData(nameof(ModernAgentRequests))]
    public async Task ModernAgent_GetsResultTypeComplete_AndNoServerInfoButTheGatewaysOwn(string method, string parametersJson)
    {
        Agent agent = await catalog.ConnectAsync(AgentLink.Http2026);

        JsonObject result = await agent.RequestAsync(method, JsonNode.Parse(parametersJson)!.AsObject(), Ct);

        Assert.Equal("complete", result["resultType"]?.GetValue<string>());
        if (result["_meta"]?[ServerInfoKey] is JsonNode serverInfo)
        {
            Assert.Equal("mcp-gateway", serverInfo["name"]?.GetValue<string>());
        }
    }
}
