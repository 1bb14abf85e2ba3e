using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// Tasks (long-running tool calls, SEP-1686) through the gateway: server-everything's <c>simulate-research-query</c>
/// declares <c>execution.taskSupport: "required"</c>; called with the <c>task</c> field it answers with a task that the
/// client polls (<c>tasks/get</c>) and whose result it fetches (<c>tasks/result</c>, about four seconds later).
/// </summary>
[Collection(CatalogGateway.Collection)]
public sealed class TaskTests(CatalogGateway catalog)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> AllLinks() => ProtocolAgents.AllLinks();

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task CallTool_WithTheTaskField_CreatesATaskShapedAsDirect(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);

        JsonObject direct = await catalog.DirectEverything.RequestAsync(RequestMethods.ToolsCall, TaskCall("simulate-research-query"), Ct);
        JsonObject proxied = ProtocolJson.WithoutEra(await agent.RequestAsync(RequestMethods.ToolsCall, TaskCall("everything_simulate-research-query"), Ct));

        Assert.Equal(direct.Select(kv => kv.Key).Order(), proxied.Select(kv => kv.Key).Order());
        JsonObject directTask = direct["task"]!.AsObject();
        JsonObject proxiedTask = proxied["task"]!.AsObject();
        Assert.Equal(directTask.Select(kv => kv.Key).Order(), proxiedTask.Select(kv => kv.Key).Order());
        foreach (string field in new[] { "status", "ttl", "pollInterval", "statusMessage" })
        {
            DirectServers.AssertJsonEqual(directTask[field], proxiedTask[field]);
        }

        Assert.NotEqual(directTask["taskId"]!.GetValue<string>(), proxiedTask["taskId"]!.GetValue<string>());
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task CallTool_TaskRequiredToolWithoutTheTaskField_GetsTheResultItGetsDirectly(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        var arguments = new JsonObject { ["topic"] = "gateways" };

        JsonObject direct = await catalog.DirectEverything.RequestAsync(RequestMethods.ToolsCall, new JsonObject { ["name"] = "simulate-research-query", ["arguments"] = arguments.DeepClone() }, Ct);
        JsonObject proxied = await agent.CallAsync("everything_simulate-research-query", (JsonObject)arguments.DeepClone(), Ct);

        Assert.True(direct["isError"]!.GetValue<bool>());
        DirectServers.AssertJsonEqual(direct, ProtocolJson.WithoutEra(proxied));
    }

    [Fact]
    public async Task Task_CreatedThroughTheGateway_CanBePolledAndItsResultFetched_AsDirect_ForAgentsOfEveryLink()
    {
        // Each agent creates a task through the gateway and follows it with tasks/get and tasks/result, which the
        // gateway must route to the server that holds the task; the direct client does the same, at the same time.
        Task<(JsonObject Polled, JsonObject Result)> direct = FollowAsync(
            p => catalog.DirectEverything.RequestAsync(RequestMethods.ToolsCall, p, Ct),
            (m, p) => catalog.DirectEverything.RequestAsync(m, p, Ct),
            "simulate-research-query");
        var proxied = new List<Task<(JsonObject Polled, JsonObject Result)>>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            Agent agent = await catalog.ConnectAsync(link);
            proxied.Add(FollowAsync(
                p => agent.RequestAsync(RequestMethods.ToolsCall, p, Ct),
                (m, p) => agent.RequestAsync(m, p, Ct),
                "everything_simulate-research-query"));
        }

        (JsonObject directPolled, JsonObject directResult) = await direct;
        foreach (Task<(JsonObject Polled, JsonObject Result)> followed in proxied)
        {
            (JsonObject polled, JsonObject result) = await followed;
            Assert.Equal(directPolled.Select(kv => kv.Key).Order(), ProtocolJson.WithoutEra(polled).Select(kv => kv.Key).Order());
            DirectServers.AssertJsonEqual(ProtocolJson.WithoutEra(directResult), ProtocolJson.WithoutEra(result));
        }
    }

    [Fact]
    public async Task Task_OfOneAgent_IsUnknownToAnother_AndListedOnlyForItsOwner()
    {
        Agent owner = await catalog.ConnectAsync(AgentLink.Http);
        Agent other = await catalog.Agents.ConnectAsync(AgentLink.Http, ProtocolGateway.Outsider, cancellationToken: Ct);
        JsonObject created = await owner.RequestAsync(RequestMethods.ToolsCall, TaskCall("everything_simulate-research-query"), Ct);
        string taskId = created["task"]!["taskId"]!.GetValue<string>();

        string forOther = await ErrorAsync(() => other.RequestAsync("tasks/get", new JsonObject { ["taskId"] = taskId }, Ct));
        string forMadeUp = await ErrorAsync(() => owner.RequestAsync("tasks/get", new JsonObject { ["taskId"] = "no-such-task" }, Ct));
        JsonObject ownersList = await owner.RequestAsync("tasks/list", null, Ct);
        JsonObject othersList = await other.RequestAsync("tasks/list", null, Ct);

        Assert.Equal($"Unknown task: '{taskId}'", forOther);
        Assert.Equal("Unknown task: 'no-such-task'", forMadeUp);
        Assert.Contains(ownersList["tasks"]!.AsArray(), t => t!["taskId"]!.GetValue<string>() == taskId);
        Assert.Empty(othersList["tasks"]!.AsArray());
        await owner.RequestAsync("tasks/cancel", new JsonObject { ["taskId"] = taskId }, Ct);
    }

    private static async Task<string> ErrorAsync(Func<Task> request)
    {
        var error = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(request);
        return error.RemoteMessage();
    }

    private static async Task<(JsonObject Polled, JsonObject Result)> FollowAsync(
        Func<JsonObject, Task<JsonObject>> call,
        Func<string, JsonObject, Task<JsonObject>> request,
        string tool)
    {
        JsonObject created = await call(TaskCall(tool));
        string taskId = created["task"]!["taskId"]!.GetValue<string>();
        JsonObject polled = await request("tasks/get", new JsonObject { ["taskId"] = taskId });
        Assert.Equal(taskId, polled["taskId"]!.GetValue<string>());
        JsonObject result = await request("tasks/result", new JsonObject { ["taskId"] = taskId });
        return (polled, result);
    }

    private static JsonObject TaskCall(string tool) => new()
    {
        ["name"] = tool,
        ["arguments"] = new JsonObject { ["topic"] = "gateways" },
        ["task"] = new JsonObject { ["ttl"] = 60000 },
    };
}
