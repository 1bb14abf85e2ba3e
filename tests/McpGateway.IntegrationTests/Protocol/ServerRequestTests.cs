using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// A gateway in front of server-everything (a 2025-11-25 server: its requests arrive on its own, beside the call), the
/// conformance fixture (2026-07-28: its requests come inside the call's response) and the probe (asks for roots on
/// every call; everything asks once, at start-up, and caches the answer).
/// </summary>
public sealed class ServerRequestGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(
        ("everything", TestServers.Everything()),
        ("conf", ProtocolServers.Conformance()),
        ("probe", ProtocolServers.Probe()));
}

/// <summary>
/// Requests from a downstream server to the client (sampling, elicitation, roots) through the gateway (DESIGN §6):
/// they reach the agent whose call caused them, and its answer goes back to the server; an agent whose client lacks
/// the capability gets an error result (empty roots), never another agent's request.
/// </summary>
public sealed class ServerRequestTests(ServerRequestGateway fixture) : IClassFixture<ServerRequestGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink, string> SessionLinksAndSamplingTools()
    {
        var data = new TheoryData<AgentLink, string>();
        foreach (AgentLink link in ProtocolAgents.SessionLinks())
        {
            data.Add(link, "everything_trigger-sampling-request");
            data.Add(link, "conf_test_sampling");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SessionLinksAndSamplingTools))]
    public async Task Sampling_ReachesTheCallingAgentsHandler_AndItsAnswerReachesTheToolResult(AgentLink link, string tool)
    {
        var seen = new ConcurrentQueue<CreateMessageRequestParams>();
        Agent agent = await fixture.ConnectAsync(link, Handlers(sampling: seen));
        string marker = Guid.NewGuid().ToString("N");

        JsonObject result = await agent.CallAsync(tool, new JsonObject { ["prompt"] = marker }, Ct);

        CreateMessageRequestParams request = Assert.Single(seen);
        Assert.Contains(marker, SamplingText(request), StringComparison.Ordinal);
        ProtocolJson.AssertSucceeded(result);
        Assert.Contains("answer to " + marker, result.Text(), StringComparison.Ordinal);
    }

    public static TheoryData<AgentLink, string> SessionLinksAndElicitationTools()
    {
        var data = new TheoryData<AgentLink, string>();
        foreach (AgentLink link in ProtocolAgents.SessionLinks())
        {
            data.Add(link, "everything_trigger-elicitation-request");
            data.Add(link, "conf_test_elicitation");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SessionLinksAndElicitationTools))]
    public async Task FormElicitation_ReachesTheCallingAgentsHandler_AndItsAnswerReachesTheToolResult(AgentLink link, string tool)
    {
        var seen = new ConcurrentQueue<ElicitRequestParams>();
        Agent agent = await fixture.ConnectAsync(link, Handlers(elicitation: seen));

        JsonObject result = await agent.CallAsync(tool, new JsonObject { ["message"] = "Who are you?" }, Ct);

        ElicitRequestParams request = Assert.Single(seen);
        Assert.NotEqual("url", request.Mode);
        Assert.NotNull(request.RequestedSchema);
        ProtocolJson.AssertSucceeded(result);
        Assert.Contains("Ada Lovelace", string.Concat(result["content"]!.AsArray().Select(c => c!["text"]?.GetValue<string>())), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task UrlElicitation_ReachesTheCallingAgentsHandler_WithTheUrl_AndItsAnswerReachesTheToolResult(AgentLink link)
    {
        var seen = new ConcurrentQueue<ElicitRequestParams>();
        Agent agent = await fixture.ConnectAsync(link, Handlers(elicitation: seen));
        const string url = "https://example.com/consent";

        JsonObject result = await agent.CallAsync("everything_trigger-url-elicitation", new JsonObject { ["url"] = url }, Ct);

        ElicitRequestParams request = Assert.Single(seen);
        Assert.Equal("url", request.Mode);
        Assert.Equal(url, request.Url);
        ProtocolJson.AssertSucceeded(result);
        Assert.Contains("accept", result.ToJsonString(), StringComparison.Ordinal);
    }

    public static TheoryData<AgentLink> SessionLinks() => ProtocolAgents.SessionLinks();

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task Roots_AreTheCallingAgentsRoots(AgentLink link)
    {
        string root = "file:///workspace/" + Guid.NewGuid().ToString("N");
        Agent agent = await fixture.ConnectAsync(link, Handlers(roots: root));

        JsonObject result = await agent.CallAsync("probe_roots", null, Ct);

        ProtocolJson.AssertSucceeded(result);
        DirectServers.AssertJsonEqual(new JsonArray(new JsonObject { ["uri"] = root, ["name"] = "workspace" }), result["structuredContent"]!["roots"]);
    }

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task ClientWithoutTheCapabilities_GetsErrorResultsAndNoRoots_AndNoRequestReachesIt(AgentLink link)
    {
        Agent agent = await fixture.ConnectAsync(link);

        JsonObject sampling = await agent.CallAsync("everything_trigger-sampling-request", new JsonObject { ["prompt"] = "anyone?" }, Ct);
        JsonObject elicitation = await agent.CallAsync("everything_trigger-elicitation-request", null, Ct);
        string conformanceSampling = await ErrorTextAsync(agent, "conf_test_sampling", new JsonObject { ["prompt"] = "anyone?" });
        JsonObject roots = await agent.CallAsync("probe_roots", null, Ct);

        Assert.True(sampling["isError"]?.GetValue<bool>(), sampling.ToJsonString());
        Assert.Contains("does not support sampling/createMessage", sampling.Text(), StringComparison.Ordinal);
        Assert.True(elicitation["isError"]?.GetValue<bool>(), elicitation.ToJsonString());
        Assert.Contains("does not support elicitation/create", elicitation.Text(), StringComparison.Ordinal);
        Assert.Contains("does not support sampling", conformanceSampling, StringComparison.Ordinal);
        DirectServers.AssertJsonEqual(new JsonArray(), roots["structuredContent"]!["roots"]);
        Assert.DoesNotContain(agent.Wire.Messages, m => m is JsonRpcRequest);
    }

    [Fact]
    public async Task Sampling_WhileAnotherAgentsSamplingCallWaits_NeverReachesTheOtherAgent()
    {
        // first's handler holds its answer until second's call is over, so second calls while first's call is in
        // flight on the same server. A 2025-11-25 server's request says nothing of the call that caused it: the
        // gateway may decline second's request with an error, but must never hand it to first.
        var firstSeen = new ConcurrentQueue<CreateMessageRequestParams>();
        var secondSeen = new ConcurrentQueue<CreateMessageRequestParams>();
        var firstAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Agent first = await fixture.ConnectAsync(AgentLink.Http, Handlers(sampling: firstSeen, before: () =>
        {
            firstAsked.TrySetResult();
            return secondDone.Task.Within("the second agent's call to end", Ct);
        }));
        Agent second = await fixture.ConnectAsync(AgentLink.Stdio, Handlers(sampling: secondSeen));

        Task<JsonObject> firstCall = first.CallAsync("everything_trigger-sampling-request", new JsonObject { ["prompt"] = "first-marker" }, Ct);
        await firstAsked.Task.Within("the first agent to be asked for sampling", Ct);
        JsonObject secondResult;
        try
        {
            secondResult = await second.CallAsync("everything_trigger-sampling-request", new JsonObject { ["prompt"] = "second-marker" }, Ct);
        }
        finally
        {
            secondDone.TrySetResult();
        }

        JsonObject firstResult = await firstCall;

        Assert.Contains("first-marker", SamplingText(Assert.Single(firstSeen)), StringComparison.Ordinal);
        Assert.Contains("answer to first-marker", firstResult.Text(), StringComparison.Ordinal);
        Assert.All(secondSeen, r => Assert.Contains("second-marker", SamplingText(r), StringComparison.Ordinal));
        Assert.DoesNotContain("first-marker", secondResult.ToJsonString(), StringComparison.Ordinal);
        if (secondSeen.IsEmpty)
        {
            Assert.True(secondResult["isError"]?.GetValue<bool>(), secondResult.ToJsonString());
            Assert.Contains("cannot tell which agent", secondResult.Text(), StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("answer to second-marker", secondResult.Text(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SamplingCalls_OfTwoAgentsAtOnce_NeverReceiveEachOthersRequests()
    {
        var seen = new[] { new ConcurrentQueue<CreateMessageRequestParams>(), new ConcurrentQueue<CreateMessageRequestParams>() };
        Agent[] agents = [await fixture.ConnectAsync(AgentLink.Http, Handlers(sampling: seen[0])), await fixture.ConnectAsync(AgentLink.Stdio, Handlers(sampling: seen[1]))];

        var calls = new List<Task<(string Marker, JsonObject Result)>>();
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < agents.Length; i++)
            {
                int agent = i;
                string marker = $"agent{agent}-round{round}";
                calls.Add(Task.Run(async () => (marker, await agents[agent].CallAsync("everything_trigger-sampling-request", new JsonObject { ["prompt"] = marker }, Ct))));
            }
        }

        foreach ((string marker, JsonObject result) in await Task.WhenAll(calls))
        {
            string text = result.Text();
            if (result["isError"]?.GetValue<bool>() == true)
            {
                Assert.Contains("cannot tell which agent", text, StringComparison.Ordinal);
            }
            else
            {
                Assert.Contains("answer to " + marker, text, StringComparison.Ordinal);
            }
        }

        Assert.All(seen[0], r => Assert.StartsWith("agent0-", MarkerOf(r), StringComparison.Ordinal));
        Assert.All(seen[1], r => Assert.StartsWith("agent1-", MarkerOf(r), StringComparison.Ordinal));
    }

    public static TheoryData<string, string> ModernAgentInputRequests() => new()
    {
        { "everything_trigger-sampling-request", "sampling" },
        { "conf_test_sampling", "sampling" },
        { "everything_trigger-elicitation-request", "elicitation" },
        { "conf_test_elicitation", "elicitation" },
        { "probe_roots", "roots" },
    };

    [Theory]
    [MemberData(nameof(ModernAgentInputRequests))]
    public async Task InputRequest_ForA2026Agent_IsAskedAsAMultiRoundTripRequest_AndItsAnswerReachesTheToolResult(string tool, string kind)
    {
        // A 2026-07-28 agent is served request by request: the gateway cannot send it a request of its own, and must
        // answer the call with an input_required result (multi round-trip request) that the SDK client resolves through
        // its handlers and retries.
        var sampling = new ConcurrentQueue<CreateMessageRequestParams>();
        var elicitation = new ConcurrentQueue<ElicitRequestParams>();
        const string root = "file:///workspace/modern";
        Agent agent = await fixture.ConnectAsync(AgentLink.Http2026, Handlers(sampling: sampling, elicitation: elicitation, roots: root));

        JsonObject result = await agent.CallAsync(tool, new JsonObject { ["prompt"] = "modern-marker", ["message"] = "Who are you?" }, Ct);

        ProtocolJson.AssertSucceeded(result);
        switch (kind)
        {
            case "sampling":
                Assert.Single(sampling);
                Assert.Contains("answer to modern-marker", result.Text(), StringComparison.Ordinal);
                break;
            case "elicitation":
                Assert.Single(elicitation);
                Assert.Contains("Ada Lovelace", result.ToJsonString(), StringComparison.Ordinal);
                break;
            default:
                Assert.Contains(root, result.ToJsonString(), StringComparison.Ordinal);
                break;
        }
    }

    [Fact]
    public async Task Retry_WithARequestStateTheGatewayNeverGave_IsRefused()
    {
        Agent agent = await fixture.ConnectAsync(AgentLink.Http2026, Handlers());

        var error = await Assert.ThrowsAsync<ModelContextProtocol.McpProtocolException>(() => agent.RequestAsync(
            RequestMethods.ToolsCall,
            new JsonObject { ["name"] = "everything_echo", ["arguments"] = new JsonObject { ["message"] = "x" }, ["requestState"] = "forged", ["inputResponses"] = new JsonObject() },
            Ct));

        Assert.Equal(ModelContextProtocol.McpErrorCode.InvalidParams, error.ErrorCode);
        Assert.Contains("requestState is unknown", error.RemoteMessage(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The error a call gets: an error result, or a JSON-RPC error. A 2025-11-25 server gets the gateway's refusal of
    /// its request and reports it in an error result; a 2026-07-28 server is told the agent's own capabilities with the
    /// call, and answers for itself (the fixture with an error result, a stricter server with -32021).
    /// </summary>
    private static async Task<string> ErrorTextAsync(Agent agent, string tool, JsonObject arguments)
    {
        try
        {
            JsonObject result = await agent.CallAsync(tool, arguments, Ct);
            Assert.True(result["isError"]?.GetValue<bool>(), result.ToJsonString());
            return result.Text();
        }
        catch (ModelContextProtocol.McpProtocolException ex)
        {
            return ex.RemoteMessage();
        }
    }

    /// <summary>Client handlers that record what they are asked and answer so the tool result shows who answered.</summary>
    private static McpClientHandlers Handlers(
        ConcurrentQueue<CreateMessageRequestParams>? sampling = null,
        ConcurrentQueue<ElicitRequestParams>? elicitation = null,
        string? roots = null,
        Func<Task>? before = null)
    {
        var handlers = new McpClientHandlers();
        if (sampling is not null)
        {
            handlers.SamplingHandler = async (request, _, _) =>
            {
                sampling.Enqueue(request!);
                if (before is not null)
                {
                    await before().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                return new CreateMessageResult
                {
                    Content = [new TextContentBlock { Text = "answer to " + MarkerOf(request!) }],
                    Model = "test-model",
                    Role = Role.Assistant,
                };
            };
        }

        if (elicitation is not null)
        {
            handlers.ElicitationHandler = (request, _) =>
            {
                elicitation.Enqueue(request!);
                var content = new Dictionary<string, JsonElement>();
                if (request!.Mode != "url")
                {
                    foreach (string field in new[] { "name", "username" })
                    {
                        if (request.RequestedSchema?.Properties.ContainsKey(field) == true)
                        {
                            content[field] = JsonSerializer.SerializeToElement("Ada Lovelace");
                        }
                    }

                    if (request.RequestedSchema?.Properties.ContainsKey("email") == true)
                    {
                        content["email"] = JsonSerializer.SerializeToElement("ada@example.com");
                    }
                }

                return ValueTask.FromResult(new ElicitResult { Action = "accept", Content = content.Count == 0 ? null : content });
            };
        }

        if (roots is not null)
        {
            handlers.RootsHandler = (_, _) => ValueTask.FromResult(new ListRootsResult { Roots = [new Root { Uri = roots, Name = "workspace" }] });
        }

        return handlers;
    }

    private static string SamplingText(CreateMessageRequestParams request) =>
        string.Concat(request.Messages.SelectMany(m => m.Content).OfType<TextContentBlock>().Select(b => b.Text));

    /// <summary>The marker a test put in the prompt: everything sends "Resource trigger-sampling-request context: &lt;prompt&gt;", the fixture the prompt itself.</summary>
    private static string MarkerOf(CreateMessageRequestParams request)
    {
        string text = SamplingText(request);
        int colon = text.LastIndexOf(": ", StringComparison.Ordinal);
        return colon < 0 ? text : text[(colon + 2)..];
    }
}
