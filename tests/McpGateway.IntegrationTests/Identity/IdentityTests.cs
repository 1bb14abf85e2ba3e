using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Identity;

/// <summary>
/// Gateways in front of the fixture server that differ only in how agents identify themselves, started once for
/// <see cref="IdentityTests"/>. alpha may call echo_args and pid, beta echo_args and a_b, guest (the default agent of
/// <see cref="WithDefaultAgent"/>) only a_b.
/// </summary>
public sealed class IdentityGateways : IAsyncLifetime
{
    public const string Rules = """
        {
          "agents": {
            "alpha": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args", "pid"] } } },
            "beta": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args", "a_b"] } } }
          }
        }
        """;

    public const string RulesWithDefaultAgent = """
        {
          "agents": {
            "alpha": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args", "pid"] } } },
            "beta": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args", "a_b"] } } },
            "guest": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["a_b"] } } }
          },
          "defaults": { "default_agent": "guest" }
        }
        """;

    public static readonly string[] GatewayTools = ["list_servers", "get_server_tools", "execute_tool"];
    public static readonly string[] AlphaTools = [.. GatewayTools, "fixture_echo_args", "fixture_pid"];
    public static readonly string[] BetaTools = [.. GatewayTools, "fixture_echo_args", "fixture_a_b"];
    public static readonly string[] GuestTools = [.. GatewayTools, "fixture_a_b"];

    /// <summary>Default options, no default agent; stateful HTTP and stdio.</summary>
    internal InProcessGateway Default { get; private set; } = null!;

    /// <summary>Default options, no default agent, <c>--stateless</c>.</summary>
    internal InProcessGateway Stateless { get; private set; } = null!;

    /// <summary>Rules with <c>defaults.default_agent</c> = guest.</summary>
    internal InProcessGateway WithDefaultAgent { get; private set; } = null!;

    /// <summary>The identity argument is called <c>caller</c>.</summary>
    internal InProcessGateway CustomArgument { get; private set; } = null!;

    /// <summary>The identity argument is switched off (<c>--no-agent-argument</c>).</summary>
    internal InProcessGateway NoArgument { get; private set; } = null!;

    /// <summary>Acts as alpha for every request (<c>serve --agent alpha</c>).</summary>
    internal InProcessGateway FixedAlpha { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string servers = TestServers.File(("fixture", TestServers.Fixture()));
        InProcessGateway[] gateways = await Task.WhenAll(
            InProcessGateway.StartAsync(servers, Rules, cancellationToken: ct),
            InProcessGateway.StartAsync(servers, Rules, stateless: true, cancellationToken: ct),
            InProcessGateway.StartAsync(servers, RulesWithDefaultAgent, cancellationToken: ct),
            InProcessGateway.StartAsync(servers, Rules, new GatewayOptions { Identity = new() { ArgumentName = "caller" } }, cancellationToken: ct),
            InProcessGateway.StartAsync(servers, Rules, new GatewayOptions { Identity = new() { AcceptArgument = false } }, cancellationToken: ct),
            InProcessGateway.StartAsync(servers, Rules, new GatewayOptions { Identity = new() { FixedAgent = "alpha" } }, cancellationToken: ct));
        (Default, Stateless, WithDefaultAgent, CustomArgument, NoArgument, FixedAlpha) = (gateways[0], gateways[1], gateways[2], gateways[3], gateways[4], gateways[5]);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(
            new[] { Default, Stateless, WithDefaultAgent, CustomArgument, NoArgument, FixedAlpha }
                .Where(g => g is not null)
                .Select(g => g.DisposeAsync().AsTask()));
    }
}

/// <summary>Who a request acts as (DESIGN §4): the argument, the header, the fixed agent, the session and the default agent.</summary>
public sealed class IdentityTests(IdentityGateways gateways) : IClassFixture<IdentityGateways>
{
    public static TheoryData<ServedTransport> AllTransports() => [ServedTransport.Stdio, ServedTransport.Http, ServedTransport.HttpStateless];

    public static TheoryData<ServedTransport> StatefulTransports() => [ServedTransport.Stdio, ServedTransport.Http];

    public static TheoryData<ServedTransport> HttpTransports() => [ServedTransport.Http, ServedTransport.HttpStateless];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task ProxiedCall_AgentArgumentIsRemovedBeforeForwarding(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport);

