using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Gateway;

/// <summary>
/// A gateway in front of server-everything and the fixture, an agent allowed everything, and clients connected to the
/// same two servers directly: the same request made both ways must get the same JSON, apart from the tool name.
/// </summary>
public sealed class FidelityGateway : IAsyncLifetime
{
    public const string Agent = "tester";

    private const string Rules = """{ "agents": { "tester": { "allow": { "servers": ["*"] } } } }""";

    internal InProcessGateway Gateway { get; private set; } = null!;

    /// <summary>A client on the gateway acting as <see cref="Agent"/>.</summary>
    internal McpClient Agents { get; private set; } = null!;

    internal McpClient DirectEverything { get; private set; } = null!;

    internal McpClient DirectFixture { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string servers = TestServers.File(("everything", TestServers.Everything()), ("fixture", TestServers.Fixture()));
        Task<InProcessGateway> gateway = InProcessGateway.StartAsync(servers, Rules, cancellationToken: ct);
        Task<McpClient> everything = DirectServers.EverythingAsync(ct);
        Task<McpClient> fixture = DirectServers.FixtureAsync(ct);
        try
        {
            await Task.WhenAll(gateway, everything, fixture);
        }
        finally
        {
            // Keep whatever did start, so that DisposeAsync stops it even when another part failed.
            Gateway = gateway.IsCompletedSuccessfully ? gateway.Result : null!;
            DirectEverything = everything.IsCompletedSuccessfully ? everything.Result : null!;
            DirectFixture = fixture.IsCompletedSuccessfully ? fixture.Result : null!;
        }

        Agents = await Gateway.ConnectAsync(ServedTransport.Http, Agent, cancellationToken: ct);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable? started in (IAsyncDisposable?[])[DirectEverything, DirectFixture, Gateway])
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }
    }
}

/// <summary>Tool definitions and results pass through the gateway unchanged apart from the tool name (DESIGN §5, fidelity).</summary>
public sealed partial class FidelityTests(FidelityGateway fixture) : IClassFixture<FidelityGateway>
{
    public static TheoryData<string, string> EverythingCalls() => new()
    {
        { "get-annotated-message", """{ "messageType": "success", "includeImage": true }""" },
        { "get-annotated-message", """{ "messageType": "error", "includeImage": true }""" },
        { "get-tiny-image", "{}" },
        { "get-resource-links", """{ "count": 3 }""" },
        { "get-resource-reference", "{}" },
        { "get-structured-content", """{ "location": "Chicago" }""" },
        { "get-sum", """{ "a": 2, "b": 3 }""" },
    };

    [Theory]
    [MemberData(nameof(EverythingCalls))]
    public async Task CallTool_EverythingResult_IsTheSameThroughTheGatewayAsDirect(string tool, string argumentsJson)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject direct = await fixture.DirectEverything.CallRawAsync(tool, Arguments(argumentsJson), ct);
        JsonObject proxied = await fixture.Agents.CallRawAsync("everything_" + tool, Arguments(argumentsJson), ct);

