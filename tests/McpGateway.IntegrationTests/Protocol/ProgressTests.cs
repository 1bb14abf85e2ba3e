using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>A gateway in front of server-everything (a 2025-11-25 server) and the conformance fixture (2026-07-28).</summary>
public sealed class ProgressGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(("everything", TestServers.Everything()), ("conf", ProtocolServers.Conformance()));
}

/// <summary>
/// Progress through the gateway (DESIGN §6): the gateway gives each forwarded call a progress token of its own, so
/// the notifications a server sends reach the agent whose call it is, under the token that agent chose, in the order
/// the server sent them and all before the final result; two agents may choose the same token.
/// </summary>
public sealed class ProgressTests(ProgressGateway fixture) : IClassFixture<ProgressGateway>
{
    private const string LongRunning = "everything_trigger-long-running-operation";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink, string> LinksAndTokens()
    {
        var data = new TheoryData<AgentLink, string>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            data.Add(link, "\"agent-token\"");
            data.Add(link, "42");
        }

        return data;
    }

    public static TheoryData<AgentLink> AllLinks() => ProtocolAgents.AllLinks();

    [Theory]
    [MemberData(nameof(LinksAndTokens))]
    public async Task Progress_ReachesTheCallerUnderItsOwnToken_InIncreasingOrder_AllBeforeTheResult(AgentLink link, string tokenJson)
    {
        Agent agent = await fixture.ConnectAsync(link);
        JsonNode token = JsonNode.Parse(tokenJson)!;

        JsonRpcResponse response = await agent.CallWithResponseAsync(LongRunning, new JsonObject { ["duration"] = 1, ["steps"] = 4 }, Ct, new JsonObject { ["progressToken"] = token.DeepClone() });

        AssertProgressBeforeResult(agent, response, token, [1, 2, 3, 4], total: 4);
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task Progress_FromA2026Server_ReachesTheCallerUnderItsOwnToken_BeforeTheResult(AgentLink link)
    {
        Agent agent = await fixture.ConnectAsync(link);
        JsonNode token = JsonValue.Create("conformance-token");

        JsonRpcResponse response = await agent.CallWithResponseAsync("conf_test_tool_with_progress", null, Ct, new JsonObject { ["progressToken"] = token.DeepClone() });

        AssertProgressBeforeResult(agent, response, token, [0, 50, 100], total: 100);
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task SameProgressToken_FromTwoSessionsAtOnce_EachSessionGetsOnlyItsOwnCallsProgress(AgentLink link)
    {
        // The totals tell the calls apart: three steps for one, five for the other, under one token value.
        Agent three = await fixture.ConnectAsync(link);
        Agent five = await fixture.ConnectAsync(link);
        JsonNode token = JsonValue.Create("shared-token");

        Task<JsonRpcResponse> threeCall = three.CallWithResponseAsync(LongRunning, new JsonObject { ["duration"] = 1, ["steps"] = 3 }, Ct, new JsonObject { ["progressToken"] = token.DeepClone() });
        Task<JsonRpcResponse> fiveCall = five.CallWithResponseAsync(LongRunning, new JsonObject { ["duration"] = 1, ["steps"] = 5 }, Ct, new JsonObject { ["progressToken"] = token.DeepClone() });
        await Task.WhenAll(threeCall, fiveCall);

        AssertProgressBeforeResult(three, await threeCall, token, [1, 2, 3], total: 3);
        AssertProgressBeforeResult(five, await fiveCall, token, [1, 2, 3, 4, 5], total: 5);
    }

    /// <summary>Exactly these progress values, under the agent's token, all received before the result.</summary>
    private static void AssertProgressBeforeResult(Agent agent, JsonRpcResponse response, JsonNode token, double[] expected, double total)
    {
        IReadOnlyList<JsonRpcMessage> wire = agent.Wire.Messages;
        int resultAt = agent.Wire.IndexOfResponse(response.Id);
        Assert.True(resultAt >= 0, "The result is not on the wire.");
        var progress = wire
            .Select((message, index) => (message, index))
            .Where(m => m.message is JsonRpcNotification { Method: NotificationMethods.ProgressNotification })
            .Select(m => (Params: (JsonObject)((JsonRpcNotification)m.message).Params!, Index: m.index))
            .ToList();

        Assert.All(progress, p => Assert.True(p.Index < resultAt, $"Progress {p.Params.ToJsonString()} arrived after the result."));
        Assert.All(progress, p => DirectServers.AssertJsonEqual(token, p.Params["progressToken"]));
        Assert.Equal(expected, progress.Select(p => p.Params["progress"]!.GetValue<double>()));
        Assert.All(progress, p => Assert.Equal(total, p.Params["total"]!.GetValue<double>()));
    }
}
