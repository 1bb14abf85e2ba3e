using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.FastPath;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.FastPath;

/// <summary>Two gateways (stateful and stateless HTTP; stdio runs on the stateful one) in front of server-everything.</summary>
public sealed class FastPathGateways : IAsyncLifetime
{
    public const string Rules = """
        {"agents": {
          "agent": {"allow": {"servers": ["everything"]}, "deny": {"tools": {"everything": ["get-env", "gzip-*"]}}},
          "echoer": {"allow": {"servers": ["everything"], "tools": {"everything": ["echo"]}}}
        }}
        """;

    internal InProcessGateway Stateful { get; private set; } = null!;

    internal InProcessGateway Stateless { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        string servers = TestServers.File(("everything", TestServers.Everything()));
        InProcessGateway[] gateways = await Task.WhenAll(
            InProcessGateway.StartAsync(servers, Rules, cancellationToken: TestContext.Current.CancellationToken),
            InProcessGateway.StartAsync(servers, Rules, stateless: true, cancellationToken: TestContext.Current.CancellationToken));
        (Stateful, Stateless) = (gateways[0], gateways[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Stateful.DisposeAsync().AsTask(), Stateless.DisposeAsync().AsTask());
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// The fast path answers simple tool calls without the SDK. It must answer exactly what the full path answers, take
/// only what it may, and leave every refusal to the full path.
/// </summary>
public sealed class FastPathTests(FastPathGateways gateways) : IClassFixture<FastPathGateways>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> Calls() => new()
    {
        { "everything_echo", """{"message": "hello, fast path"}""" },
        { "everything_get-annotated-message", """{"messageType": "error", "includeImage": true}""" },
        { "everything_get-structured-content", """{"location": "Chicago"}""" },
        { "everything_get-tiny-image", "{}" },
        { "everything_get-sum", """{"a": "not a number"}""" },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task HttpCall_OnTheFastPath_AnswersExactlyWhatTheFullPathAnswers(string tool, string arguments)
    {
        McpClient client = await gateways.Stateful.ConnectAsync(ServedTransport.Http, agentHeader: "agent", cancellationToken: Ct);
        await AssertSameAnswerAsync(gateways.Stateful, client, tool, arguments);
    }

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task StdioCall_OnTheFastPath_AnswersExactlyWhatTheFullPathAnswers(string tool, string arguments)
    {
        McpClient client = await gateways.Stateful.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);
        await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "agent" }, Ct);
        await AssertSameAnswerAsync(gateways.Stateful, client, tool, arguments);
    }

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task StatelessHttpCall_OnTheFastPath_AnswersExactlyWhatTheFullPathAnswers(string tool, string arguments)
    {
        McpClient client = await gateways.Stateless.ConnectAsync(ServedTransport.HttpStateless, agentHeader: "agent", cancellationToken: Ct);
        await AssertSameAnswerAsync(gateways.Stateless, client, tool, arguments);
    }

    [Fact]
    public async Task DeniedTool_IsLeftToTheFullPath_AndGetsTheUnknownToolError()
    {
        McpClient client = await gateways.Stateful.ConnectAsync(ServedTransport.Http, agentHeader: "echoer", cancellationToken: Ct);
        long before = Taken(gateways.Stateful);

        McpProtocolException? denied = await client.CallErrorAsync("everything_get-sum", new JsonObject { ["a"] = 1, ["b"] = 2 }, Ct);
        McpProtocolException? unknown = await client.CallErrorAsync("everything_no-such-tool", new JsonObject(), Ct);

        Assert.Equal("Unknown tool: 'everything_get-sum'", denied!.RemoteMessage());
        Assert.Equal("Unknown tool: 'everything_no-such-tool'", unknown!.RemoteMessage());
        Assert.Equal(before, Taken(gateways.Stateful));
    }

    [Fact]
    public async Task CallWithAgentIdArgument_IsLeftToTheFullPath_WhichStripsItAndBindsTheSession()
    {
        McpClient client = await gateways.Stateful.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);
        long before = Taken(gateways.Stateful);

        JsonObject result = await client.CallRawAsync("everything_echo", new JsonObject { ["message"] = "m", ["agent_id"] = "echoer" }, Ct);
        JsonObject second = await client.CallRawAsync("everything_echo", new JsonObject { ["message"] = "n" }, Ct);
        McpProtocolException? refused = await client.CallErrorAsync("everything_get-sum", new JsonObject { ["a"] = 1, ["b"] = 2 }, Ct);

        Assert.Equal("Echo: m", result.FirstText());
        Assert.Equal("Echo: n", second.FirstText());
        Assert.Equal(before + 1, Taken(gateways.Stateful));
        Assert.Equal("Unknown tool: 'everything_get-sum'", refused!.RemoteMessage());
    }

    [Fact]
    public async Task HttpFastAnswer_IsAPlainJsonResponse()
    {
        using var http = new HttpClient();
        long before = Taken(gateways.Stateless);
        using var request = new HttpRequestMessage(HttpMethod.Post, gateways.Stateless.Endpoint)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{"name":"everything_echo","arguments":{"message":"raw"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("X-Agent-Id", "agent");
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");

        using HttpResponseMessage response = await http.SendAsync(request, Ct);
        JsonObject body = (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(new MediaTypeHeaderValue("application/json"), response.Content.Headers.ContentType);
        Assert.Equal("abc", body["id"]!.GetValue<string>());
        Assert.Equal("Echo: raw", ((JsonObject)body["result"]!).FirstText());
        Assert.Equal(before + 1, Taken(gateways.Stateless));
    }

    private static long Taken(InProcessGateway gateway) => gateway.Services.GetRequiredService<FastForwarder>().Taken;

    /// <summary>The same call twice: plain (the fast path takes it) and with an empty _meta (which the fast path leaves to the SDK).</summary>
    private static async Task AssertSameAnswerAsync(InProcessGateway gateway, McpClient client, string tool, string arguments)
    {
        long before = Taken(gateway);
        JsonObject fast = await client.CallRawAsync(tool, (JsonObject)JsonNode.Parse(arguments)!, Ct);
        Assert.Equal(before + 1, Taken(gateway));

        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = JsonNode.Parse(arguments), ["_meta"] = new JsonObject() };
        JsonNode full = (await client.SendRequestAsync(new ModelContextProtocol.Protocol.JsonRpcRequest { Method = "tools/call", Params = parameters }, Ct)).Result!;
        Assert.Equal(before + 1, Taken(gateway));

        Assert.True(JsonNode.DeepEquals(fast, full), $"fast: {fast.ToJsonString()}{Environment.NewLine}full: {full.ToJsonString()}");
    }
}