        DirectServers.AssertJsonEqual(WithoutCallTime(direct), WithoutCallTime(proxied));
    }

    [Theory]
    [InlineData("success")]
    [InlineData("error")]
    public async Task CallTool_AnnotatedMessageThroughGateway_KeepsContentAnnotations_GuardsSdk240AnnotationsDefect(string messageType)
    {
        // SDK 2.4.0 throws "Cannot insert the values of 'TypeInfoResolver'" on any content block with annotations, on
        // the client and when a server serialises a typed result: a gateway that let a typed model touch this result
        // would fail the call or drop the annotations.
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject result = await fixture.Agents.CallRawAsync(
            "everything_get-annotated-message",
            new JsonObject { ["messageType"] = messageType, ["includeImage"] = true },
            ct);

        JsonArray content = result["content"]!.AsArray();
        Assert.Equal(2, content.Count);
        Assert.Equal("text", content[0]!["type"]!.GetValue<string>());
        Assert.NotNull(content[0]!["annotations"]!["priority"]);
        Assert.NotEmpty(content[0]!["annotations"]!["audience"]!.AsArray());
        Assert.Equal("image", content[1]!["type"]!.GetValue<string>());
        DirectServers.AssertJsonEqual(JsonNode.Parse("""{"priority": 0.5, "audience": ["user"]}"""), content[1]!["annotations"]);
        Assert.Null(result["isError"]);
    }

    [Fact]
    public async Task CallTool_ToolThatFails_ReachesTheAgentAsTheSameIsErrorResult()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var arguments = new JsonObject { ["a"] = "not a number", ["b"] = 2 };

        JsonObject direct = await fixture.DirectEverything.CallRawAsync("get-sum", arguments.DeepClone().AsObject(), ct);
        JsonObject proxied = await fixture.Agents.CallRawAsync("everything_get-sum", arguments.DeepClone().AsObject(), ct);

        Assert.True(direct["isError"]!.GetValue<bool>());
        DirectServers.AssertJsonEqual(direct, proxied);
    }

    [Fact]
    public async Task CallTool_EverythingJsonRpcError_ReachesTheAgentWithTheSameCodeAndMessage()
    {
        // server-everything answers most failures with isError results; an invalid 'task' field is one of the few
        // requests it answers with a JSON-RPC error (-32603, a multi-line validation message).
        CancellationToken ct = TestContext.Current.CancellationToken;
        JsonObject Params(string name) => new() { ["name"] = name, ["arguments"] = new JsonObject { ["a"] = 1, ["b"] = 2 }, ["task"] = 5 };

        McpProtocolException? direct = await fixture.DirectEverything.CallWithParamsErrorAsync(Params("get-sum"), ct);
        McpProtocolException? proxied = await fixture.Agents.CallWithParamsErrorAsync(Params("everything_get-sum"), ct);

        Assert.NotNull(direct);
        Assert.NotNull(proxied);
        Assert.Equal(direct.ErrorCode, proxied.ErrorCode);
        Assert.Equal(direct.RemoteMessage(), proxied.RemoteMessage());
        Assert.DoesNotContain("Request failed (remote)", proxied.RemoteMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallTool_FixtureJsonRpcError_ReachesTheAgentWithItsOwnCodeAndMessage()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        JsonObject Arguments() => new() { ["message"] = "custom failure: \"quoted\"\nsecond line" };

        McpProtocolException? direct = await fixture.DirectFixture.CallErrorAsync("protocol_error", Arguments(), ct);
        McpProtocolException? proxied = await fixture.Agents.CallErrorAsync("fixture_protocol_error", Arguments(), ct);

        Assert.NotNull(direct);
        Assert.NotNull(proxied);
        Assert.Equal((McpErrorCode)(-32050), direct.ErrorCode);
        Assert.Equal(direct.ErrorCode, proxied.ErrorCode);
        Assert.Equal("custom failure: \"quoted\"\nsecond line", proxied.RemoteMessage());
        Assert.Equal(direct.Message, proxied.Message);
    }

    [Fact]
    public async Task ListTools_EveryEverythingDefinition_IsTheSameAsDirectApartFromTheName()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonArray direct = await fixture.DirectEverything.ListToolsRawAsync(ct);
        Dictionary<string, JsonNode> proxied = ByName(await fixture.Agents.ListToolsRawAsync(ct));

        Assert.NotEmpty(direct);
        foreach (JsonNode? tool in direct)
        {
            string name = tool!["name"]!.GetValue<string>();
            Assert.True(proxied.TryGetValue("everything_" + name, out JsonNode? exposed), $"everything_{name} is not listed");
            DirectServers.AssertJsonEqual(WithoutName(tool), WithoutName(exposed));
        }

        Assert.Equal(direct.Count, proxied.Keys.Count(k => k.StartsWith("everything_", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ListTools_RichFixtureDefinition_ReachesTheAgentUnchangedApartFromTheName()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonNode direct = ByName(await fixture.DirectFixture.ListToolsRawAsync(ct))["rich"];
        JsonNode exposed = ByName(await fixture.Agents.ListToolsRawAsync(ct))["fixture_rich"];

        DirectServers.AssertJsonEqual(WithoutName(direct), WithoutName(exposed));

        // Spelled out, so the test cannot pass by both sides losing the same field.
        JsonNode schema = exposed["inputSchema"]!;
        Assert.Equal("#/$defs/point", schema["properties"]!["from"]!["$ref"]!.GetValue<string>());
        Assert.NotNull(schema["$defs"]!["point"]);
        Assert.False(schema["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(42, schema["properties"]!["label"]!["x-vendor-keyword"]!.GetValue<int>());
        DirectServers.AssertJsonEqual(JsonNode.Parse("""{"nested": [1, 2.5, "three"]}"""), schema["x-unknown-keyword"]);
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", schema["$schema"]!.GetValue<string>());
        Assert.Equal("""["length"]""", exposed["outputSchema"]!["required"]!.ToJsonString());
        Assert.Equal("kept", exposed["annotations"]!["x-custom-hint"]!.GetValue<string>());
        Assert.True(exposed["annotations"]!["readOnlyHint"]!.GetValue<bool>());
        Assert.Equal("image/png", exposed["icons"]![0]!["mimeType"]!.GetValue<string>());
        Assert.Equal("optional", exposed["execution"]!["taskSupport"]!.GetValue<string>());
        DirectServers.AssertJsonEqual(JsonNode.Parse("""{"example.com/owner": "fixture", "weights": [0.1, 1e-7]}"""), exposed["_meta"]);
        Assert.True(exposed["x-top-level-extension"]!["kept"]!.GetValue<bool>());
        Assert.Equal("Rich definition", exposed["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task GetServerTools_RichFixtureDefinition_IsTheDefinitionTheServerSentPlusItsExposedName()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonNode direct = ByName(await fixture.DirectFixture.ListToolsRawAsync(ct))["rich"];
        JsonObject result = await fixture.Agents.CallRawAsync("get_server_tools", new JsonObject { ["server"] = "fixture", ["names"] = new JsonArray("rich") }, ct);

        JsonObject described = result["structuredContent"]!["tools"]![0]!.DeepClone().AsObject();
        Assert.Equal("fixture_rich", described["exposed_name"]!.GetValue<string>());
        described.Remove("exposed_name");
        DirectServers.AssertJsonEqual(direct, described);
    }

    [Fact]
    public async Task ListTools_MalformedFixtureTool_IsLeftOutWhileTheFixturesOtherToolsAreListed()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        string[] direct = await fixture.DirectFixture.ListToolNamesAsync(ct);
        string[] exposed = await fixture.Agents.ListToolNamesAsync(ct);

        Assert.Contains("bad_schema", direct);
        Assert.DoesNotContain("fixture_bad_schema", exposed);
        string[] expected = [.. direct.Where(n => n != "bad_schema").Select(n => "fixture_" + n).Order(StringComparer.Ordinal)];
        Assert.Equal(expected, exposed.Where(n => n.StartsWith("fixture_", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Contains("bad_schema", fixture.Gateway.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallTool_RichFixtureResult_KeepsStructuredContentAndMeta()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject direct = await fixture.DirectFixture.CallRawAsync("rich", new JsonObject { ["label"] = "x" }, ct);
        JsonObject proxied = await fixture.Agents.CallRawAsync("fixture_rich", new JsonObject { ["label"] = "x" }, ct);

        DirectServers.AssertJsonEqual(direct, proxied);
        Assert.Equal(5, proxied["structuredContent"]!["length"]!.GetValue<int>());
        Assert.Equal("abc", proxied["_meta"]!["example.com/trace"]!.GetValue<string>());
    }

    [Fact]
    public async Task CallTool_ResultMeta_CarriesNoMetadataOfTheGatewaysOwnDownstreamHop()
    {
        // The gateway's client may speak a newer protocol revision to the server than the agent speaks to the gateway;
        // what the server adds for that hop ("io.modelcontextprotocol/" keys such as serverInfo) is not the agent's.
        CancellationToken ct = TestContext.Current.CancellationToken;

        JsonObject proxied = await fixture.Agents.CallRawAsync("fixture_rich", new JsonObject { ["label"] = "x" }, ct);

        string[] keys = [.. proxied["_meta"]!.AsObject().Select(kv => kv.Key)];
        Assert.Equal(["example.com/trace"], keys);
    }

    private static JsonObject Arguments(string json) => JsonNode.Parse(json)!.AsObject();

    private static Dictionary<string, JsonNode> ByName(JsonArray tools) =>
        tools.ToDictionary(t => t!["name"]!.GetValue<string>(), t => t!, StringComparer.Ordinal);

    private static JsonNode WithoutName(JsonNode tool)
    {
        JsonObject copy = tool.DeepClone().AsObject();
        copy.Remove("name");
        return copy;
    }

    /// <summary>
    /// server-everything writes the time of the call (to the second) into embedded resources: the direct and the
    /// proxied call can straddle a second, so the time is blanked on both sides and nothing else.
    /// </summary>
    private static JsonNode WithoutCallTime(JsonObject result)
    {
        JsonNode copy = result.DeepClone();
        foreach (JsonNode? block in copy["content"]?.AsArray() ?? [])
        {
            if (block?["resource"]?["text"] is JsonValue text)
            {
                block["resource"]!["text"] = CallTime().Replace(text.GetValue<string>(), "created at <time>");
            }
        }

        return copy;
    }

    [GeneratedRegex(@"created at \S.*$")]
    private static partial Regex CallTime();
}
