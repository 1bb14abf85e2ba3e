using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// A gateway in front of server-everything, whose resource list these tests change, and of the fixture server with
/// <c>--dynamic-tools</c>, whose tool list they change.
/// </summary>
public sealed class ListChangedGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(("everything", TestServers.Everything()), ("dyn", TestServers.Fixture("--dynamic-tools")));
}

/// <summary>
/// List changes through the gateway (DESIGN §6): when a downstream server says its list changed, the gateway
/// refreshes its copy and tells the connected agents. server-everything changes its resource list on request
/// (<c>gzip-file-as-resource</c> registers a session resource and sends <c>notifications/resources/list_changed</c>);
/// it has no way to change its tools, so the fixture server adds tools on request (<c>add_tool</c>) and sends
/// <c>notifications/tools/list_changed</c>. Tool lists that change because a server restarts are covered by
/// Resilience/DownstreamFailureTests.
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

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task DownstreamToolListChange_IsAnnouncedToConnectedAgents_AndTheNewToolCanBeCalled(AgentLink link)
    {
        Agent watcher = await fixture.ConnectAsync(link);
        Agent changer = await fixture.ConnectAsync(AgentLink.Http);
        string added = "late-" + link;
        ProtocolJson.AssertSucceeded(await changer.CallAsync("dyn_add_tool", new JsonObject { ["name"] = added }, Ct));

        // The announcement comes after the gateway has refreshed; other announcements (a session binding to its agent)
        // may come first, so list again on each until the tool is there.
        for (int seen = 0; ; seen++)
        {
            await watcher.Wire.WaitForNotificationCountAsync(NotificationMethods.ToolListChangedNotification, seen + 1, "tools/list_changed", Ct);
            JsonArray listed = (await watcher.RequestAsync(RequestMethods.ToolsList, null, Ct))["tools"]!.AsArray();
            if (listed.Any(t => t!["name"]!.GetValue<string>() == "dyn_" + added))
            {
                break;
            }
        }

        JsonObject result = await watcher.CallAsync("dyn_" + added, null, Ct);

        Assert.Equal("added tool " + added, result["content"]![0]!["text"]!.GetValue<string>());
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
