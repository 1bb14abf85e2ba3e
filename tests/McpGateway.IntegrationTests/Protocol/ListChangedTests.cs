using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>A gateway in front of server-everything, whose resource list these tests change.</summary>
public sealed class ListChangedGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(("everything", TestServers.Everything()));
}

/// <summary>
/// List changes through the gateway (DESIGN §6): when a downstream server says its list changed, the gateway
/// refreshes its copy and tells the connected agents. server-everything changes its resource list on request
/// (<c>gzip-file-as-resource</c> registers a session resource and sends <c>notifications/resources/list_changed</c>);
/// it has no way to change its tools or prompts, so tool list changes are left to the restart tests
/// (Resilience/DownstreamFailureTests), which kill and restart a server.
/// </summary>
public sealed class ListChangedTests(ListChangedGateway fixture) : IClassFixture<ListChangedGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> SessionLinks() => ProtocolAgents.SessionLinks();

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task DownstreamResourceListChange_IsAnnouncedToConnectedAgents_AndTheNewResourceIsListed(AgentLink link)
    {
        Agent watcher = await fixture.ConnectAsync(link);
        Agent changer = await fixture.ConnectAsync(AgentLink.Http);
        string uri = await AddSessionResourceAsync(changer, "watched-" + link);

        await watcher.Wire.WaitForNotificationAsync(NotificationMethods.ResourceListChangedNotification, _ => true, "resources/list_changed", Ct);
        await CatalogGateway.UntilListedAsync(watcher, [uri], Ct);
    }

    [Fact]
    public async Task DownstreamResourceListChange_ShowsInA2026AgentsNextList()
    {
        // A 2026-07-28 agent gets no notifications between its requests: a session agent learns when the gateway has
        // refreshed, and the 2026-07-28 agent's next list must show the change.
        Agent watcher = await fixture.ConnectAsync(AgentLink.Http);
        Agent modern = await fixture.ConnectAsync(AgentLink.Http2026);
        string uri = await AddSessionResourceAsync(modern, "modern");

        await CatalogGateway.UntilListedAsync(watcher, [uri], Ct);
        JsonArray listed = (await modern.RequestAsync(RequestMethods.ResourcesList, null, Ct))["resources"]!.AsArray();

        Assert.Contains(listed, r => r!["uri"]!.GetValue<string>() == uri);
    }

    [Fact]
    public async Task DownstreamResourceListChange_ReachesA2026AgentListeningForIt_AndOnlyWhatItAskedFor()
    {
        Agent modern = await fixture.ConnectAsync(AgentLink.Http2026);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<JsonObject> listening = modern.RequestAsync(
            "subscriptions/listen",
            new JsonObject { ["notifications"] = new JsonObject { ["resourcesListChanged"] = true } },
            stop.Token);
        try
        {
            await modern.Wire.WaitForNotificationAsync("notifications/subscriptions/acknowledged", _ => true, "the acknowledgement", Ct);
            string uri = await AddSessionResourceAsync(await fixture.ConnectAsync(AgentLink.Http), "listened");

            JsonObject changed = await modern.Wire.WaitForNotificationAsync(NotificationMethods.ResourceListChangedNotification, _ => true, "resources/list_changed on the listen stream", Ct);
            Assert.NotNull(changed["_meta"]?["io.modelcontextprotocol/subscriptionId"]);
            await CatalogGateway.UntilListedAsync(modern, [uri], Ct);
        }
        finally
        {
            await stop.CancelAsync();
            await ((Task)listening).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        // Tools and prompts were not asked for; the gateway tells every listener of every list when one server changes.
        Assert.Empty(modern.Wire.Notifications(NotificationMethods.ToolListChangedNotification));
        Assert.Empty(modern.Wire.Notifications(NotificationMethods.PromptListChangedNotification));
    }

    [Fact(Skip = "server-everything cannot change its tool list on request (it registers its client-dependent tools once, at start-up); tool list changes are covered by Resilience/DownstreamFailureTests, which kill and restart a server.")]
    public void DownstreamToolListChange_IsAnnouncedToConnectedAgents()
    {
    }

    /// <summary>Makes everything register <c>demo://resource/session/&lt;name&gt;.gz</c>; returns its URI.</summary>
    private static async Task<string> AddSessionResourceAsync(Agent agent, string name)
    {
        JsonObject result = await agent.CallAsync("everything_gzip-file-as-resource", new JsonObject
        {
            ["name"] = name + ".gz",
            ["data"] = CatalogGateway.DataUri("list change " + name),
        }, Ct);
        ProtocolJson.AssertSucceeded(result);
        return "demo://resource/session/" + name + ".gz";
    }
}
