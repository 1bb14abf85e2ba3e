using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// Prompts through the gateway (DESIGN §6): named like tools (the server's prefix, or the plain name for an empty
/// prefix), otherwise as the server lists and renders them, and filtered by the same policy.
/// </summary>
[Collection(CatalogGateway.Collection)]
public sealed class PromptTests(CatalogGateway catalog)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> AllLinks() => ProtocolAgents.AllLinks();

    public static TheoryData<AgentLink> HttpLinks() => [AgentLink.Http, AgentLink.Http2026];

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ListPrompts_AreTheServersPromptsAsDirect_PrefixedLikeTools_AndPlainForAnEmptyPrefix(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        JsonArray everything = (await catalog.DirectEverything.RequestAsync(RequestMethods.PromptsList, null, Ct))["prompts"]!.AsArray();
        JsonArray conformance = (await catalog.DirectConformance.RequestAsync(RequestMethods.PromptsList, null, Ct))["prompts"]!.AsArray();

        JsonObject listed = await agent.RequestAsync(RequestMethods.PromptsList, null, Ct);

        JsonArray expected = ProtocolJson.Concat(
            ProtocolJson.Renamed(everything, "name", name => "everything_" + name),
            everything,
            ProtocolJson.Renamed(conformance, "name", name => "conf_" + name));
        DirectServers.AssertJsonEqual(expected, listed["prompts"]);
    }

    public static TheoryData<AgentLink, string, string, string> PromptCalls()
    {
        var data = new TheoryData<AgentLink, string, string, string>();
        foreach (AgentLink link in new[] { AgentLink.Stdio, AgentLink.Http, AgentLink.Http2026, AgentLink.Stdio2026 })
        {
            data.Add(link, "everything_args-prompt", "args-prompt", """{ "city": "Lyon", "state": "Rhône" }""");
            data.Add(link, "args-prompt", "args-prompt", """{ "city": "Oslo" }""");
            data.Add(link, "everything_simple-prompt", "simple-prompt", "{}");
            data.Add(link, "conf_test_prompt_with_arguments", "test_prompt_with_arguments", """{ "arg1": "first", "arg2": "second" }""");
            data.Add(link, "conf_test_prompt_with_image", "test_prompt_with_image", "{}");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PromptCalls))]
    public async Task GetPrompt_WithArguments_ReturnsWhatTheServerReturnsDirectly(AgentLink link, string exposedName, string serverName, string argumentsJson)
    {
        Agent agent = await catalog.ConnectAsync(link);
        var arguments = JsonNode.Parse(argumentsJson)!.AsObject();
        McpClient server = exposedName.StartsWith("conf_", StringComparison.Ordinal) ? catalog.DirectConformance : catalog.DirectEverything;

        JsonObject direct = await server.RequestAsync(RequestMethods.PromptsGet, new JsonObject { ["name"] = serverName, ["arguments"] = arguments.DeepClone() }, Ct);
        JsonObject proxied = await agent.RequestAsync(RequestMethods.PromptsGet, new JsonObject { ["name"] = exposedName, ["arguments"] = arguments.DeepClone() }, Ct);

        DirectServers.AssertJsonEqual(direct, ProtocolJson.WithoutEra(proxied));
    }

    [Theory]
    [MemberData(nameof(HttpLinks))]
    public async Task Prompts_OfAServerTheAgentMayNotUse_AreNotListed_AndGettingOneIsTheUnknownPromptError(AgentLink link)
    {
        Agent outsider = await catalog.Agents.ConnectAsync(link, ProtocolGateway.Outsider, cancellationToken: Ct);
        JsonArray conformance = (await catalog.DirectConformance.RequestAsync(RequestMethods.PromptsList, null, Ct))["prompts"]!.AsArray();

        JsonObject listed = await outsider.RequestAsync(RequestMethods.PromptsList, null, Ct);
        McpProtocolException denied = await outsider.ErrorAsync(RequestMethods.PromptsGet, new JsonObject { ["name"] = "everything_args-prompt", ["arguments"] = new JsonObject { ["city"] = "Lyon" } }, Ct);
        McpProtocolException unknown = await outsider.ErrorAsync(RequestMethods.PromptsGet, new JsonObject { ["name"] = "no-such-prompt", ["arguments"] = new JsonObject { ["city"] = "Lyon" } }, Ct);

        DirectServers.AssertJsonEqual(ProtocolJson.Renamed(conformance, "name", name => "conf_" + name), listed["prompts"]);
        Assert.Equal(unknown.ErrorCode, denied.ErrorCode);
        Assert.Equal(unknown.RemoteMessage().Replace("no-such-prompt", "everything_args-prompt", StringComparison.Ordinal), denied.RemoteMessage());
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task GetPrompt_UnknownName_IsAnInvalidParamsError(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);

        McpProtocolException error = await agent.ErrorAsync(RequestMethods.PromptsGet, new JsonObject { ["name"] = "no-such-prompt" }, Ct);

        Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
        Assert.Contains("no-such-prompt", error.RemoteMessage(), StringComparison.Ordinal);
    }
}
