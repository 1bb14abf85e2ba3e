using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.IntegrationTests.Conformance;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// Two gateways (one serving stdio and stateful HTTP, one started with <c>--stateless</c>) in front of the same four
/// servers, one per cell of the downstream side of docs/protocol-eras.md: the conformance fixture over stdio
/// (<c>conf</c>) and over stateless Streamable HTTP (<c>confhttp</c>), both 2026-07-28 with the gateway; the same
/// fixture over stateful HTTP (<c>confsession</c>), where the gateway's hop is 2025-11-25; and server-everything
/// (<c>everything</c>, 2025-11-25 over stdio; its newest release on npm speaks no 2026-07-28).
/// </summary>
public sealed partial class EraMatrixGateway : ProtocolGateway
{
    private ChildProcess? _statelessFixture;
    private ChildProcess? _sessionFixture;
    private string _servers = string.Empty;

    protected override string Servers => _servers;

    protected override string? StatelessServers => _servers;

    public override async ValueTask InitializeAsync()
    {
        _statelessFixture = ChildProcess.Start(RepoPaths.FixtureServer, ["conformance", "--http", "0", "--stateless"]);
        _sessionFixture = ChildProcess.Start(RepoPaths.FixtureServer, ["conformance", "--http", "0"]);
        string stateless = (await _statelessFixture.WaitForLineAsync(FixtureReady())).Groups["url"].Value;
        string session = (await _sessionFixture.WaitForLineAsync(FixtureReady())).Groups["url"].Value;
        _servers = TestServers.File(
            ("conf", ProtocolServers.Conformance()),
            ("confhttp", new JsonObject { ["url"] = stateless }),
            ("confsession", new JsonObject { ["url"] = session }),
            ("everything", TestServers.Everything()));
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (ChildProcess? fixture in (ChildProcess?[])[_statelessFixture, _sessionFixture])
        {
            if (fixture is not null)
            {
                await fixture.DisposeAsync();
            }
        }
    }

    [GeneratedRegex(@"conformance fixture ready on (?<url>http://\S+)")]
    private static partial Regex FixtureReady();
}

