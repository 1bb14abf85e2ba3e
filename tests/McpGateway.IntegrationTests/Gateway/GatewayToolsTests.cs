using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Gateway;

/// <summary>
/// A gateway whose servers carry secrets (an env value, a header value) and whose agent may use three of five
/// servers, with some tools denied: server-everything, the fixture, a remote server that never connects, a denied
/// remote server and a disabled one. A client connected to server-everything directly gives reference results.
/// </summary>
public sealed class GatewayToolsGateway : IAsyncLifetime
{
    public const string Agent = "agent";
    public const string EnvSecret = "env-secret-7f3a9c41";
    public const string HeaderSecret = "header-secret-51be0d77";
    public const string RemoteUrl = "http://127.0.0.1:1/mcp";
    public const string HiddenUrl = "http://127.0.0.1:1/hidden-mcp";

    public static readonly string[] PermittedEverythingTools =
    [
        "echo", "get-annotated-message", "get-resource-links", "get-resource-reference", "get-structured-content",
        "get-sum", "get-tiny-image", "trigger-long-running-operation",

        // Listed because the gateway offers downstream servers sampling, elicitation and roots on its agents' behalf.
        "get-roots-list", "trigger-elicitation-request", "trigger-url-elicitation", "trigger-sampling-request",
        "simulate-research-query",
    ];

    public static readonly string[] PermittedFixtureTools = ["echo_args", "slow", "fail", "protocol_error", "a_b", "rich"];

    private const string Rules = """
        {
          "agents": {
            "agent": {
              "allow": { "servers": ["everything", "fixture", "remote", "off"] },
              "deny": { "tools": { "everything": ["get-env", "gzip-*", "toggle-*"], "fixture": ["crash", "pid"] } }
            }
          }
        }
        """;

    internal InProcessGateway Gateway { get; private set; } = null!;

    /// <summary>A client on the gateway acting as <see cref="Agent"/>.</summary>
    internal McpClient Agents { get; private set; } = null!;

    internal McpClient DirectEverything { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        JsonObject everything = TestServers.Everything();
        everything["description"] = "The MCP reference server with one of everything.";
        everything["env"] = new JsonObject { ["EVERYTHING_TOKEN"] = EnvSecret };
        JsonObject fixture = TestServers.Fixture();
        fixture["description"] = "The test fixture.";
        JsonObject off = TestServers.Fixture();
        off["description"] = "Switched off.";
        off["enabled"] = false;
        string servers = TestServers.File(
            ("everything", everything),
            ("fixture", fixture),
            ("remote", Remote(RemoteUrl, "A remote server that is down.")),
            ("hidden", Remote(HiddenUrl, "A remote server this agent may not use.")),
            ("off", off));

        Task<InProcessGateway> gateway = InProcessGateway.StartAsync(servers, Rules, cancellationToken: ct);
        Task<McpClient> direct = DirectServers.EverythingAsync(ct);
        try
        {
            await Task.WhenAll(gateway, direct);
        }
        finally
        {
            // Keep whatever did start, so that DisposeAsync stops it even when the other part failed.
            Gateway = gateway.IsCompletedSuccessfully ? gateway.Result : null!;
            DirectEverything = direct.IsCompletedSuccessfully ? direct.Result : null!;
        }

        Agents = await Gateway.ConnectAsync(ServedTransport.Http, Agent, cancellationToken: ct);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable? started in (IAsyncDisposable?[])[DirectEverything, Gateway])
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }
    }

    private static JsonObject Remote(string url, string description) => new()
    {
        ["url"] = url,
        ["headers"] = new JsonObject { ["Authorization"] = "Bearer " + HeaderSecret },
        ["description"] = description,
    };
}

