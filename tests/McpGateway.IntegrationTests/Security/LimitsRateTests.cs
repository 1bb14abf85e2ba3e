using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using McpGateway.FastPath;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// One gateway in front of server-everything (a 2025-11-25 stdio server: plain calls take the fast path) with call
/// limits: 3 calls per hour per agent, 6 for <c>big</c>, and one <c>get-sum</c> per hour per agent. The window is an
/// hour so it never turns over during a test; each test uses agents of its own, because budgets last the window.
/// </summary>
public sealed class RateLimitedGateway : IAsyncLifetime
{
    public const int Calls = 3;
    public const int BigCalls = 6;
    public const int WindowSeconds = 3600;

    internal InProcessGateway Gateway { get; private set; } = null!;

    internal RawMcpHttp Http { get; private set; } = null!;

    internal long Taken => Gateway.Services.GetRequiredService<FastForwarder>().Taken;

    public async ValueTask InitializeAsync()
    {
        var agents = new JsonObject();
        foreach (string agent in (string[])["sdk", "fast", "big", "tool", "tool2", "greedy", "calm", "exec", "reader"])
        {
            agents[agent] = new JsonObject { ["allow"] = new JsonObject { ["servers"] = new JsonArray("everything") } };
        }

        string settings = new JsonObject
        {
            ["limits"] = new JsonObject
            {
                ["rate"] = new JsonObject
                {
                    ["windowSeconds"] = WindowSeconds,
                    ["calls"] = Calls,
                    ["agents"] = new JsonObject { ["big"] = BigCalls },
                    ["tools"] = new JsonObject { ["everything"] = new JsonObject { ["get-sum"] = 1 } },
                },
            },
        }.ToJsonString();
        Gateway = await InProcessGateway.StartAsync(
            TestServers.File(("everything", TestServers.Everything())),
            new JsonObject { ["agents"] = agents }.ToJsonString(),
            cancellationToken: TestContext.Current.CancellationToken,
            settingsJson: settings);
        Http = new RawMcpHttp(Gateway.Endpoint);
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
    }
}

