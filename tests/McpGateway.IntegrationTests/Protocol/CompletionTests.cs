using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// <c>completion/complete</c> through the gateway (DESIGN §6): for a prompt argument or a resource-template variable,
/// routed to the server that owns the prompt or template, with the same answer as asking it directly.
/// </summary>
[Collection(CatalogGateway.Collection)]
public sealed class CompletionTests(CatalogGateway catalog)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink, string, string> Completions()
    {
        // (link, the request through the gateway, the same request straight to the server: everything, or the fixture when "conf" is set).
        var data = new TheoryData<AgentLink, string, string>();
        foreach (AgentLink link in new[] { AgentLink.Stdio, AgentLink.Http, AgentLink.Http2026, AgentLink.Stdio2026 })
        {
            data.Add(link,
                """{ "ref": { "type": "ref/prompt", "name": "everything_completable-prompt" }, "argument": { "name": "department", "value": "E" } }""",
                """{ "ref": { "type": "ref/prompt", "name": "completable-prompt" }, "argument": { "name": "department", "value": "E" } }""");
            data.Add(link,
                """{ "ref": { "type": "ref/prompt", "name": "completable-prompt" }, "argument": { "name": "name", "value": "" }, "context": { "arguments": { "department": "Engineering" } } }""",
                """{ "ref": { "type": "ref/prompt", "name": "completable-prompt" }, "argument": { "name": "name", "value": "" }, "context": { "arguments": { "department": "Engineering" } } }""");
            data.Add(link,
                """{ "ref": { "type": "ref/resource", "uri": "demo://resource/dynamic/text/{resourceId}" }, "argument": { "name": "resourceId", "value": "1" } }""",
                """{ "ref": { "type": "ref/resource", "uri": "demo://resource/dynamic/text/{resourceId}" }, "argument": { "name": "resourceId", "value": "1" } }""");
            data.Add(link,
                """{ "ref": { "type": "ref/resource", "uri": "mcp-gateway://everything2/demo://resource/dynamic/blob/{resourceId}" }, "argument": { "name": "resourceId", "value": "3" } }""",
                """{ "ref": { "type": "ref/resource", "uri": "demo://resource/dynamic/blob/{resourceId}" }, "argument": { "name": "resourceId", "value": "3" } }""");
            data.Add(link,
                """{ "ref": { "type": "ref/prompt", "name": "conf_test_prompt_with_arguments" }, "argument": { "name": "arg1", "value": "pa" } }""",
                """{ "conf": true, "ref": { "type": "ref/prompt", "name": "test_prompt_with_arguments" }, "argument": { "name": "arg1", "value": "pa" } }""");
            data.Add(link,
                """{ "ref": { "type": "ref/resource", "uri": "test://template/{id}/data" }, "argument": { "name": "id", "value": "" } }""",
                """{ "conf": true, "ref": { "type": "ref/resource", "uri": "test://template/{id}/data" }, "argument": { "name": "id", "value": "" } }""");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Completions))]
    public async Task Complete_PromptArgumentOrTemplateVariable_AnswersAsTheOwningServerDirectly(AgentLink link, string proxiedJson, string directJson)
    {
        Agent agent = await catalog.ConnectAsync(link);
        JsonObject directParams = JsonNode.Parse(directJson)!.AsObject();
        bool conformance = directParams.Remove("conf");

        JsonObject direct = await (conformance ? catalog.DirectConformance : catalog.DirectEverything).RequestAsync(RequestMethods.CompletionComplete, directParams, Ct);
        JsonObject proxied = await agent.RequestAsync(RequestMethods.CompletionComplete, JsonNode.Parse(proxiedJson)!.AsObject(), Ct);

        Assert.NotEmpty(direct["completion"]!["values"]!.AsArray());
        DirectServers.AssertJsonEqual(direct, ProtocolJson.WithoutEra(proxied));
    }

    [Theory]
    [InlineData(AgentLink.Http)]
    [InlineData(AgentLink.Http2026)]
    public async Task Complete_ForAServerTheAgentMayNotUse_IsTheUnknownReferenceError(AgentLink link)
    {
        Agent outsider = await catalog.Agents.ConnectAsync(link, ProtocolGateway.Outsider, cancellationToken: Ct);

        McpProtocolException denied = await outsider.ErrorAsync(RequestMethods.CompletionComplete, JsonNode.Parse(
            """{ "ref": { "type": "ref/prompt", "name": "everything_completable-prompt" }, "argument": { "name": "department", "value": "E" } }""")!.AsObject(), Ct);
        McpProtocolException unknown = await outsider.ErrorAsync(RequestMethods.CompletionComplete, JsonNode.Parse(
            """{ "ref": { "type": "ref/prompt", "name": "no-such-prompt" }, "argument": { "name": "department", "value": "E" } }""")!.AsObject(), Ct);

        Assert.Equal(unknown.ErrorCode, denied.ErrorCode);
        Assert.Equal(unknown.RemoteMessage(), denied.RemoteMessage());
    }
}
