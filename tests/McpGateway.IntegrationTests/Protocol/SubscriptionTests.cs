using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// A gateway in front of server-everything for <see cref="SubscriptionTests"/> (its update simulation is global to the
/// process, so no other test may toggle it), and a stateless gateway (<c>--stateless</c>) in front of the fixture.
/// </summary>
public sealed class SubscriptionGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(("everything", TestServers.Everything()));

    protected override string? StatelessServers => TestServers.File(("conf", ProtocolServers.Conformance()));
}

/// <summary>
/// Resource subscriptions through the gateway (DESIGN §6): server-everything's <c>toggle-subscriber-updates</c> sends
/// <c>notifications/resources/updated</c> for every subscribed URI at once when switched on (and every 5 s after);
/// each update reaches exactly the sessions subscribed to that URI, and none after they unsubscribe.
/// </summary>
public sealed class SubscriptionTests(SubscriptionGateway fixture) : IClassFixture<SubscriptionGateway>
{
    private const string Architecture = "demo://resource/static/document/architecture.md";
    private const string Features = "demo://resource/static/document/features.md";
    private const string Toggle = "everything_toggle-subscriber-updates";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> SessionLinks() => ProtocolAgents.SessionLinks();

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task Updates_ReachTheSessionsSubscribedToThatUri_AndNoneAfterUnsubscribe(AgentLink link)
    {
        Agent subscriber = await fixture.ConnectAsync(link);
        Agent observer = await fixture.ConnectAsync(link);
        await subscriber.RequestAsync(RequestMethods.ResourcesSubscribe, Uri(Architecture), Ct);
        await subscriber.RequestAsync(RequestMethods.ResourcesSubscribe, Uri(Features), Ct);
        await observer.RequestAsync(RequestMethods.ResourcesSubscribe, Uri(Features), Ct);
        int subscriberMark;
        int observerMark;
        try
        {
            // Switched on, everything at once sends one update per subscribed URI.
            await subscriber.CallAsync(Toggle, null, Ct);
            await subscriber.Wire.WaitForNotificationAsync(NotificationMethods.ResourceUpdatedNotification, Is(Architecture), "an update of " + Architecture, Ct);
            await subscriber.Wire.WaitForNotificationAsync(NotificationMethods.ResourceUpdatedNotification, Is(Features), "an update of " + Features, Ct);
            await observer.Wire.WaitForNotificationAsync(NotificationMethods.ResourceUpdatedNotification, Is(Features), "the observer's update of " + Features, Ct);
            await subscriber.CallAsync(Toggle, null, Ct);

            await subscriber.RequestAsync(RequestMethods.ResourcesUnsubscribe, Uri(Architecture), Ct);
            subscriberMark = subscriber.Wire.Count;
            observerMark = observer.Wire.Count;

            // Switched on again: the next batch carries only what is still subscribed. Its update of the URI still
            // subscribed proves the batch has been delivered, so the other URI's absence is not a matter of waiting longer.
            await subscriber.CallAsync(Toggle, null, Ct);
            await subscriber.Wire.WaitForNotificationAsync(NotificationMethods.ResourceUpdatedNotification, Is(Features), "a later update of " + Features, Ct, from: subscriberMark);
            await observer.Wire.WaitForNotificationAsync(NotificationMethods.ResourceUpdatedNotification, Is(Features), "the observer's later update of " + Features, Ct, from: observerMark);
        }
        finally
        {
            await subscriber.CallAsync(Toggle, null, Ct);
            await subscriber.RequestAsync(RequestMethods.ResourcesUnsubscribe, Uri(Features), Ct);
            await observer.RequestAsync(RequestMethods.ResourcesUnsubscribe, Uri(Features), Ct);
        }

        Assert.DoesNotContain(subscriber.Wire.Notifications(NotificationMethods.ResourceUpdatedNotification, from: subscriberMark), u => Is(Architecture)(u));
        Assert.DoesNotContain(observer.Wire.Notifications(NotificationMethods.ResourceUpdatedNotification), u => Is(Architecture)(u));
        Assert.All(subscriber.Wire.Notifications(NotificationMethods.ResourceUpdatedNotification), u => Assert.Contains(u["uri"]!.GetValue<string>(), new[] { Architecture, Features }));
    }