/// <summary>list_servers, get_server_tools and execute_tool (DESIGN §5): the same policy as listing and calling, nothing hidden revealed.</summary>
public sealed class GatewayToolsTests(GatewayToolsGateway fixture) : IClassFixture<GatewayToolsGateway>
{
    private static readonly JsonSerializerOptions s_readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Fact]
    public async Task ListServers_ListsOnlyPermittedEnabledServers_WithDescriptionsAndPermittedToolCounts()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonArray servers = (await CallAsync("list_servers", [], ct))["servers"]!.AsArray();

        Assert.Equal(["everything", "fixture", "remote"], servers.Select(s => s!["name"]!.GetValue<string>()));
        Assert.Equal(
            ["The MCP reference server with one of everything.", "The test fixture.", "A remote server that is down."],
            servers.Select(s => s!["description"]!.GetValue<string>()));
        Assert.Equal(
            [GatewayToolsGateway.PermittedEverythingTools.Length, GatewayToolsGateway.PermittedFixtureTools.Length, 0],
            servers.Select(s => s!["tools"]!.GetValue<int>()));
        Assert.Equal([true, true, false], servers.Select(s => s!["available"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task GatewayTools_NeverRevealCommandsArgumentsUrlsOrSecrets()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var answers = new List<JsonObject>
        {
            await fixture.Agents.CallRawAsync("list_servers", [], ct),
            await fixture.Agents.CallRawAsync("get_server_tools", new JsonObject { ["server"] = "nope" }, ct),
        };
        foreach (string server in (string[])["everything", "fixture", "remote", "hidden", "off"])
        {
            answers.Add(await fixture.Agents.CallRawAsync("get_server_tools", new JsonObject { ["server"] = server }, ct));
            answers.Add(await fixture.Agents.CallRawAsync("get_server_tools", new JsonObject { ["server"] = server, ["max_schema_tokens"] = 1 }, ct));
            answers.Add(await fixture.Agents.CallRawAsync("execute_tool", new JsonObject { ["server"] = server, ["tool"] = "nope" }, ct));
        }

        string all = string.Join(Environment.NewLine, answers.Select(a => a.ToJsonString(s_readable)));

        Assert.DoesNotContain(GatewayToolsGateway.EnvSecret, all, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayToolsGateway.HeaderSecret, all, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1:1", all, StringComparison.Ordinal);
        Assert.DoesNotContain(RepoPaths.ReferenceServer("everything"), all, StringComparison.Ordinal);
        Assert.DoesNotContain(RepoPaths.FixtureServer, all, StringComparison.Ordinal);
        Assert.DoesNotContain("node_modules", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_NeverContainTheSecretValuesOfEnvOrHeaders()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await CallAsync("list_servers", [], ct);

        string logs = fixture.Gateway.Logs.All;

        Assert.DoesNotContain(GatewayToolsGateway.EnvSecret, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayToolsGateway.HeaderSecret, logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetServerTools_WithoutFilters_ReturnsExactlyThePermittedTools()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject result = await CallAsync("get_server_tools", new JsonObject { ["server"] = "everything" }, ct);

        Assert.Equal(GatewayToolsGateway.PermittedEverythingTools.Order(StringComparer.Ordinal), ToolNames(result).Order(StringComparer.Ordinal));
        Assert.Equal(GatewayToolsGateway.PermittedEverythingTools.Length, result["returned"]!.GetValue<int>());
        Assert.Null(result["omitted_for_budget"]);
        foreach (JsonNode? tool in result["tools"]!.AsArray())
        {
            Assert.Equal("everything_" + tool!["name"]!.GetValue<string>(), tool["exposed_name"]!.GetValue<string>());
            Assert.Equal("object", tool["inputSchema"]!["type"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task GetServerTools_Names_ReturnsOnlyTheNamedPermittedTools()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject result = await CallAsync(
            "get_server_tools",
            new JsonObject { ["server"] = "everything", ["names"] = new JsonArray("get-sum", "echo", "no-such-tool", "get-env") },
            ct);

        Assert.Equal(["echo", "get-sum"], ToolNames(result).Order(StringComparer.Ordinal));
        Assert.Equal(2, result["returned"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("get-*", new[] { "get-annotated-message", "get-resource-links", "get-resource-reference", "get-roots-list", "get-structured-content", "get-sum", "get-tiny-image" })]
    [InlineData("*-image", new[] { "get-tiny-image" })]
    [InlineData("get-?um", new[] { "get-sum" })]
    [InlineData("toggle-*", new string[0])]
    public async Task GetServerTools_Pattern_ReturnsThePermittedToolsMatchingTheGlob(string pattern, string[] expected)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject result = await CallAsync("get_server_tools", new JsonObject { ["server"] = "everything", ["pattern"] = pattern }, ct);

        Assert.Equal(expected, ToolNames(result).Order(StringComparer.Ordinal));
        Assert.Equal(expected.Length, result["returned"]!.GetValue<int>());
    }

    [Fact]
    public async Task GetServerTools_MaxSchemaTokens_ReturnsWhatFitsAndNamesTheRestInOmittedForBudget()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string[] permitted = [.. GatewayToolsGateway.PermittedEverythingTools.Order(StringComparer.Ordinal)];
        JsonObject everything = await CallAsync("get_server_tools", new JsonObject { ["server"] = "everything", ["max_schema_tokens"] = 1_000_000 }, ct);
        long total = everything["estimated_schema_tokens"]!.GetValue<long>();

        JsonObject half = await CallAsync("get_server_tools", new JsonObject { ["server"] = "everything", ["max_schema_tokens"] = total / 2 }, ct);
        JsonObject none = await CallAsync("get_server_tools", new JsonObject { ["server"] = "everything", ["max_schema_tokens"] = 1 }, ct);

        Assert.Equal(permitted, ToolNames(everything).Order(StringComparer.Ordinal));
        Assert.Null(everything["omitted_for_budget"]);

        string[] returned = ToolNames(half);
        string[] omitted = [.. half["omitted_for_budget"]!.AsArray().Select(n => n!.GetValue<string>())];
        Assert.NotEmpty(returned);
        Assert.NotEmpty(omitted);
        Assert.Equal(returned.Length, half["returned"]!.GetValue<int>());
        Assert.Equal(permitted, returned.Concat(omitted).Order(StringComparer.Ordinal));
        Assert.InRange(half["estimated_schema_tokens"]!.GetValue<long>(), 1, total / 2);

        Assert.Empty(ToolNames(none));
        Assert.Equal(0, none["returned"]!.GetValue<int>());
        Assert.Equal(permitted, none["omitted_for_budget"]!.AsArray().Select(n => n!.GetValue<string>()).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("names")]
    [InlineData("pattern")]
    public async Task GetServerTools_AskingForADeniedTool_AnswersExactlyAsForANonexistentTool(string filter)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        JsonObject Ask(string tool) => new() { ["server"] = "everything", [filter] = filter == "names" ? new JsonArray(tool) : tool };

        JsonObject denied = await fixture.Agents.CallRawAsync("get_server_tools", Ask("get-env"), ct);
        JsonObject unknown = await fixture.Agents.CallRawAsync("get_server_tools", Ask("no-such-tool"), ct);

        DirectServers.AssertJsonEqual(unknown, denied);
        Assert.Equal(0, denied["structuredContent"]!["returned"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("hidden")]
    [InlineData("off")]
    public async Task GetServerTools_DeniedOrDisabledServer_GetsTheSameErrorAsAnUnknownServer(string server)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject denied = await fixture.Agents.CallRawAsync("get_server_tools", new JsonObject { ["server"] = server }, ct);
        JsonObject unknown = await fixture.Agents.CallRawAsync("get_server_tools", new JsonObject { ["server"] = "nope" }, ct);

        Assert.True(denied["isError"]!.GetValue<bool>());
        Assert.Equal(GatewayTools.UnknownServerMessage(server), denied.FirstText());
        DirectServers.AssertJsonEqual(Renamed(unknown, "nope", server), denied);
    }

    public static TheoryData<string, string> EverythingCalls() => new()
    {
        { "get-annotated-message", """{ "messageType": "error", "includeImage": true }""" },
        { "get-structured-content", """{ "location": "Chicago" }""" },
        { "get-resource-links", """{ "count": 3 }""" },
        { "get-tiny-image", "{}" },
        { "get-sum", """{ "a": "not a number", "b": 2 }""" },
    };

    [Theory]
    [MemberData(nameof(EverythingCalls))]
    public async Task ExecuteTool_ReturnsTheDownstreamResultUnchanged(string tool, string argumentsJson)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject direct = await fixture.DirectEverything.CallRawAsync(tool, JsonNode.Parse(argumentsJson)!.AsObject(), ct);
        JsonObject executed = await fixture.Agents.CallRawAsync(
            "execute_tool",
            new JsonObject { ["server"] = "everything", ["tool"] = tool, ["args"] = JsonNode.Parse(argumentsJson) },
            ct);

        DirectServers.AssertJsonEqual(direct, executed);
    }

    [Fact]
    public async Task ExecuteTool_JsonRpcErrorFromTheServer_ReachesTheAgentWithItsCodeAndMessage()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        McpProtocolException? error = await fixture.Agents.CallErrorAsync(
            "execute_tool",
            new JsonObject { ["server"] = "fixture", ["tool"] = "protocol_error", ["args"] = new JsonObject { ["message"] = "it broke" } },
            ct);

        Assert.NotNull(error);
        Assert.Equal((McpErrorCode)(-32050), error.ErrorCode);
        Assert.Equal("it broke", error.RemoteMessage());
    }

    [Theory]
    [InlineData("everything", "get-env")]
    [InlineData("everything", "toggle-simulated-logging")]
    [InlineData("fixture", "pid")]
    [InlineData("fixture", "bad_schema")]
    public async Task ExecuteTool_DeniedTool_GetsTheSameErrorAsAnUnknownTool(string server, string tool)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject denied = await fixture.Agents.CallRawAsync("execute_tool", new JsonObject { ["server"] = server, ["tool"] = tool }, ct);
        JsonObject unknown = await fixture.Agents.CallRawAsync("execute_tool", new JsonObject { ["server"] = server, ["tool"] = "no-such-tool" }, ct);

        Assert.True(denied["isError"]!.GetValue<bool>());
        Assert.Equal(GatewayTools.UnknownToolMessage(server, tool), denied.FirstText());
        DirectServers.AssertJsonEqual(Renamed(unknown, "no-such-tool", tool), denied);
    }

    [Theory]
    [InlineData("hidden")]
    [InlineData("off")]
    public async Task ExecuteTool_DeniedOrDisabledServer_GetsTheSameErrorAsAnUnknownServer(string server)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject denied = await fixture.Agents.CallRawAsync("execute_tool", new JsonObject { ["server"] = server, ["tool"] = "echo_args" }, ct);
        JsonObject unknown = await fixture.Agents.CallRawAsync("execute_tool", new JsonObject { ["server"] = "nope", ["tool"] = "echo_args" }, ct);

        Assert.True(denied["isError"]!.GetValue<bool>());
        Assert.Equal(GatewayTools.UnknownServerMessage(server), denied.FirstText());
        DirectServers.AssertJsonEqual(Renamed(unknown, "nope", server), denied);
    }

    [Fact]
    public async Task ExecuteTool_TimeoutMs_FailsASlowCallWithATimeoutError_AndTheServerStaysUsable()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        McpProtocolException? error = await fixture.Agents.CallErrorAsync(
            "execute_tool",
            new JsonObject { ["server"] = "fixture", ["tool"] = "slow", ["args"] = new JsonObject { ["ms"] = 30_000 }, ["timeout_ms"] = 200 },
            ct);

        Assert.NotNull(error);
        Assert.Contains("timed out", error.RemoteMessage(), StringComparison.Ordinal);
        Assert.Contains("'fixture'", error.RemoteMessage(), StringComparison.Ordinal);
        JsonObject after = await CallAsync("execute_tool", new JsonObject { ["server"] = "fixture", ["tool"] = "echo_args", ["args"] = new JsonObject { ["n"] = 1 } }, ct);
        DirectServers.AssertJsonEqual(new JsonObject { ["n"] = 1 }, after["arguments"]);
    }

    [Theory]
    [InlineData(5_000_000_000L)]
    [InlineData(long.MaxValue)]
    public async Task ExecuteTool_TimeoutMsBeyondWhatATimerAccepts_IsAnsweredAsAnInvalidArgumentOrHonoured(long timeoutMs)
    {
        // Both pass the "positive whole number" check, but 5e9 ms (58 days) is more than CancellationTokenSource.CancelAfter
        // accepts (2^32-2 ms) and long.MaxValue ms is more than a TimeSpan holds: the agent must get a usable answer,
        // not the SDK's bare "An error occurred.".
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject result;
        try
        {
            result = await fixture.Agents.CallRawAsync(
                "execute_tool",
                new JsonObject { ["server"] = "fixture", ["tool"] = "echo_args", ["args"] = new JsonObject { ["n"] = 1 }, ["timeout_ms"] = timeoutMs },
                ct);
        }
        catch (McpProtocolException ex)
        {
            Assert.Fail($"execute_tool with a large timeout_ms failed with a JSON-RPC error: {ex.ErrorCode} {ex.RemoteMessage()}");
            return;
        }

        if (result["isError"]?.GetValue<bool>() == true)
        {
            Assert.Contains("timeout_ms", result.FirstText(), StringComparison.Ordinal);
        }
        else
        {
            DirectServers.AssertJsonEqual(new JsonObject { ["n"] = 1 }, result["structuredContent"]!["arguments"]);
        }
    }

    [Fact]
    public async Task ExecuteTool_AgentIdInArgs_IsRemovedBeforeForwarding()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject echoed = await CallAsync(
            "execute_tool",
            new JsonObject
            {
                ["server"] = "fixture",
                ["tool"] = "echo_args",
                ["agent_id"] = GatewayToolsGateway.Agent,
                ["args"] = new JsonObject { ["x"] = 1, ["agent_id"] = GatewayToolsGateway.Agent, ["nested"] = new JsonObject { ["agent_id"] = "data, not identity" } },
            },
            ct);

        DirectServers.AssertJsonEqual(JsonNode.Parse("""{ "x": 1, "nested": { "agent_id": "data, not identity" } }"""), echoed["arguments"]);
    }

    [Fact]
    public async Task CallTool_AgentIdArgument_IsRemovedBeforeForwarding()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject result = await fixture.Agents.CallRawAsync(
            "fixture_echo_args",
            new JsonObject { ["x"] = 1, ["agent_id"] = GatewayToolsGateway.Agent },
            ct);

        DirectServers.AssertJsonEqual(new JsonObject { ["x"] = 1 }, result["structuredContent"]!["arguments"]);
    }

    /// <summary>Calls a gateway tool that must succeed; returns its structuredContent.</summary>
    private async Task<JsonObject> CallAsync(string tool, JsonObject arguments, CancellationToken ct)
    {
        JsonObject result = await fixture.Agents.CallRawAsync(tool, arguments, ct);
        Assert.False(result["isError"]?.GetValue<bool>() == true, $"{tool} failed: {result.ToJsonString()}");
        return result["structuredContent"]!.AsObject();
    }

    private static string[] ToolNames(JsonObject getServerToolsResult) =>
        [.. getServerToolsResult["tools"]!.AsArray().Select(t => t!["name"]!.GetValue<string>())];

    /// <summary>The answer given for <paramref name="from"/>, as it would read had the agent asked for <paramref name="to"/>.</summary>
    private static JsonNode Renamed(JsonObject answer, string from, string to) =>
        JsonNode.Parse(answer.ToJsonString(s_readable).Replace($"'{from}'", $"'{to}'", StringComparison.Ordinal))!;
}
