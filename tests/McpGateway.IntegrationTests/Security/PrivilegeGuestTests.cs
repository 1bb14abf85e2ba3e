using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// The example rules (examples/rules.json, read from the repository) in front of server-everything, stateful and
/// stateless. Their <c>guest</c> (the default agent) is allowed only everything's <c>echo</c>.
/// </summary>
public sealed class ExampleRulesGateways : IAsyncLifetime
{
    internal InProcessGateway Stateful { get; private set; } = null!;

    internal InProcessGateway Stateless { get; private set; } = null!;

    public static string ExampleRules => File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "rules.json"));

    public async ValueTask InitializeAsync()
    {
        string servers = TestServers.File(("everything", TestServers.Everything()));
        InProcessGateway[] gateways = await Task.WhenAll(
            InProcessGateway.StartAsync(servers, ExampleRules, cancellationToken: TestContext.Current.CancellationToken),
            InProcessGateway.StartAsync(servers, ExampleRules, stateless: true, cancellationToken: TestContext.Current.CancellationToken));
        (Stateful, Stateless) = (gateways[0], gateways[1]);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (InProcessGateway? gateway in (InProcessGateway?[])[Stateful, Stateless])
        {
            if (gateway is not null)
            {
                await gateway.DisposeAsync();
            }
        }
    }
}

/// <summary>
/// Least privilege end to end: the example's <c>guest</c>, whose tools on everything are restricted to <c>echo</c>,
/// gets exactly the gateway's own tools and <c>everything_echo</c>, and none of everything's resources, templates or
/// prompts (they are withheld unless the rules grant them), on every transport, whether it names itself or not.
/// </summary>
public sealed class PrivilegeGuestTests(ExampleRulesGateways gateways) : IClassFixture<ExampleRulesGateways>
{
    private static readonly string[] s_guestTools = ["list_servers", "get_server_tools", "execute_tool", "everything_echo"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<ServedTransport, string?> Guests() => new()
    {
        { ServedTransport.Http, null },
        { ServedTransport.Http, "guest" },
        { ServedTransport.HttpStateless, null },
        { ServedTransport.HttpStateless, "guest" },
        { ServedTransport.Stdio, null },
    };

    private Task<McpClient> ConnectAsync(ServedTransport transport, string? agentHeader) =>
        (transport == ServedTransport.HttpStateless ? gateways.Stateless : gateways.Stateful).ConnectAsync(transport, agentHeader, cancellationToken: Ct);

    [Theory]
    [MemberData(nameof(Guests))]
    public async Task Guest_ListsExactlyTheGatewayToolsAndEcho_AndNoResourcesTemplatesOrPrompts(ServedTransport transport, string? agentHeader)
    {
        McpClient guest = await ConnectAsync(transport, agentHeader);

        string[] tools = await guest.ListToolNamesAsync(Ct);
        JsonNode? resources = await ListAsync(guest, RequestMethods.ResourcesList, "resources");
        JsonNode? templates = await ListAsync(guest, RequestMethods.ResourcesTemplatesList, "resourceTemplates");
        JsonNode? prompts = await ListAsync(guest, RequestMethods.PromptsList, "prompts");

        Assert.Equal(s_guestTools, tools);
        Assert.Empty(resources!.AsArray());
        Assert.Empty(templates!.AsArray());
        Assert.Empty(prompts!.AsArray());
    }

    [Theory]
    [MemberData(nameof(Guests))]
    public async Task Guest_CanCallEcho_AndNothingElseOfEverything(ServedTransport transport, string? agentHeader)
    {
        McpClient guest = await ConnectAsync(transport, agentHeader);

        JsonObject echoed = await guest.CallRawAsync("everything_echo", new JsonObject { ["message"] = "least privilege" }, Ct);
        McpProtocolException? sum = await guest.CallErrorAsync("everything_get-sum", new JsonObject { ["a"] = 1, ["b"] = 2 }, Ct);
        McpProtocolException? read = await ErrorAsync(guest, RequestMethods.ResourcesRead, new JsonObject { ["uri"] = "demo://resource/static/document/architecture.md" });
        McpProtocolException? prompt = await ErrorAsync(guest, RequestMethods.PromptsGet, new JsonObject { ["name"] = "everything_simple-prompt" });
        JsonObject servers = await guest.CallRawAsync("get_server_tools", new JsonObject { ["server"] = "everything" }, Ct);

        Assert.Equal("Echo: least privilege", echoed.FirstText());
        Assert.Equal("Unknown tool: 'everything_get-sum'", sum!.RemoteMessage());
        Assert.Equal("Resource not found: 'demo://resource/static/document/architecture.md'", read!.RemoteMessage());
        Assert.Equal("Unknown prompt: 'everything_simple-prompt'", prompt!.RemoteMessage());
        Assert.Equal(["echo"], servers["structuredContent"]!["tools"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()));
    }

    private static async Task<JsonNode?> ListAsync(McpClient client, string method, string key)
    {
        JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = method }, Ct);
        return response.Result![key];
    }

    private static async Task<McpProtocolException?> ErrorAsync(McpClient client, string method, JsonObject parameters)
    {
        try
        {
            await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, Ct);
            return null;
        }
        catch (McpProtocolException ex)
        {
            return ex;
        }
    }
}
