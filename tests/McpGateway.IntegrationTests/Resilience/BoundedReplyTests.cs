using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>A gateway in front of two fixture servers that can answer with a reply of any size: one with the default limit, one with a higher one.</summary>
public sealed class BoundedReplyGateway : IAsyncLifetime
{
    public const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    internal InProcessGateway Gateway { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        JsonObject roomy = TestServers.Fixture("--resilience");
        roomy["maxMessageBytes"] = 64 * 1024 * 1024;
        string servers = TestServers.File(("big", TestServers.Fixture("--resilience")), ("roomy", roomy));
        Gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => Gateway.DisposeAsync();
}

/// <summary>
/// Bounded replies with a real server process: a reply of 50 MB, over the default limit of 16 MiB, is refused with an
/// error naming the limit on both paths, the connection to the server is kept (same process, next call answered), and
/// with <c>maxMessageBytes</c> set higher the same reply passes.
/// </summary>
public sealed class BoundedReplyTests(BoundedReplyGateway fixture) : IClassFixture<BoundedReplyGateway>
{
    private const int FiftyMegabytes = 50_000_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(CallPath.Sdk)]
    [InlineData(CallPath.Fast)]
    public async Task ReplyOverTheLimit_IsRefusedWithAnErrorNamingTheLimit_AndTheConnectionIsKept(CallPath path)
    {
        McpClient client = await ResilienceHelpers.BoundClientAsync(fixture.Gateway, Ct);
        int pidBefore = await PidAsync(client, "big_pid");
        long fastBefore = ResilienceHelpers.FastCalls(fixture.Gateway);

        (JsonObject? result, McpProtocolException? error) = await ResilienceHelpers.CallAsync(client, path, "big_big", new JsonObject { ["bytes"] = FiftyMegabytes }, Ct);
        long fastAfter = ResilienceHelpers.FastCalls(fixture.Gateway);
        (JsonObject? next, _) = await ResilienceHelpers.CallAsync(client, path, "big_echo_args", new JsonObject { ["text"] = "next" }, Ct);
        int pidAfter = await PidAsync(client, "big_pid");

        Assert.Null(result);
        Assert.NotNull(error);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);
        Assert.Matches(@"^The reply of server 'big' was 50000\d{3} bytes, more than its limit of 16777216 \(maxMessageBytes\); it was dropped\.$", error.RemoteMessage());
        Assert.Equal(fastBefore + (path == CallPath.Fast ? 1 : 0), fastAfter);
        Assert.Equal("next", next!["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
        Assert.Equal(pidBefore, pidAfter);
        Assert.True(fixture.Gateway.Downstream.Find("big")!.IsReady);
    }

    [Theory]
    [InlineData(CallPath.Sdk)]
    [InlineData(CallPath.Fast)]
    public async Task ReplyUnderAHigherMaxMessageBytes_Passes(CallPath path)
    {
        McpClient client = await ResilienceHelpers.BoundClientAsync(fixture.Gateway, Ct);

        (JsonObject? result, McpProtocolException? error) = await ResilienceHelpers.CallAsync(client, path, "roomy_big", new JsonObject { ["bytes"] = FiftyMegabytes }, Ct);

        Assert.Null(error);
        Assert.Equal(FiftyMegabytes, result!.FirstText().Length);
    }

    private static async Task<int> PidAsync(McpClient client, string tool) =>
        int.Parse((await client.CallRawAsync(tool, cancellationToken: Ct)).FirstText(), CultureInfo.InvariantCulture);
}
