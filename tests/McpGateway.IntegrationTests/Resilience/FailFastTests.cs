using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// Fail fast, with real server processes, on both paths through the gateway: a call in flight to a server that is
/// killed (SIGKILL) gets an error naming the server at once, though its own timeout is ten minutes away; new calls
/// get "not available right now, retrying in N s" until the server is back, other servers unaffected; per-call
/// timeouts still fire. The victim starts through a shell that refuses to start it while a block file exists, so the
/// test decides when it may come back.
/// </summary>
public sealed class FailFastTests : IAsyncLifetime
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";
    private const string Hung = "fixture: hang called";

    private readonly string _directory = Directory.CreateTempSubdirectory("mcp-gateway-failfast-").FullName;
    private InProcessGateway _gateway = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string BlockFile => Path.Combine(_directory, "block-victim");

    public async ValueTask InitializeAsync()
    {
        var victim = new JsonObject
        {
            ["command"] = "sh",
            ["args"] = new JsonArray("-c", "if [ -e \"$0\" ]; then echo blocked >&2; exit 1; fi; exec \"$1\" --resilience", BlockFile, RepoPaths.FixtureServer),
            ["callTimeoutMs"] = 600_000,
        };
        JsonObject timed = TestServers.Fixture("--resilience");
        timed["callTimeoutMs"] = 300;
        string servers = TestServers.File(("victim", victim), ("survivor", TestServers.Fixture()), ("timed", timed));

        // Quick retries that never reach a crash loop: the test, not the backoff, decides when the victim is back.
        var options = new GatewayOptions { Downstream = new() { InitialReconnectDelay = TimeSpan.FromMilliseconds(100), MaxReconnectDelay = TimeSpan.FromSeconds(1), CrashLoopFailures = 1_000 } };
        _gateway = await InProcessGateway.StartAsync(servers, Rules, options, cancellationToken: Ct);
    }

    [Theory]
    [InlineData(CallPath.Sdk)]
    [InlineData(CallPath.Fast)]
    public async Task CallInFlight_ToAServerThatIsKilled_FailsAtOnce_NamingTheServer(CallPath path)
    {
        McpClient client = await ResilienceHelpers.BoundClientAsync(_gateway, Ct);
        int pid = await PidAsync(client);
        File.WriteAllText(BlockFile, string.Empty);
        long fastBefore = ResilienceHelpers.FastCalls(_gateway);

        Task<(JsonObject? Result, McpProtocolException? Error)> call = ResilienceHelpers.CallAsync(client, path, "victim_hang", null, Ct);
        await ResilienceHelpers.WaitForStderrAsync(_gateway, Hung, 1, Ct);
        Process.GetProcessById(pid).Kill();

        // Bounded only to fail rather than hang: the call's own timeout is ten minutes.
        (JsonObject? result, McpProtocolException? error) = await call.Within("the answer to the call in flight on the killed server", Ct);

        Assert.Null(result);
        Assert.NotNull(error);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);
        Assert.Matches(@"^Server 'victim' stopped during the request \((the process exited( with code \d+)?|the server closed its output)\)\.$", error.RemoteMessage());
        Assert.Equal(fastBefore + (path == CallPath.Fast ? 1 : 0), ResilienceHelpers.FastCalls(_gateway));
    }

    [Fact]
    public async Task ServerThatIsDown_NewCallsSayWhenItIsTriedAgain_OnBothPaths_UntilItIsBack()
    {
        McpClient client = await ResilienceHelpers.BoundClientAsync(_gateway, Ct);
        DownstreamServer victim = _gateway.Downstream.Find("victim")!;
        int pid = await PidAsync(client);
        File.WriteAllText(BlockFile, string.Empty);

        Process.GetProcessById(pid).Kill();
        await ResilienceHelpers.WaitForAsync(victim, s => !s.IsReady, "down", Ct);
        var down = new List<string>();
        foreach (CallPath path in (CallPath[])[CallPath.Sdk, CallPath.Fast])
        {
            (JsonObject? result, McpProtocolException? error) = await ResilienceHelpers.CallAsync(client, path, "victim_echo_args", new JsonObject { ["text"] = "anyone there?" }, Ct);
            Assert.True(result is not null, error?.Message);
            Assert.True(result["isError"]?.GetValue<bool>(), result.ToJsonString());
            down.Add(result.FirstText());
        }

        JsonObject executed = await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = "victim", ["tool"] = "echo_args" }, Ct);
        down.Add(executed.FirstText());
        JsonObject survivor = await client.CallRawAsync("survivor_echo_args", new JsonObject { ["text"] = "fine" }, Ct);

        File.Delete(BlockFile);
        await ResilienceHelpers.WaitForAsync(victim, s => s.IsReady, "back", Ct);
        int pidAfter = await PidAsync(client);
        (JsonObject? back, _) = await ResilienceHelpers.CallAsync(client, CallPath.Fast, "victim_echo_args", new JsonObject { ["text"] = "back" }, Ct);

        Assert.All(down, text => Assert.Matches(@"^Server 'victim' is not available right now; retrying in \d+ s\.$", text));
        Assert.Equal("fine", survivor["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
        Assert.NotEqual(pid, pidAfter);
        Assert.Equal("back", back!["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
    }

    [Theory]
    [InlineData(CallPath.Sdk)]
    [InlineData(CallPath.Fast)]
    public async Task CallToAServerThatDoesNotAnswer_FailsWithItsCallTimeout_AndTheServerStaysUp(CallPath path)
    {
        McpClient client = await ResilienceHelpers.BoundClientAsync(_gateway, Ct);
        long fastBefore = ResilienceHelpers.FastCalls(_gateway);

        DownstreamServer timed = _gateway.Downstream.Find("timed")!;
        int restartsBefore = timed.Status.Restarts;

        (_, McpProtocolException? error) = await ResilienceHelpers.CallAsync(client, path, "timed_slow", new JsonObject { ["ms"] = 600_000 }, Ct);
        // The same server, through execute_tool's own timeout: no 300 ms a loaded machine could overrun.
        JsonObject next = await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = "timed", ["tool"] = "echo_args", ["args"] = new JsonObject { ["text"] = "still up" }, ["timeout_ms"] = 600_000 }, Ct);

        Assert.NotNull(error);
        Assert.Equal((McpErrorCode)DownstreamErrors.RequestTimeoutErrorCode, error.ErrorCode);
        Assert.Equal("The request to server 'timed' timed out after 300 ms.", error.RemoteMessage());
        Assert.Equal("still up", next["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
        Assert.True(timed.IsReady);
        Assert.Equal(restartsBefore, timed.Status.Restarts);
        Assert.Equal(fastBefore + (path == CallPath.Fast ? 1 : 0), ResilienceHelpers.FastCalls(_gateway));
    }

    private static async Task<int> PidAsync(McpClient client) =>
        int.Parse((await client.CallRawAsync("victim_pid", cancellationToken: Ct)).FirstText(), CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        await _gateway.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