/// <summary>
/// Every era pairing of docs/protocol-eras.md, feature by feature: agents of 2025-11-25 and 2026-07-28 over stdio and
/// Streamable HTTP (stateful and, on the second gateway, stateless), in front of 2026-07-28 and 2025-11-25 servers.
/// Each test also checks that nothing reached the host unhandled.
/// </summary>
public sealed class EraMatrixTests(EraMatrixGateway fixture) : IClassFixture<EraMatrixGateway>
{
    private const string Marker = "matrix-marker";
    private const string Root = "file:///workspace/matrix";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink, string> LinksAndLists()
    {
        var data = new TheoryData<AgentLink, string>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            foreach (string method in new[] { RequestMethods.ToolsList, RequestMethods.PromptsList, RequestMethods.ResourcesList, RequestMethods.ResourcesTemplatesList })
            {
                data.Add(link, method);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LinksAndLists))]
    public async Task List_ForA2026Agent_IsPrivateAndStaleAtOnceWhenAServerGaveNoHint_ForA2025AgentHasNoHints(AgentLink link, string method)
    {
        // tester may use every server, everything among them: a 2025-11-25 server promises no freshness, so the
        // aggregate cannot either (ttlMs 0); and the list is the tester's own (private), whatever the servers said.
        Agent agent = await fixture.ConnectAsync(link);

        JsonObject listed = await agent.RequestAsync(method, null, Ct);

        if (agent.IsModern)
        {
            Assert.Equal(0, listed["ttlMs"]!.GetValue<long>());
            Assert.Equal("private", listed["cacheScope"]!.GetValue<string>());
        }
        else
        {
            Assert.False(listed.ContainsKey("ttlMs") || listed.ContainsKey("cacheScope"), listed.ToJsonString());
        }

        AssertNothingUnhandled();
    }

    public static TheoryData<bool, string, bool> StatelessAndListsWithHints() => new()
    {
        { false, RequestMethods.ToolsList, true },
        { false, RequestMethods.PromptsList, true },
        { false, RequestMethods.ResourcesList, true },
        { false, RequestMethods.ResourcesTemplatesList, false },
        { true, RequestMethods.ToolsList, true },
        { true, RequestMethods.ResourcesTemplatesList, false },
    };

    [Theory]
    [MemberData(nameof(StatelessAndListsWithHints))]
    public async Task List_OfAnAgentOnlyOnA2026Server_IsFreshNoLongerThanTheServersHint_AndStaleWhereItGaveNone(bool stateless, string method, bool serverGaveAHint)
    {
        // outsider may use conf alone, which says its tools, prompts and resources stay fresh 300000 ms and gives its
        // templates the SDK's 0: the gateway passes on what is left of the hint since it fetched the list, never more.
        ProtocolAgents agents = stateless ? fixture.StatelessAgents : fixture.Agents;
        Agent outsider = await agents.ConnectAsync(AgentLink.Http2026, ProtocolGateway.Outsider, cancellationToken: Ct);

        JsonObject listed = await outsider.RequestAsync(method, null, Ct);

        long ttl = listed["ttlMs"]!.GetValue<long>();
        Assert.Equal("private", listed["cacheScope"]!.GetValue<string>());
        if (serverGaveAHint)
        {
            Assert.InRange(ttl, 1, 300_000);
        }
        else
        {
            Assert.Equal(0, ttl);
        }

        AssertNothingUnhandled();
    }

    public static TheoryData<AgentLink, string, string, long> LinksAndReads()
    {
        var data = new TheoryData<AgentLink, string, string, long>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            data.Add(link, "test://static-text", "conf", 300_000);
            data.Add(link, "demo://resource/static/document/architecture.md", "everything", 0);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LinksAndReads))]
    public async Task ResourceRead_ForA2026Agent_IsPrivateWithTheServersOwnTtl_ForA2025AgentHasNoHints(AgentLink link, string uri, string server, long ttl)
    {
        Agent agent = await fixture.ConnectAsync(link);

        JsonObject read = await agent.RequestAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = uri }, Ct);

        Assert.NotEmpty(read["contents"]!.AsArray());
        if (agent.IsModern)
        {
            Assert.True(ttl == read["ttlMs"]!.GetValue<long>(), $"{server}: {read.ToJsonString()}");
            Assert.Equal("private", read["cacheScope"]!.GetValue<string>());
        }
        else
        {
            Assert.False(read.ContainsKey("ttlMs") || read.ContainsKey("cacheScope"), read.ToJsonString());
        }

        AssertNothingUnhandled();
    }

    /// <summary>(server, tool, what it asks for): both server eras, both downstream transports.</summary>
    public static TheoryData<AgentLink, string, string> LinksAndInputTools()
    {
        var data = new TheoryData<AgentLink, string, string>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            foreach (string server in new[] { "conf", "confhttp", "confsession" })
            {
                data.Add(link, server + "_test_sampling", "sampling");
                data.Add(link, server + "_test_elicitation", "elicitation");
                data.Add(link, server + "_test_input_required_result_list_roots", "roots");
            }

            // everything asks for roots once, at start-up, not in a call: ServerRequestTests' probe covers that cell.
            data.Add(link, "everything_trigger-sampling-request", "sampling");
            data.Add(link, "everything_trigger-elicitation-request", "elicitation");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LinksAndInputTools))]
    public async Task InputRequest_OfEitherServerEra_ReachesTheCallingAgentOfEitherEra_AndItsAnswerReachesTheResult(AgentLink link, string tool, string kind)
    {
        // A 2026-07-28 server asks inside its answer (input_required), a 2025-11-25 server with a request of its own;
        // a 2025-11-25 agent is asked with a request on its session, a 2026-07-28 agent inside the gateway's answer
        // (its SDK client resolves that through the same handlers). Every pairing ends in the tool's own result.
        var asked = new ConcurrentQueue<string>();
        Agent agent = await fixture.ConnectAsync(link, Handlers(asked));

        JsonObject result = await agent.CallAsync(tool, new JsonObject { ["prompt"] = Marker, ["message"] = "Who are you?" }, Ct);

        ProtocolJson.AssertSucceeded(result);
        Assert.Equal(kind, Assert.Single(asked));
        string text = result.ToJsonString();
        switch (kind)
        {
            case "sampling":
                Assert.Contains("answer to " + Marker, text, StringComparison.Ordinal);
                break;
            case "elicitation":
                Assert.Contains("Ada Lovelace", text, StringComparison.Ordinal);
                break;
            default:
                Assert.True(text.Contains(Root, StringComparison.Ordinal) || text.Contains("Found 1 root(s)", StringComparison.Ordinal), text);
                break;
        }

        AssertNothingUnhandled();
    }

    public static TheoryData<AgentLink, string> LinksAndModernServers()
    {
        var data = new TheoryData<AgentLink, string>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            data.Add(link, "conf");
            data.Add(link, "confhttp");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LinksAndModernServers))]
    public async Task ToolNeedingACapabilityTheAgentDidNotDeclare_IsRefusedWithMissingRequiredClientCapability_NotRun(AgentLink link, string server)
    {
        // The 2026-07-28 server is told the agent's own capabilities (not the gateway's), so it refuses: -32021 with
        // the missing capability, relayed to either era unchanged.
        Agent agent = await fixture.ConnectAsync(link);

        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => agent.RequestAsync(RequestMethods.ToolsCall, new JsonObject { ["name"] = server + "_test_missing_capability", ["arguments"] = new JsonObject() }, Ct));

        if (error is HttpRequestException http)
        {
            // The SDK's own client (2.4.0) reads a 400 answer only as JSON, and the SDK server sends it as an SSE
            // event; what is on the wire is the specification's error (the raw 2026-07-28 test reads it).
            Assert.Equal(HttpStatusCode.BadRequest, http.StatusCode);
            Assert.Contains("\"code\":-32021", http.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(McpErrorCode.MissingRequiredClientCapability, Assert.IsAssignableFrom<McpProtocolException>(error).ErrorCode);
        }

        AssertNothingUnhandled();
    }

    [Theory]
    [InlineData("conf", false)]
    [InlineData("confhttp", false)]
    [InlineData("conf", true)]
    public async Task ToolNeedingACapability_ForARaw2026Request_IsHttp400WithTheRequiredCapabilities_AndRunsOnceItIsDeclared(string server, bool stateless)
    {
        Uri endpoint = stateless ? fixture.StatelessGateway.Endpoint : fixture.Gateway.Endpoint;
        string tool = server + "_test_missing_capability";

        ModernHttp.Answer refused = await ModernHttp.CallAsync(endpoint, tool, Ct, meta: ModernHttp.Meta());
        ModernHttp.Answer allowed = await ModernHttp.CallAsync(endpoint, tool, Ct, meta: ModernHttp.Meta(new JsonObject { ["sampling"] = new JsonObject() }));

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal(-32021, refused.Error["code"]!.GetValue<int>());
        Assert.IsType<JsonObject>(refused.Error["data"]?["requiredCapabilities"]?["sampling"]);
        Assert.Equal(HttpStatusCode.OK, allowed.Status);
        Assert.Equal("Success", allowed.Result.Text());
        AssertNothingUnhandled();
    }

    [Theory]
    [InlineData("conf", false)]
    [InlineData("confhttp", false)]
    [InlineData("confhttp", true)]
    public async Task InputRequired_OfA2026Server_ReachesA2026AgentWithTheServersKeys_AndItsRetryCompletesTheCall(string server, bool stateless)
    {
        Uri endpoint = stateless ? fixture.StatelessGateway.Endpoint : fixture.Gateway.Endpoint;
        string tool = server + "_test_input_required_result_elicitation";

        JsonObject asked = (await ModernHttp.CallAsync(endpoint, tool, Ct)).Result;
        JsonObject done = (await ModernHttp.CallAsync(endpoint, tool, Ct, new JsonObject
        {
            ["inputResponses"] = new JsonObject { ["user_name"] = new JsonObject { ["action"] = "accept", ["content"] = new JsonObject { ["name"] = "Ada" } } },
        })).Result;

        Assert.Equal("input_required", asked["resultType"]!.GetValue<string>());
        JsonObject request = Assert.IsType<JsonObject>(asked["inputRequests"]?["user_name"]);
        Assert.Equal(RequestMethods.ElicitationCreate, request["method"]!.GetValue<string>());
        Assert.Equal("What is your name?", request["params"]!["message"]!.GetValue<string>());
        Assert.False(asked.ContainsKey("requestState"), "The server gave no requestState, so the agent must get none: " + asked.ToJsonString());
        Assert.False(asked.ContainsKey("ttlMs") || asked.ContainsKey("cacheScope"), "An interim result is not cacheable: " + asked.ToJsonString());
        Assert.Equal("complete", done["resultType"]!.GetValue<string>());
        Assert.Equal("Hello, Ada!", done.Text());
        AssertNothingUnhandled();
    }

    [Theory]
    [InlineData("conf")]
    [InlineData("confhttp")]
    public async Task InputRequired_OfA2026Server_ReachesA2026AgentWithEveryInputRequestOfTheRound(string server)
    {
        string tool = server + "_test_input_required_result_multiple_inputs";

        JsonObject asked = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct)).Result;
        JsonObject done = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, new JsonObject
        {
            ["requestState"] = asked["requestState"]!.DeepClone(),
            ["inputResponses"] = new JsonObject
            {
                ["user_name"] = new JsonObject { ["action"] = "accept", ["content"] = new JsonObject { ["name"] = "Ada" } },
                ["greeting"] = new JsonObject { ["role"] = "assistant", ["content"] = new JsonObject { ["type"] = "text", ["text"] = "Hi" }, ["model"] = "m" },
                ["client_roots"] = new JsonObject { ["roots"] = new JsonArray(new JsonObject { ["uri"] = Root }) },
            },
        })).Result;

        JsonObject requests = asked["inputRequests"]!.AsObject();
        Assert.Equal(["client_roots", "greeting", "user_name"], requests.Select(r => r.Key).Order(StringComparer.Ordinal));
        Assert.Equal(RequestMethods.RootsList, requests["client_roots"]!["method"]!.GetValue<string>());
        Assert.Equal(RequestMethods.SamplingCreateMessage, requests["greeting"]!["method"]!.GetValue<string>());
        Assert.Equal("Name: Ada; Greeting: Hi; Roots: 1", done.Text());
        AssertNothingUnhandled();
    }

    [Fact]
    public async Task RequestState_OfA2026Server_StaysWithTheGateway_AndTheAgentsKeyServesOneRetryOfTheSameAgentAndTool()
    {
        // The server sees one client for every agent, so the gateway binds the state it hands out: another agent,
        // another tool, or a second use of the same key gets the error an unknown state gets.
        const string tool = "conf_test_input_required_result_request_state";
        var confirm = new JsonObject { ["confirm"] = new JsonObject { ["action"] = "accept", ["content"] = new JsonObject { ["ok"] = true } } };

        async Task<string> AskAsync() => (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct)).Result["requestState"]!.GetValue<string>();
        JsonObject Retry(string state) => new() { ["requestState"] = state, ["inputResponses"] = confirm.DeepClone() };

        string forOutsider = await AskAsync();
        ModernHttp.Answer byOutsider = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, Retry(forOutsider), ProtocolGateway.Outsider);
        string forOtherTool = await AskAsync();
        ModernHttp.Answer onOtherTool = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, "conf_test_input_required_result_tampered_state", Ct, Retry(forOtherTool));
        string state = await AskAsync();
        ModernHttp.Answer retried = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, Retry(state));
        ModernHttp.Answer replayed = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, Retry(state));

        Assert.DoesNotContain("request-state", state, StringComparison.Ordinal);
        Assert.Equal("state-ok: requestState validated", retried.Result.Text());
        foreach (ModernHttp.Answer refused in new[] { byOutsider, onOtherTool, replayed })
        {
            Assert.Equal(-32602, refused.Error["code"]!.GetValue<int>());
            Assert.Contains("requestState is unknown", refused.Error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        AssertNothingUnhandled();
    }

    [Fact]
    public async Task RequestState_ThroughExecuteTool_IsBoundToTheServerAndToolItRuns()
    {
        // execute_tool names the server and tool in its arguments: a state one server gave must not reach another.
        static JsonObject Execute(string server, JsonObject? extra = null)
        {
            var call = new JsonObject { ["arguments"] = new JsonObject { ["server"] = server, ["tool"] = "test_input_required_result_request_state" } };
            foreach ((string key, JsonNode? value) in extra ?? [])
            {
                call[key] = value?.DeepClone();
            }

            return call;
        }

        var confirm = new JsonObject { ["confirm"] = new JsonObject { ["action"] = "accept", ["content"] = new JsonObject { ["ok"] = true } } };
        string first = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, "execute_tool", Ct, Execute("conf"))).Result["requestState"]!.GetValue<string>();
        ModernHttp.Answer elsewhere = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, "execute_tool", Ct, Execute("confhttp", new JsonObject { ["requestState"] = first, ["inputResponses"] = confirm.DeepClone() }));
        string second = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, "execute_tool", Ct, Execute("conf"))).Result["requestState"]!.GetValue<string>();
        ModernHttp.Answer same = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, "execute_tool", Ct, Execute("conf", new JsonObject { ["requestState"] = second, ["inputResponses"] = confirm.DeepClone() }));

        Assert.Equal(-32602, elsewhere.Error["code"]!.GetValue<int>());
        Assert.Equal("state-ok: requestState validated", same.Result.Text());
        AssertNothingUnhandled();
    }

    [Fact]
    public async Task InputRequired_OverSeveralRounds_EachRoundsStateReachesTheServer()
    {
        const string tool = "confhttp_test_input_required_result_multi_round";
        static JsonObject Answer(string key, string field, string value) =>
            new() { [key] = new JsonObject { ["action"] = "accept", ["content"] = new JsonObject { [field] = value } } };

        JsonObject first = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct)).Result;
        JsonObject second = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, new JsonObject { ["requestState"] = first["requestState"]!.DeepClone(), ["inputResponses"] = Answer("step1", "name", "Ada") })).Result;
        JsonObject done = (await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, new JsonObject { ["requestState"] = second["requestState"]!.DeepClone(), ["inputResponses"] = Answer("step2", "color", "green") })).Result;

        Assert.True(first["inputRequests"]!.AsObject().ContainsKey("step1"), first.ToJsonString());
        Assert.True(second["inputRequests"]!.AsObject().ContainsKey("step2"), second.ToJsonString());
        Assert.NotEqual(first["requestState"]!.GetValue<string>(), second["requestState"]!.GetValue<string>());
        Assert.Equal("Multi-round complete for Ada who likes green", done.Text());
        AssertNothingUnhandled();
    }

    [Theory]
    [MemberData(nameof(LinksAndModernServers))]
    public async Task PromptGet_ThatAsksForInput_IsCompletedForEitherAgentEra(AgentLink link, string server)
    {
        var asked = new ConcurrentQueue<string>();
        Agent agent = await fixture.ConnectAsync(link, Handlers(asked));

        JsonObject prompt = await agent.RequestAsync(RequestMethods.PromptsGet, new JsonObject { ["name"] = server + "_test_input_required_result_prompt" }, Ct);

        Assert.Equal("elicitation", Assert.Single(asked));
        Assert.Equal("Prompt with context: Ada Lovelace", prompt["messages"]![0]!["content"]!["text"]!.GetValue<string>());
        AssertNothingUnhandled();
    }

    public static TheoryData<AgentLink, string> LinksAndProgressServers()
    {
        var data = new TheoryData<AgentLink, string>();
        foreach (AgentLink link in ProtocolAgents.AllLinks())
        {
            data.Add(link, "confhttp");
            data.Add(link, "confsession");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LinksAndProgressServers))]
    public async Task Progress_OverEitherDownstreamHttpEra_ReachesTheCallerUnderItsToken_BeforeTheResult(AgentLink link, string server)
    {
        // ProgressTests covers the stdio servers of both eras; these are the Streamable HTTP ones.
        Agent agent = await fixture.ConnectAsync(link);

        JsonRpcResponse response = await agent.CallWithResponseAsync(server + "_test_tool_with_progress", null, Ct, new JsonObject { ["progressToken"] = "matrix" });

        int resultAt = agent.Wire.IndexOfResponse(response.Id);
        var progress = agent.Wire.Messages.Take(resultAt).OfType<JsonRpcNotification>().Where(n => n.Method == NotificationMethods.ProgressNotification).Select(n => (JsonObject)n.Params!).ToList();
        Assert.Equal([0d, 50d, 100d], progress.Select(p => p["progress"]!.GetValue<double>()));
        Assert.All(progress, p => Assert.Equal("matrix", p["progressToken"]!.GetValue<string>()));
        AssertNothingUnhandled();
    }

    [Theory]
    [InlineData("conf")]
    [InlineData("confhttp")]
    public async Task LogMessage_OfA2026Server_ReachesA2026RequestThatNamedALevel_AndNoOtherRequest(string server)
    {
        // 2026-07-28 servers log only for a request that names a level; the gateway passes on the agent's.
        string tool = server + "_test_logging_tool";

        ModernHttp.Answer withLevel = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, meta: ModernHttp.Meta(logLevel: "info"));
        ModernHttp.Answer without = await ModernHttp.CallAsync(fixture.Gateway.Endpoint, tool, Ct, meta: ModernHttp.Meta());

        Assert.Equal("Logging evaluated", withLevel.Result.Text());
        Assert.Single(withLevel.Notifications(NotificationMethods.LoggingMessageNotification));
        Assert.Empty(without.Notifications(NotificationMethods.LoggingMessageNotification));
        AssertNothingUnhandled();
    }

    [Theory]
    [InlineData(AgentLink.Stdio, "conf")]
    [InlineData(AgentLink.Http, "conf")]
    [InlineData(AgentLink.Http, "confhttp")]
    public async Task LogMessage_OfA2026Server_ReachesA2025SessionAtItsLevel(AgentLink link, string server)
    {
        Agent agent = await fixture.ConnectAsync(link);
        await agent.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "info" }, Ct);

        JsonRpcResponse response = await agent.CallWithResponseAsync(server + "_test_logging_tool", null, Ct);

        int resultAt = agent.Wire.IndexOfResponse(response.Id);
        Assert.Contains(agent.Wire.Messages.Take(resultAt), m => m is JsonRpcNotification { Method: NotificationMethods.LoggingMessageNotification });
        AssertNothingUnhandled();
    }

    [Fact]
    public async Task ToolAndPromptListChanges_OfA2026Server_ReachAListenStreamThatAskedForThem_TaggedWithItsSubscription()
    {
        // The fixture's trigger tools really add a tool or a prompt; the gateway learns it on its own listen stream
        // to the server (stdio: the SDK's stateless HTTP server announces no changes of its collections), refreshes,
        // and tells the agent's listen stream, whose view changed.
        Agent listener = await fixture.ConnectAsync(AgentLink.Http2026);
        Agent changer = await fixture.ConnectAsync(AgentLink.Http);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<JsonRpcResponse> listening = listener.SendAsync(
            "subscriptions/listen",
            new JsonObject { ["notifications"] = new JsonObject { ["toolsListChanged"] = true, ["promptsListChanged"] = true } },
            stop.Token);
        try
        {
            await listener.Wire.WaitForNotificationAsync("notifications/subscriptions/acknowledged", _ => true, "the acknowledgement", Ct);
            ProtocolJson.AssertSucceeded(await changer.CallAsync("conf_test_trigger_tool_change", null, Ct));
            JsonObject tools = await listener.Wire.WaitForNotificationAsync(NotificationMethods.ToolListChangedNotification, _ => true, "tools/list_changed on the listen stream", Ct);
            ProtocolJson.AssertSucceeded(await changer.CallAsync("conf_test_trigger_prompt_change", null, Ct));
            JsonObject prompts = await listener.Wire.WaitForNotificationAsync(NotificationMethods.PromptListChangedNotification, _ => true, "prompts/list_changed on the listen stream", Ct);

            Assert.NotNull(tools["_meta"]?["io.modelcontextprotocol/subscriptionId"]);
            Assert.NotNull(prompts["_meta"]?["io.modelcontextprotocol/subscriptionId"]);
            JsonArray listed = (await listener.RequestAsync(RequestMethods.ToolsList, null, Ct))["tools"]!.AsArray();
            Assert.Contains(listed, t => t!["name"]!.GetValue<string>().StartsWith("conf_test_added_tool_", StringComparison.Ordinal));
        }
        finally
        {
            await stop.CancelAsync();
            await ((Task)listening).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        AssertNothingUnhandled();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UnsupportedProtocolVersion_IsHttp400WithTheVersionsServerDiscoverLists_AndTheOneAskedFor(bool stateless)
    {
        Uri endpoint = stateless ? fixture.StatelessGateway.Endpoint : fixture.Gateway.Endpoint;

        JsonObject discovered = (await ModernHttp.SendAsync(endpoint, "server/discover", [], Ct)).Result;
        ModernHttp.Answer refused = await ModernHttp.SendAsync(endpoint, "server/discover", [], Ct, protocolVersion: "1900-01-01", meta: ModernHttp.Meta());

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal(-32022, refused.Error["code"]!.GetValue<int>());
        DirectServers.AssertJsonEqual(discovered["supportedVersions"], refused.Error["data"]!["supported"]);
        Assert.Equal("1900-01-01", refused.Error["data"]!["requested"]!.GetValue<string>());
        Assert.Equal(0, discovered["ttlMs"]!.GetValue<long>());
        Assert.Equal("private", discovered["cacheScope"]!.GetValue<string>());
        AssertNothingUnhandled();
    }

    [Fact]
    public async Task SessionEndingUnderItsOwnRequests_AnswersThem404OrNormally_AndNothingReachesTheHostUnhandled()
    {
        // A DELETE racing the session's other requests made the SDK throw ObjectDisposedException ('StreamableHttpSession')
        // or ChannelClosedException into Kestrel; every request must get an answer instead (the race is not forced, so
        // many rounds are run; a round shows the problem about once in a few hundred).
        using var http = new HttpClient();
        var statuses = new ConcurrentBag<HttpStatusCode>();
        for (int round = 0; round < 150; round++)
        {
            using HttpResponseMessage? initialized = await PostAsync(http, null, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"race","version":"1"}}}""");
            if (initialized?.Headers.TryGetValues("Mcp-Session-Id", out IEnumerable<string>? ids) != true)
            {
                continue;
            }

            string session = ids!.Single();
            Task<HttpResponseMessage?>[] racing =
            [
                PostAsync(http, session, """{"jsonrpc":"2.0","method":"notifications/initialized"}"""),
                PostAsync(http, session, """{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}"""),
                SendAsync(http, HttpMethod.Delete, session),
                SendAsync(http, HttpMethod.Get, session),
            ];
            foreach (HttpResponseMessage? response in await Task.WhenAll(racing))
            {
                if (response is not null)
                {
                    statuses.Add(response.StatusCode);
                    response.Dispose();
                }
            }
        }

        AssertNothingUnhandled();
        Assert.DoesNotContain(HttpStatusCode.InternalServerError, statuses);

        async Task<HttpResponseMessage?> PostAsync(HttpClient client, string? session, string json)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Gateway.Endpoint) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
            return await SendRequestAsync(client, request, session);
        }

        async Task<HttpResponseMessage?> SendAsync(HttpClient client, HttpMethod method, string session)
        {
            using var request = new HttpRequestMessage(method, fixture.Gateway.Endpoint);
            return await SendRequestAsync(client, request, session);
        }

        // Null when the connection broke: a client-side outcome, neither an answer nor a failure of the host.
        static async Task<HttpResponseMessage?> SendRequestAsync(HttpClient client, HttpRequestMessage request, string? session)
        {
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/event-stream");
            request.Headers.Add("X-Agent-Id", ProtocolGateway.Tester);

            // A connection of its own per request: a GET stream left unread closes its connection, which must not be
            // the one the next round's initialize goes out on.
            request.Headers.ConnectionClose = true;
            if (session is not null)
            {
                request.Headers.Add("Mcp-Session-Id", session);
                request.Headers.Add("MCP-Protocol-Version", ProtocolAgents.Legacy);
            }

            // Headers only: a GET's event stream stays open, and the session's end is what closes it.
            try
            {
                return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }
    }

    private void AssertNothingUnhandled()
    {
        IReadOnlyList<string> unhandled = [.. fixture.Gateway.Logs.Unhandled, .. fixture.StatelessGateway.Logs.Unhandled];
        Assert.True(unhandled.Count == 0, "Reached the host unhandled:" + Environment.NewLine + string.Join(Environment.NewLine, unhandled));
    }

    /// <summary>Handlers that record what they were asked, and answer so the tool result shows it was them.</summary>
    private static McpClientHandlers Handlers(ConcurrentQueue<string> asked) => new()
    {
        SamplingHandler = (request, _, _) =>
        {
            asked.Enqueue("sampling");
            string prompt = string.Concat(request!.Messages.SelectMany(m => m.Content).OfType<TextContentBlock>().Select(b => b.Text));
            return ValueTask.FromResult(new CreateMessageResult
            {
                Content = [new TextContentBlock { Text = "answer to " + (prompt.Contains(Marker, StringComparison.Ordinal) ? Marker : prompt) }],
                Model = "test-model",
                Role = Role.Assistant,
            });
        },
        ElicitationHandler = (request, _) =>
        {
            asked.Enqueue("elicitation");
            var content = new Dictionary<string, JsonElement>();
            foreach ((string field, ElicitRequestParams.PrimitiveSchemaDefinition schema) in request!.RequestedSchema?.Properties ?? new Dictionary<string, ElicitRequestParams.PrimitiveSchemaDefinition>())
            {
                if (schema is ElicitRequestParams.StringSchema)
                {
                    content[field] = JsonSerializer.SerializeToElement(field == "email" ? "ada@example.com" : "Ada Lovelace");
                }
            }

            return ValueTask.FromResult(new ElicitResult { Action = "accept", Content = content });
        },
        RootsHandler = (_, _) =>
        {
            asked.Enqueue("roots");
            return ValueTask.FromResult(new ListRootsResult { Roots = [new Root { Uri = Root, Name = "workspace" }] });
        },
    };
}
