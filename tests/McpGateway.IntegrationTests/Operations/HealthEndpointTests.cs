using System.Net;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Resilience;

namespace McpGateway.IntegrationTests.Operations;

/// <summary><c>/healthz</c> (the process is alive) and <c>/readyz</c> (what <c>health.readyWhen</c> requires is ready), issue 11 item 8.</summary>
public sealed class HealthEndpointTests : IAsyncDisposable
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-health-").FullName;
    private InProcessGateway? _gateway;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>While this file exists the blocked server fails to start.</summary>
    private string BlockFile => Path.Combine(_folder, "block");

    [Fact]
    public async Task Readyz_Is503UntilTheRequiredServerIsReady_Then200_AndHealthzIs200Throughout()
    {
        File.WriteAllText(BlockFile, string.Empty);
        JsonObject db = Blocked();
        db["required"] = true;
        string servers = TestServers.File(("db", db), ("extra", TestServers.Fixture()));

        // Retried quickly and never judged a crash loop, so it starts soon after it is unblocked.
        var options = new GatewayOptions { Downstream = new() { InitialReconnectDelay = TimeSpan.FromMilliseconds(100), MaxReconnectDelay = TimeSpan.FromMilliseconds(300), CrashLoopFailures = int.MaxValue } };
        _gateway = await InProcessGateway.StartAsync(servers, Rules, options, cancellationToken: Ct);
        Uri root = GatewayEndpoints.RootOf(_gateway.Endpoint);

        (HttpStatusCode aliveWhileWaiting, string alive) = await GatewayEndpoints.GetAsync(root, "/healthz", Ct);
        JsonObject waiting = await GatewayEndpoints.GetJsonAsync(root, "/readyz", Ct, expected: HttpStatusCode.ServiceUnavailable);
        File.Delete(BlockFile);
        await ResilienceHelpers.WaitForAsync(_gateway.Downstream.Find("db")!, s => s.IsReady, "ready once unblocked", Ct);
        JsonObject ready = await GatewayEndpoints.GetJsonAsync(root, "/readyz", Ct);
        (HttpStatusCode aliveWhenReady, _) = await GatewayEndpoints.GetAsync(root, "/healthz", Ct);

        Assert.Equal((HttpStatusCode.OK, "ok\n"), (aliveWhileWaiting, alive));
        Assert.Equal(HttpStatusCode.OK, aliveWhenReady);
        Assert.False(waiting["ready"]!.GetValue<bool>());
        Assert.Equal("required", waiting["requires"]!.GetValue<string>());
        Assert.Equal((1, 2), (waiting["serversReady"]!.GetValue<int>(), waiting["servers"]!.GetValue<int>()));
        Assert.Equal(["db"], waiting["waitingFor"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.True(ready["ready"]!.GetValue<bool>());
        Assert.Equal((2, 2), (ready["serversReady"]!.GetValue<int>(), ready["servers"]!.GetValue<int>()));
        Assert.Empty(ready["waitingFor"]!.AsArray());
    }

    [Theory]
    [InlineData("all", HttpStatusCode.ServiceUnavailable, new[] { "broken" })]
    [InlineData("any", HttpStatusCode.OK, new string[0])]
    [InlineData("required", HttpStatusCode.OK, new string[0])]
    public async Task Readyz_WithOneServerDown_FollowsReadyWhen(string readyWhen, HttpStatusCode expected, string[] waitingFor)
    {
        string servers = TestServers.File(("broken", TestServers.Broken()), ("fine", TestServers.Fixture()));
        _gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: Ct, settingsJson: $$"""{ "health": { "readyWhen": "{{readyWhen}}" } }""", folder: _folder);
        Uri root = GatewayEndpoints.RootOf(_gateway.Endpoint);

        JsonObject readiness = await GatewayEndpoints.GetJsonAsync(root, "/readyz", Ct, expected: expected);
        (HttpStatusCode alive, _) = await GatewayEndpoints.GetAsync(root, "/healthz", Ct);

        Assert.Equal(expected == HttpStatusCode.OK, readiness["ready"]!.GetValue<bool>());
        Assert.Equal(readyWhen, readiness["requires"]!.GetValue<string>());
        Assert.Equal((1, 2), (readiness["serversReady"]!.GetValue<int>(), readiness["servers"]!.GetValue<int>()));
        Assert.Equal(waitingFor, readiness["waitingFor"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, alive);
        Assert.NotEqual(DownstreamState.Ready, _gateway.Downstream.Find("broken")!.Status.State);
    }

    /// <summary>The fixture, launched through a shell that refuses to start it while <see cref="BlockFile"/> exists.</summary>
    private JsonObject Blocked() => new()
    {
        ["command"] = "sh",
        ["args"] = new JsonArray("-c", "if [ -e \"$0\" ]; then echo blocked >&2; exit 1; fi; exec \"$1\"", BlockFile, RepoPaths.FixtureServer),
    };

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }
}
