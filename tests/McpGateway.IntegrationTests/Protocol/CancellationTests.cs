using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// Gateways in front of the probe server, which reports which of its calls were cancelled: one that keeps sessions,
/// and one started with <c>--stateless</c>, where even a 2025-11-25 client is served request by request.
/// </summary>
public sealed class CancellationGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(("probe", ProtocolServers.Probe()));

    protected override string? StatelessServers => Servers;
}

/// <summary>
/// Cancellation through the gateway (DESIGN §6): an agent that gives up on a call makes the gateway cancel it
/// downstream. The agent's client cancels in the way of its transport: over stdio it sends
/// <c>notifications/cancelled</c>; over HTTP it aborts the request (the SDK's client sends no notification on stateful
/// HTTP). That the server saw its call cancelled is asked of the server itself, through the gateway: a prompt answer to
/// a later call proves nothing, since the cancelled call could still be running.
/// </summary>
public sealed class CancellationTests(CancellationGateway fixture) : IClassFixture<CancellationGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> AllLinks() => ProtocolAgents.AllLinks();

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task CancelledCall_IsCancelledOnTheDownstreamServer(AgentLink link) =>
        await AssertCancelledDownstreamAsync(await fixture.ConnectAsync(link));

    [Fact]
    public async Task CancelledCall_OnAStatelessGateway_IsCancelledOnTheDownstreamServer() =>
        await AssertCancelledDownstreamAsync(await fixture.StatelessAgents.ConnectAsync(AgentLink.Http, ProtocolGateway.Tester, cancellationToken: Ct));

    private static async Task AssertCancelledDownstreamAsync(Agent agent)
    {
        int before = (await CancellationsAsync(agent, atLeast: 0)).Count;
        string token = "cancel-me-" + Guid.NewGuid().ToString("N");
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        Task<JsonObject> call = agent.CallAsync("probe_slow", new JsonObject { ["ms"] = 60000 }, giveUp.Token, new JsonObject { ["progressToken"] = token });
        await agent.Wire.WaitForNotificationAsync(NotificationMethods.ProgressNotification, p => p["progressToken"]?.GetValue<string>() == token, "the slow call to start downstream", Ct);
        await giveUp.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        JsonArray cancelled = await CancellationsAsync(agent, atLeast: before + 1);
        Assert.Equal(before + 1, cancelled.Count);
    }

    /// <summary>
    /// The slow calls the probe saw cancelled, once there are <paramref name="atLeast"/>: the probe answers as soon as
    /// they are there, and gives up only after 100 s (a hang guard below the gateway's two-minute call timeout).
    /// </summary>
    private static async Task<JsonArray> CancellationsAsync(Agent agent, int atLeast)
    {
        JsonObject result = await agent.CallAsync("probe_cancellations", new JsonObject { ["count"] = atLeast, ["timeoutMs"] = 100_000 }, Ct);
        return result["structuredContent"]!["cancelled"]!.AsArray();
    }
}
