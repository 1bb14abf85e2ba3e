using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// server-everything and the fixture behind one gateway. <c>limited</c> (the default agent) may use everything's
/// <c>echo</c>, one static resource, the text template and <c>simple-prompt</c>, and not the fixture at all;
/// <c>owner</c> may use everything, so the tests can show that what <c>limited</c> is refused does exist.
/// </summary>
public sealed class HiddenItemsGateway : IAsyncLifetime
{
    public const string Rules = """
        {
          "agents": {
            "limited": {
              "allow": {
                "servers": ["everything"],
                "tools": { "everything": ["echo"] },
                "resources": { "everything": ["demo://resource/static/document/architecture.md", "demo://resource/dynamic/text/*"] },
                "prompts": { "everything": ["simple-prompt"] }
              }
            },
            "owner": { "allow": { "servers": ["*"] } }
          },
          "defaults": { "default_agent": "limited" }
        }
        """;

    internal InProcessGateway Gateway { get; private set; } = null!;

    internal RawMcpHttp Http { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        string servers = TestServers.File(("everything", TestServers.Everything()), ("fx", TestServers.Fixture()));
        Gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: TestContext.Current.CancellationToken);
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
/// A hidden item must be answered exactly like one that does not exist, or the answer tells an agent what the rules
/// hide from it. For tools, resources (read, subscribe), prompts, completions (prompt and template references),
/// tasks and the gateway's own tools, the whole response to a hidden item and to a made-up one is compared, over
/// HTTP and stdio: byte for byte, once the name itself is replaced.
/// </summary>
public sealed class PrivilegeHiddenLikeMissingTests(HiddenItemsGateway gateway) : IClassFixture<HiddenItemsGateway>
{
    private const string Name = "{NAME}";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Method, params with {NAME}, the hidden name (it exists: owner gets it), and a name nothing has.</summary>
    public static TheoryData<string, string, string, string> Cases() => new()
    {
        { "tools/call", """{"name":"{NAME}","arguments":{"a":1,"b":2}}""", "everything_get-sum", "everything_get-product" },
        { "tools/call", """{"name":"{NAME}","arguments":{"a":1,"b":2},"_meta":{"progressToken":"p"}}""", "everything_get-sum", "everything_get-product" },
        { "tools/call", """{"name":"{NAME}","arguments":{}}""", "fx_echo_args", "fx_echo_argz" },
        { "tools/call", """{"name":"{NAME}","arguments":{}}""", "fx_echo_args", "zz_echo_args" },
        { "resources/read", """{"uri":"{NAME}"}""", "demo://resource/static/document/features.md", "demo://resource/static/document/nothing.md" },
        { "resources/read", """{"uri":"{NAME}"}""", "demo://resource/dynamic/blob/1", "demo://resource/dynamic/none/1" },
        { "resources/subscribe", """{"uri":"{NAME}"}""", "demo://resource/static/document/features.md", "demo://resource/static/document/nothing.md" },
        { "resources/unsubscribe", """{"uri":"{NAME}"}""", "demo://resource/static/document/features.md", "demo://resource/static/document/nothing.md" },
        { "prompts/get", """{"name":"{NAME}","arguments":{"city":"Paris","state":"TX"}}""", "everything_args-prompt", "everything_argz-prompt" },
        { "completion/complete", """{"ref":{"type":"ref/prompt","name":"{NAME}"},"argument":{"name":"department","value":"E"}}""", "everything_completable-prompt", "everything_completable-prompz" },
        { "completion/complete", """{"ref":{"type":"ref/resource","uri":"{NAME}"},"argument":{"name":"resourceId","value":"1"}}""", "demo://resource/dynamic/blob/{resourceId}", "demo://resource/dynamic/none/{resourceId}" },
        { "tools/call", """{"name":"get_server_tools","arguments":{"server":"{NAME}"}}""", "fx", "fy" },
        { "tools/call", """{"name":"execute_tool","arguments":{"server":"{NAME}","tool":"echo_args","args":{}}}""", "fx", "fy" },
        { "tools/call", """{"name":"execute_tool","arguments":{"server":"everything","tool":"{NAME}","args":{"a":1,"b":2}}}""", "get-sum", "get-product" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HiddenItem_OverHttp_IsAnsweredByteForByteLikeAMissingOne(string method, string parameters, string hidden, string missing)
    {
        string session = await gateway.Http.OpenSessionAsync(Ct);
        await AssertOwnerGetsAsync(method, parameters, hidden);

        HttpReply forHidden = await gateway.Http.PostAsync(Request(method, parameters, hidden), Ct, session);
        HttpReply forMissing = await gateway.Http.PostAsync(Request(method, parameters, missing), Ct, session);

        Assert.Equal(forMissing.Status, forHidden.Status);
        Assert.True(IsRefusal(forHidden.Message!), forHidden.Body);
        Assert.Equal(forMissing.Body.Replace(missing, Name, StringComparison.Ordinal), forHidden.Body.Replace(hidden, Name, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HiddenItem_OverStdio_IsAnsweredByteForByteLikeAMissingOne(string method, string parameters, string hidden, string missing)
    {
        await using RawStdioSession stdio = await RawStdioSession.StartAsync(gateway.Gateway, Ct);

        string forHidden = await stdio.RequestLineAsync(7, Request(method, parameters, hidden), Ct);
        string forMissing = await stdio.RequestLineAsync(7, Request(method, parameters, missing), Ct);

        Assert.True(IsRefusal(JsonNode.Parse(forHidden)!.AsObject()), forHidden);
        Assert.Equal(forMissing.Replace(missing, Name, StringComparison.Ordinal), forHidden.Replace(hidden, Name, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tasks/get")]
    [InlineData("tasks/result")]
    [InlineData("tasks/cancel")]
    public async Task TaskOfAnotherAgent_IsAnsweredByteForByteLikeAMadeUpTask(string method)
    {
        string owner = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("owner"));
        string limited = await gateway.Http.OpenSessionAsync(Ct);
        HttpReply created = await gateway.Http.PostAsync(
            Request("tools/call", """{"name":"everything_simulate-research-query","arguments":{"topic":"gateways"},"task":{"ttl":60000}}""", string.Empty), Ct, owner, headers: RawMcpHttp.Agent("owner"));
        string taskId = created.Result["task"]!["taskId"]!.GetValue<string>();
        string madeUp = new([.. taskId.Reverse()]);

        HttpReply forHidden = await gateway.Http.PostAsync(Request(method, """{"taskId":"{NAME}"}""", taskId), Ct, limited);
        HttpReply forMissing = await gateway.Http.PostAsync(Request(method, """{"taskId":"{NAME}"}""", madeUp), Ct, limited);
        HttpReply ownersView = await gateway.Http.PostAsync(Request("tasks/get", """{"taskId":"{NAME}"}""", taskId), Ct, owner, headers: RawMcpHttp.Agent("owner"));

        Assert.Equal(taskId, ownersView.Result["taskId"]!.GetValue<string>());
        Assert.True(IsRefusal(forHidden.Message!), forHidden.Body);
        Assert.Equal(forMissing.Body.Replace(madeUp, Name, StringComparison.Ordinal), forHidden.Body.Replace(taskId, Name, StringComparison.Ordinal));
        await gateway.Http.PostAsync(Request("tasks/cancel", """{"taskId":"{NAME}"}""", taskId), Ct, owner, headers: RawMcpHttp.Agent("owner"));
    }

    /// <summary>The control: the hidden item exists, because an agent allowed to use it gets it.</summary>
    private async Task AssertOwnerGetsAsync(string method, string parameters, string hidden)
    {
        string owner = await gateway.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("owner"));
        HttpReply response = await gateway.Http.PostAsync(Request(method, parameters, hidden), Ct, owner, headers: RawMcpHttp.Agent("owner"));
        JsonObject message = response.Message!;
        Assert.False(IsRefusal(message), $"owner was refused {hidden}: {response.Body}");
    }

    private static bool IsRefusal(JsonObject message) =>
        message.ContainsKey("error") || message["result"]?["isError"]?.GetValue<bool>() == true;

    private static string Request(string method, string parameters, string name) =>
        RawMcpHttp.Request(7, method, JsonNode.Parse(parameters.Replace(Name, name, StringComparison.Ordinal))!.AsObject());
}