        JsonObject result = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "alpha", ["text"] = "hi", ["n"] = 1 }, Ct);

        AssertReceived(result, new JsonObject { ["text"] = "hi", ["n"] = 1 });
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task ExecuteTool_AgentArgumentIsRemovedFromTheToolsArgs(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport);

        JsonObject result = await client.CallRawAsync("execute_tool", new JsonObject
        {
            ["agent_id"] = "alpha",
            ["server"] = "fixture",
            ["tool"] = "echo_args",
            ["args"] = new JsonObject { ["agent_id"] = "alpha", ["text"] = "hi" },
        }, Ct);

        AssertReceived(result, new JsonObject { ["text"] = "hi" });
    }

    [Fact]
    public async Task AgentArgumentName_IsConfigurable_AndOnlyThatNameIsRemoved()
    {
        McpClient client = await gateways.CustomArgument.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);

        JsonObject listServers = (JsonObject)(await client.ListToolsRawAsync(Ct)).Single(t => t!["name"]!.GetValue<string>() == "list_servers")!;
        JsonObject result = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["caller"] = "alpha", ["agent_id"] = "someone", ["text"] = "hi" }, Ct);

        JsonObject properties = listServers["inputSchema"]!["properties"]!.AsObject();
        Assert.True(properties.ContainsKey("caller"), properties.ToJsonString());
        Assert.False(properties.ContainsKey("agent_id"), properties.ToJsonString());
        AssertReceived(result, new JsonObject { ["agent_id"] = "someone", ["text"] = "hi" });
        Assert.Equal(IdentityGateways.AlphaTools.Order(), (await client.ListToolNamesAsync(Ct)).Order());
    }

    [Fact]
    public async Task AgentArgumentSwitchedOff_IsForwardedUntouched_AndIsNotAnIdentity()
    {
        McpClient headerClient = await gateways.NoArgument.ConnectAsync(ServedTransport.Http, agentHeader: "alpha", cancellationToken: Ct);
        McpClient anonymous = await gateways.NoArgument.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);

        // beta in the argument neither clashes with the alpha header nor is taken from the payload.
        JsonObject result = await headerClient.CallRawAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "beta", ["text"] = "hi" }, Ct);
        McpProtocolException? error = await anonymous.CallErrorAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "alpha" }, Ct);
        JsonObject listServers = await anonymous.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "alpha" }, Ct);

        AssertReceived(result, new JsonObject { ["agent_id"] = "beta", ["text"] = "hi" });
        Assert.NotNull(error);
        Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
        Assert.Contains("No agent identity", error.RemoteMessage(), StringComparison.Ordinal);
        Assert.True(listServers["isError"]?.GetValue<bool>(), listServers.ToJsonString());
        Assert.Equal(IdentityGateways.GatewayTools.Order(), (await anonymous.ListToolNamesAsync(Ct)).Order());
    }

    [Fact]
    public async Task FixedAgent_AppliesToEveryCall_WithoutAnyIdentityFromTheAgent()
    {
        McpClient client = await gateways.FixedAlpha.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);

        string[] tools = await client.ListToolNamesAsync(Ct);
        JsonObject plain = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "plain" }, Ct);
        JsonObject named = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "alpha", ["text"] = "named" }, Ct);
        McpProtocolException? betaTool = await client.CallErrorAsync("fixture_a_b", cancellationToken: Ct);

        Assert.Equal(IdentityGateways.AlphaTools.Order(), tools.Order());
        AssertReceived(plain, new JsonObject { ["text"] = "plain" });
        AssertReceived(named, new JsonObject { ["text"] = "named" });
        Assert.Equal("Unknown tool: 'fixture_a_b'", betaTool?.RemoteMessage());
    }

    [Theory]
    [InlineData("fixture_echo_args")]
    [InlineData("list_servers")]
    [InlineData("execute_tool")]
    public async Task FixedAgent_RefusesADifferentAgentArgument(string tool)
    {
        McpClient client = await gateways.FixedAlpha.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);

        McpProtocolException? error = await client.CallErrorAsync(tool, new JsonObject
        {
            ["agent_id"] = "beta",
            ["server"] = "fixture",
            ["tool"] = "echo_args",
        }, Ct);

        Assert.NotNull(error);
        Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
        Assert.Contains("'alpha'", error.RemoteMessage(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(HttpTransports))]
    public async Task AgentHeader_IdentifiesHttpAgents(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport, agentHeader: "beta");

        string[] tools = await client.ListToolNamesAsync(Ct);
        JsonObject result = await client.CallRawAsync("fixture_a_b", cancellationToken: Ct);
        McpProtocolException? alphaTool = await client.CallErrorAsync("fixture_pid", cancellationToken: Ct);

        Assert.Equal(IdentityGateways.BetaTools.Order(), tools.Order());
        Assert.Equal("a_b of the fixture", result.FirstText());
        Assert.Equal("Unknown tool: 'fixture_pid'", alphaTool?.RemoteMessage());
    }

    [Theory]
    [MemberData(nameof(HttpTransports))]
    public async Task HeaderAndArgumentNamingDifferentAgents_AreRefused(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport, agentHeader: "alpha");

        McpProtocolException? proxied = await client.CallErrorAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "beta" }, Ct);
        McpProtocolException? gatewayTool = await client.CallErrorAsync("list_servers", new JsonObject { ["agent_id"] = "beta" }, Ct);
        JsonObject same = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "alpha", ["text"] = "same" }, Ct);

        foreach (McpProtocolException? error in (McpProtocolException?[])[proxied, gatewayTool])
        {
            Assert.NotNull(error);
            Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
        }

        Assert.NotNull(proxied);
        Assert.Contains("X-Agent-Id", proxied.RemoteMessage(), StringComparison.Ordinal);
        Assert.Contains("agent_id", proxied.RemoteMessage(), StringComparison.Ordinal);
        AssertReceived(same, new JsonObject { ["text"] = "same" });
    }

    [Theory]
    [MemberData(nameof(StatefulTransports))]
    public async Task StatefulSession_BoundByFirstAgentArgument_RefusesADifferentAgentLater(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport);

        JsonObject first = await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "alpha" }, Ct);
        McpProtocolException? other = await client.CallErrorAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "beta" }, Ct);
        McpProtocolException? otherOnGatewayTool = await client.CallErrorAsync("list_servers", new JsonObject { ["agent_id"] = "beta" }, Ct);
        JsonObject withoutIdentity = await client.CallRawAsync("fixture_pid", cancellationToken: Ct);

        Assert.NotEqual(true, first["isError"]?.GetValue<bool>());
        foreach (McpProtocolException? error in (McpProtocolException?[])[other, otherOnGatewayTool])
        {
            Assert.NotNull(error);
            Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
            Assert.Contains("'alpha'", error.RemoteMessage(), StringComparison.Ordinal);
        }

        Assert.NotEqual(true, withoutIdentity["isError"]?.GetValue<bool>());
        Assert.Equal(IdentityGateways.AlphaTools.Order(), (await client.ListToolNamesAsync(Ct)).Order());
    }

    [Theory]
    [MemberData(nameof(StatefulTransports))]
    public async Task ListTools_BeforeIdentityWithoutDefaultAgent_ShowsOnlyTheGatewaysTools_ThenListChangedOnBinding(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport);
        await using ToolListChanges changes = ToolListChanges.Watch(client);

        string[] before = await client.ListToolNamesAsync(Ct);
        await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "beta" }, Ct);
        await changes.NextAsync(Ct);
        string[] after = await client.ListToolNamesAsync(Ct);

        Assert.Equal(IdentityGateways.GatewayTools.Order(), before.Order());
        Assert.Equal(IdentityGateways.BetaTools.Order(), after.Order());
    }

    [Theory]
    [MemberData(nameof(StatefulTransports))]
    public async Task ListTools_BeforeIdentity_ShowsTheDefaultAgentsTools_ThenTheBoundAgentsAfterListChanged(ServedTransport transport)
    {
        McpClient client = await gateways.WithDefaultAgent.ConnectAsync(transport, cancellationToken: Ct);
        await using ToolListChanges changes = ToolListChanges.Watch(client);

        string[] before = await client.ListToolNamesAsync(Ct);
        JsonObject asGuest = await client.CallRawAsync("fixture_a_b", cancellationToken: Ct);
        await client.CallRawAsync("fixture_pid", new JsonObject { ["agent_id"] = "alpha" }, Ct);
        await changes.NextAsync(Ct);
        string[] after = await client.ListToolNamesAsync(Ct);

        Assert.Equal(IdentityGateways.GuestTools.Order(), before.Order());
        Assert.Equal("a_b of the fixture", asGuest.FirstText());
        Assert.Equal(IdentityGateways.AlphaTools.Order(), after.Order());
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task MissingIdentityWithoutDefaultAgent_GetsAnErrorNamingAgentId(ServedTransport transport)
    {
        McpClient client = await ConnectAsync(transport);

        McpProtocolException? proxied = await client.CallErrorAsync("fixture_echo_args", new JsonObject { ["text"] = "hi" }, Ct);
        JsonObject gatewayTool = await client.CallRawAsync("list_servers", cancellationToken: Ct);

        Assert.NotNull(proxied);
        Assert.Equal(McpErrorCode.InvalidParams, proxied.ErrorCode);
        Assert.Contains("'agent_id'", proxied.RemoteMessage(), StringComparison.Ordinal);
        Assert.True(gatewayTool["isError"]?.GetValue<bool>(), gatewayTool.ToJsonString());
        Assert.Contains("'agent_id'", gatewayTool.FirstText(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AllTransports))]
    public async Task UnknownAgent_SeesOnlyTheGatewaysTools_AndCanCallNothingDownstream(ServedTransport transport)
    {
        string? header = transport == ServedTransport.Stdio ? null : "mallory";
        McpClient client = await ConnectAsync(transport, agentHeader: header);
        JsonObject Args(JsonObject args)
        {
            args["agent_id"] = "mallory";
            return args;
        }

        McpProtocolException? proxied = await client.CallErrorAsync("fixture_echo_args", Args([]), Ct);
        JsonObject servers = await client.CallRawAsync("list_servers", Args([]), Ct);
        JsonObject serverTools = await client.CallRawAsync("get_server_tools", Args(new JsonObject { ["server"] = "fixture" }), Ct);
        JsonObject executed = await client.CallRawAsync("execute_tool", Args(new JsonObject { ["server"] = "fixture", ["tool"] = "echo_args" }), Ct);
        string[] tools = await client.ListToolNamesAsync(Ct);

        Assert.Equal(IdentityGateways.GatewayTools.Order(), tools.Order());
        Assert.Equal("Unknown tool: 'fixture_echo_args'", proxied?.RemoteMessage());
        Assert.Empty(servers["structuredContent"]!["servers"]!.AsArray());
        Assert.True(serverTools["isError"]?.GetValue<bool>(), serverTools.ToJsonString());
        Assert.True(executed["isError"]?.GetValue<bool>(), executed.ToJsonString());
        Assert.Contains("Unknown server", executed.FirstText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownAgent_DoesNotBindTheSession()
    {
        McpClient client = await gateways.Default.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);

        await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "mallory" }, Ct);
        JsonObject asAlpha = await client.CallRawAsync("fixture_pid", new JsonObject { ["agent_id"] = "alpha" }, Ct);

        Assert.NotEqual(true, asAlpha["isError"]?.GetValue<bool>());
        Assert.Equal(IdentityGateways.AlphaTools.Order(), (await client.ListToolNamesAsync(Ct)).Order());
    }

    [Theory]
    [InlineData(ServedTransport.HttpStateless, "2025-11-25")]
    [InlineData(ServedTransport.Http, "2026-07-28")]
    public async Task StatelessRequests_NeverBind_EachRequestIdentifiesItself(ServedTransport transport, string protocolVersion)
    {
        InProcessGateway gateway = transport == ServedTransport.HttpStateless ? gateways.Stateless : gateways.Default;
        McpClient client = await gateway.ConnectAsync(transport, protocolVersion: protocolVersion, cancellationToken: Ct);

        JsonObject asAlpha = await client.CallRawAsync("fixture_pid", new JsonObject { ["agent_id"] = "alpha" }, Ct);
        JsonObject asBeta = await client.CallRawAsync("fixture_a_b", new JsonObject { ["agent_id"] = "beta" }, Ct);
        McpProtocolException? anonymous = await client.CallErrorAsync("fixture_echo_args", cancellationToken: Ct);
        string[] tools = await client.ListToolNamesAsync(Ct);

        Assert.NotEqual(true, asAlpha["isError"]?.GetValue<bool>());
        Assert.Equal("a_b of the fixture", asBeta.FirstText());
        Assert.NotNull(anonymous);
        Assert.Contains("'agent_id'", anonymous.RemoteMessage(), StringComparison.Ordinal);
        Assert.Equal(IdentityGateways.GatewayTools.Order(), tools.Order());
    }

    private Task<McpClient> ConnectAsync(ServedTransport transport, string? agentHeader = null) =>
        (transport == ServedTransport.HttpStateless ? gateways.Stateless : gateways.Default).ConnectAsync(transport, agentHeader, cancellationToken: Ct);

    /// <summary>The fixture's echo_args result holds exactly <paramref name="expected"/> as the arguments it received.</summary>
    private static void AssertReceived(JsonObject result, JsonObject expected)
    {
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
        JsonNode? received = result["structuredContent"]?["arguments"];
        Assert.True(JsonNode.DeepEquals(expected, received), $"expected {expected.ToJsonString()}, the server received {received?.ToJsonString() ?? "nothing"}");
        Assert.Null(result["structuredContent"]?["meta"]?["agent_id"]);
    }
}