/// <summary>
/// Per-agent call limits: the call over the limit gets JSON-RPC error -32029, whose message says when to retry and
/// whose data has <c>retryAfterSeconds</c>, identical on the fast path and the SDK path; per-agent overrides and
/// per-tool limits apply; one agent's spent budget never touches another's; <c>execute_tool</c> over the limit gets
/// an isError result saying when to retry. Only tool calls count: lists, prompts, resources and completions do not.
/// </summary>
public sealed class LimitsRateTests(RateLimitedGateway gateway) : IClassFixture<RateLimitedGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string RefusalMessage(string agent, string limit) =>
        $"Rate limit: agent '{agent}' may make {limit} per {RateLimitedGateway.WindowSeconds} s. Retry after {RateLimitedGateway.WindowSeconds} s.";

    [Fact]
    public async Task CallOverTheLimit_OnTheSdkPath_GetsMinus32029_SayingWhenToRetry()
    {
        string session = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("sdk"));
        long taken = gateway.Taken;

        HttpReply[] allowed = await CallsAsync(session, RateLimitedGateway.Calls, sdkShaped: true);
        HttpReply over = await EchoAsync(session, 99, sdkShaped: true);

        Assert.All(allowed, r => Assert.StartsWith("Echo: ", r.Result["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal));
        AssertRateLimited(over, 99, RefusalMessage("sdk", $"{RateLimitedGateway.Calls} calls"));
        Assert.Equal(taken, gateway.Taken);
    }

    [Fact]
    public async Task CallOverTheLimit_OnTheFastPath_GetsTheSameErrorAsOnTheSdkPath_ApartFromTheId()
    {
        string session = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("fast"));
        long taken = gateway.Taken;

        await CallsAsync(session, RateLimitedGateway.Calls, sdkShaped: false);
        HttpReply fast = await EchoAsync(session, 98, sdkShaped: false);
        long takenAfterFast = gateway.Taken;
        HttpReply sdk = await EchoAsync(session, 99, sdkShaped: true);

        Assert.Equal(taken + RateLimitedGateway.Calls + 1, takenAfterFast);
        Assert.Equal(takenAfterFast, gateway.Taken);
        Assert.Equal("application/json", fast.ContentType);
        Assert.Equal("text/event-stream", sdk.ContentType);
        AssertRateLimited(fast, 98, RefusalMessage("fast", $"{RateLimitedGateway.Calls} calls"));
        AssertRateLimited(sdk, 99, RefusalMessage("fast", $"{RateLimitedGateway.Calls} calls"));
        JsonObject fastMessage = fast.Message!, sdkMessage = sdk.Message!;
        fastMessage.Remove("id");
        sdkMessage.Remove("id");
        Assert.Equal(sdkMessage.ToJsonString(), fastMessage.ToJsonString());
    }

    [Fact]
    public async Task AgentOverride_GivesThatAgentItsOwnLimit()
    {
        string session = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("big"));

        HttpReply[] allowed = await CallsAsync(session, RateLimitedGateway.BigCalls, sdkShaped: false);
        HttpReply over = await EchoAsync(session, 99, sdkShaped: false);

        Assert.All(allowed, r => Assert.Null(r.Message!["error"]));
        AssertRateLimited(over, 99, RefusalMessage("big", $"{RateLimitedGateway.BigCalls} calls"));
    }

    [Fact]
    public async Task ToolLimit_RefusesThatToolOverItsLimit_OnBothPaths_WhileOtherToolsGoOn()
    {
        string session = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("tool"));
        string other = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("tool2"));
        JsonObject Arguments() => new() { ["a"] = 2, ["b"] = 3 };

        HttpReply first = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(1, "everything_get-sum", Arguments()), Ct, session);
        HttpReply fast = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(2, "everything_get-sum", Arguments()), Ct, session);
        HttpReply sdk = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(3, "everything_get-sum", Arguments(), meta: true), Ct, session);
        HttpReply echo = await EchoAsync(session, 4, sdkShaped: false);
        HttpReply othersSum = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(5, "everything_get-sum", Arguments()), Ct, other);

        Assert.Contains("5", first.Result["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertRateLimited(fast, 2, RefusalMessage("tool", "1 calls of this tool"));
        AssertRateLimited(sdk, 3, RefusalMessage("tool", "1 calls of this tool"));
        Assert.Null(echo.Message!["error"]);
        Assert.Null(othersSum.Message!["error"]);
    }

    [Fact]
    public async Task OneAgentsSpentBudget_DoesNotTouchAnotherAgents()
    {
        string greedy = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("greedy"));
        string calm = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("calm"));

        await CallsAsync(greedy, RateLimitedGateway.Calls, sdkShaped: false);
        HttpReply[] refused = [await EchoAsync(greedy, 50, sdkShaped: false), await EchoAsync(greedy, 51, sdkShaped: true)];
        HttpReply[] calmCalls = [await EchoAsync(calm, 60, sdkShaped: false), await EchoAsync(calm, 61, sdkShaped: true), await EchoAsync(calm, 62, sdkShaped: false)];

        Assert.All(refused, r => Assert.Equal(-32029, r.Error["code"]!.GetValue<int>()));
        Assert.All(calmCalls, r => Assert.StartsWith("Echo: ", r.Result["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExecuteTool_OverTheLimit_GetsAnIsErrorResult_SayingWhenToRetry()
    {
        string session = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("exec"));
        var execute = new JsonObject { ["server"] = "everything", ["tool"] = "echo", ["args"] = new JsonObject { ["message"] = "via execute_tool" } };

        HttpReply[] allowed = new HttpReply[RateLimitedGateway.Calls];
        for (int i = 0; i < allowed.Length; i++)
        {
            allowed[i] = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(i + 1, "execute_tool", (JsonObject)execute.DeepClone()), Ct, session);
        }

        HttpReply over = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(99, "execute_tool", execute), Ct, session);
        HttpReply listing = await gateway.Http.PostAsync(RawMcpHttp.ToolCall(100, "list_servers"), Ct, session);

        Assert.All(allowed, r => Assert.Equal("Echo: via execute_tool", r.Result["content"]![0]!["text"]!.GetValue<string>()));
        Assert.True(over.Result["isError"]!.GetValue<bool>());
        Assert.Equal(RefusalMessage("exec", $"{RateLimitedGateway.Calls} calls"), over.Result["content"]![0]!["text"]!.GetValue<string>());
        Assert.Null(listing.Result["isError"]);
    }

    [Fact]
    public async Task PromptsResourcesCompletionsAndLists_DoNotSpendTheCallBudget_ToolCallsDo()
    {
        string session = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("reader"));
        (string Method, JsonObject Params)[] others =
        [
            (RequestMethods.PromptsGet, new JsonObject { ["name"] = "everything_simple-prompt" }),
            (RequestMethods.ResourcesRead, new JsonObject { ["uri"] = "demo://resource/dynamic/text/1" }),
            (RequestMethods.CompletionComplete, JsonNode.Parse("""{ "ref": { "type": "ref/prompt", "name": "everything_completable-prompt" }, "argument": { "name": "department", "value": "E" } }""")!.AsObject()),
            (RequestMethods.ToolsList, new JsonObject()),
        ];

        var answered = new List<HttpReply>();
        int id = 0;
        for (int round = 0; round <= RateLimitedGateway.Calls; round++)
        {
            foreach ((string method, JsonObject parameters) in others)
            {
                answered.Add(await gateway.Http.PostAsync(RawMcpHttp.Request(++id, method, (JsonObject)parameters.DeepClone()), Ct, session));
            }
        }

        HttpReply[] allowed = await CallsAsync(session, RateLimitedGateway.Calls, sdkShaped: false);
        HttpReply over = await EchoAsync(session, 999, sdkShaped: false);

        Assert.All(answered, r => Assert.True(r.Message!["result"] is JsonObject, r.Message.ToJsonString()));
        Assert.All(allowed, r => Assert.Null(r.Message!["error"]));
        AssertRateLimited(over, 999, RefusalMessage("reader", $"{RateLimitedGateway.Calls} calls"));
    }

    [Fact]
    public async Task HttpRequestLimit_RefusesTheRequestOverIt_With429_RetryAfter_AndAJsonRpcError()
    {
        string settings = """{"limits": {"rate": {"windowSeconds": 3600, "httpRequests": 5}}}""";
        await using InProcessGateway limited = await InProcessGateway.StartAsync(
            TestServers.File(("everything", TestServers.Everything())),
            """{"agents": {"any": {"allow": {"servers": ["everything"]}}}, "defaults": {"default_agent": "any"}}""",
            cancellationToken: Ct,
            settingsJson: settings);
        var http = new RawMcpHttp(limited.Endpoint);
        long taken = limited.Services.GetRequiredService<FastForwarder>().Taken;

        string session = await http.OpenSessionAsync(Ct);
        HttpReply[] allowed = [await EchoAsync(http, session, 3, false), await EchoAsync(http, session, 4, false), await EchoAsync(http, session, 5, true)];
        HttpReply over = await EchoAsync(http, session, 6, false);
        HttpReply newcomer = await http.PostAsync(RawMcpHttp.Initialize(7), Ct);

        Assert.All(allowed, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        foreach ((HttpReply refused, int id) in ((HttpReply, int)[])[(over, 6), (newcomer, 7)])
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
            int retryAfter = int.Parse(Assert.Single(refused.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 3600);
            Assert.Equal("application/json", refused.ContentType);
            Assert.Equal(id, refused.Message!["id"]!.GetValue<int>());
            Assert.Equal($"Too many requests: at most 5 per 3600 s. Retry after {retryAfter} s.", refused.Error["message"]!.GetValue<string>());
        }

        Assert.Equal(taken + 2, limited.Services.GetRequiredService<FastForwarder>().Taken);
    }

    private Task<HttpReply> EchoAsync(string session, int id, bool sdkShaped) => EchoAsync(gateway.Http, session, id, sdkShaped);

    private static Task<HttpReply> EchoAsync(RawMcpHttp http, string session, int id, bool sdkShaped) =>
        http.PostAsync(RawMcpHttp.ToolCall(id, "everything_echo", new JsonObject { ["message"] = "call " + id }, sdkShaped), Ct, session);

    private async Task<HttpReply[]> CallsAsync(string session, int count, bool sdkShaped)
    {
        var responses = new HttpReply[count];
        for (int i = 0; i < count; i++)
        {
            responses[i] = await EchoAsync(session, i + 1, sdkShaped);
            Assert.True(responses[i].Message?["result"] is not null, responses[i].Body);
        }

        return responses;
    }

    private static void AssertRateLimited(HttpReply response, int id, string message)
    {
        Assert.Equal(HttpStatusCode.OK, response.Status);
        JsonObject error = response.Error;
        Assert.Equal(id, response.Message!["id"]!.GetValue<int>());
        Assert.Equal(-32029, error["code"]!.GetValue<int>());
        Assert.Equal(message, error["message"]!.GetValue<string>());
        Assert.Equal(RateLimitedGateway.WindowSeconds, error["data"]!["retryAfterSeconds"]!.GetValue<int>());
    }
}