    [Fact]
    public async Task Subscribe_FromA2026Agent_IsRefusedAsAMethodOfTheOlderRevision()
    {
        // 2026-07-28 removed resources/subscribe; an agent of that era is served request by request and cannot be
        // sent updates later, so the SDK's answer (HTTP 404 with a JSON-RPC method-not-found error) is what it gets.
        Agent agent = await fixture.ConnectAsync(AgentLink.Http2026);

        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => agent.RequestAsync(RequestMethods.ResourcesSubscribe, Uri(Architecture), Ct));

        // The body arrives JSON-escaped in the HttpRequestException's message.
        Assert.Contains("resources/subscribe", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not available on protocol version", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_FromA2026Agent_GrantsWhatItMayRead_AndCarriesItsUpdatesTaggedWithTheSubscription()
    {
        // 2026-07-28 replaced resources/subscribe with subscriptions/listen: a request held open whose stream carries
        // the notifications asked for, each tagged with the request's id, until the agent ends it.
        Agent listener = await fixture.ConnectAsync(AgentLink.Http2026);
        Agent outsider = await fixture.Agents.ConnectAsync(AgentLink.Http2026, ProtocolGateway.Outsider, cancellationToken: Ct);
        Agent toggler = await fixture.ConnectAsync(AgentLink.Http);
        var wanted = new JsonObject
        {
            ["notifications"] = new JsonObject { ["toolsListChanged"] = true, ["resourceSubscriptions"] = new JsonArray(Architecture) },
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<JsonObject> listening = listener.RequestAsync("subscriptions/listen", (JsonObject)wanted.DeepClone(), stop.Token);
        Task<JsonObject> outsiderListening = outsider.RequestAsync("subscriptions/listen", (JsonObject)wanted.DeepClone(), stop.Token);
        try
        {
            JsonObject granted = await listener.Wire.WaitForNotificationAsync("notifications/subscriptions/acknowledged", _ => true, "the acknowledgement", Ct);
            JsonObject outsiderGranted = await outsider.Wire.WaitForNotificationAsync("notifications/subscriptions/acknowledged", _ => true, "the outsider's acknowledgement", Ct);
            Assert.Equal(Architecture, granted["notifications"]!["resourceSubscriptions"]![0]!.GetValue<string>());
            Assert.True(granted["notifications"]!["toolsListChanged"]!.GetValue<bool>());
            Assert.Null(outsiderGranted["notifications"]!["resourceSubscriptions"]);
            JsonNode subscriptionId = granted["_meta"]!["io.modelcontextprotocol/subscriptionId"]!;

            await toggler.CallAsync(Toggle, null, Ct);
            JsonObject update = await listener.Wire.WaitForNotificationAsync(NotificationMethods.ResourceUpdatedNotification, Is(Architecture), "an update of " + Architecture, Ct);
            DirectServers.AssertJsonEqual(subscriptionId, update["_meta"]!["io.modelcontextprotocol/subscriptionId"]);
        }
        finally
        {
            await toggler.CallAsync(Toggle, null, Ct);
            await stop.CancelAsync();
            await ((Task)Task.WhenAll(listening, outsiderListening)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        Assert.Empty(outsider.Wire.Notifications(NotificationMethods.ResourceUpdatedNotification));
    }

    [Fact]
    public async Task Subscribe_OnAStatelessGateway_IsRefusedWithAClearError()
    {
        Agent agent = await fixture.StatelessAgents.ConnectAsync(AgentLink.Http, ProtocolGateway.Tester, cancellationToken: Ct);

        McpProtocolException error = await agent.ErrorAsync(RequestMethods.ResourcesSubscribe, Uri("test://watched-resource"), Ct);

        Assert.Equal(McpErrorCode.InvalidRequest, error.ErrorCode);
        Assert.Contains("Resource subscriptions need a session", error.RemoteMessage(), StringComparison.Ordinal);
    }

    private static JsonObject Uri(string uri) => new() { ["uri"] = uri };

    private static Func<JsonObject, bool> Is(string uri) => update => update["uri"]?.GetValue<string>() == uri;
}
