using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Scale;
using McpGateway.IntegrationTests.Security;
using McpGateway.Scale;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpGateway.IntegrationTests.Replicas.SessionMigrationTests;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// What a session changes after it started (its log level, its subscriptions, its end) travels through the session
/// state store: with a store the replicas share, a replica that resumes the session has them, made again with its
/// own servers (an in-memory store given to both, and Redis, the shared store the settings configure); with each
/// replica's own store (the default), they stay where they were set. Both replicas front
/// their own server-everything, whose subscriber updates are what a subscription made again brings.
/// </summary>
public sealed class SessionStateTests
{
    private const string Architecture = "demo://resource/static/document/architecture.md";
    private const string Toggle = "everything_toggle-subscriber-updates";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Servers => TestServers.File(("everything", TestServers.Everything()));

    [Fact]
    public async Task LogLevelAndSubscriptions_SetOnOneReplica_ApplyOnTheOther_WithAStoreBothShare()
    {
        string key = SessionKey.Generate();
        var shared = new InMemorySessionStateStore(TimeProvider.System);
        await using Replicas replicas = await Replicas.StartAsync(Servers, Rules, [Settings(key), Settings(key)], Ct, services: (_, services) => services.AddSingleton<ISessionStateStore>(shared));

        await AssertStateMovesAsync(replicas);
    }

    [Fact]
    public async Task LogLevelSubscriptionsAndTheEnd_MoveThroughRedis()
    {
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        string settings = new JsonObject
        {
            ["sessions"] = new JsonObject { ["keys"] = new JsonArray(SessionKey.Generate()) },
            ["redis"] = new JsonObject { ["configuration"] = redis.Configuration, ["keyPrefix"] = RedisReplica.NewPrefix() },
        }.ToJsonString();
        await using Replicas replicas = await Replicas.StartAsync(Servers, Rules, [settings, settings], Ct);
        await Task.WhenAll(Enumerable.Range(0, 2).Select(i => RedisReplica.WaitUntilAvailableAsync(replicas[i].Services.GetRequiredService<RedisConnection>(), true, Ct)));

        await AssertStateMovesAsync(replicas);

        // A session ended on A (never seen by B) is not resumed by B: the end is in Redis.
        replicas.Router.Pinned = 0;
        McpClient ending = await replicas.ConnectAsync(Ct, As("tester"));
        using var delete = new HttpRequestMessage(HttpMethod.Delete, replicas[0].Endpoint);
        Assert.Equal(200, (await SecurityTestKit.SendAsync(delete, As("tester"), ending.SessionId, Ct)).Status);
        RawResponse onB = await SecurityTestKit.PostAsync(replicas[1].Endpoint, SecurityTestKit.ToolCall("everything_echo", new JsonObject { ["message"] = "x" }), As("tester"), ending.SessionId, Ct);
        Assert.True(onB.Status == 404, onB.ToString());
    }

    [Fact]
    public async Task LogLevelAndSubscriptions_StayOnTheirReplica_WithEachReplicasOwnStore()
    {
        string key = SessionKey.Generate();
        await using Replicas replicas = await Replicas.StartAsync(Servers, Rules, [Settings(key), Settings(key)], Ct);
        replicas.Router.Pinned = 0;
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"));
        await SetLevelAndSubscribeAsync(client);

        replicas.Router.Pinned = 1;
        JsonObject echo = await client.CallRawAsync("everything_echo", new JsonObject { ["message"] = "on B" }, Ct);

        GatewaySession onA = replicas.SessionOn(0, client)!;
        GatewaySession onB = replicas.SessionOn(1, client)!;
        Assert.Equal("Echo: on B", echo.FirstText());
        Assert.Equal(("tester", "tester"), (onA.BoundAgent, onB.BoundAgent));
        Assert.Equal(("error", null), (onA.LogLevel, onB.LogLevel));
        Assert.Contains(Subscribers(replicas, 0), s => ReferenceEquals(s.Session, onA));
        Assert.DoesNotContain(Subscribers(replicas, 1), s => ReferenceEquals(s.Session, onB));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DeletedSession_IsResumedNeitherByTheReplicaThatEndedIt_NorWithASharedStore_ByAnother(bool sharedStore)
    {
        string key = SessionKey.Generate();
        var shared = new InMemorySessionStateStore(TimeProvider.System);
        await using Replicas replicas = await Replicas.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, [Settings(key), Settings(key)], Ct,
            services: sharedStore ? (_, services) => services.AddSingleton<ISessionStateStore>(shared) : null);
        replicas.Router.Pinned = 0;
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"));
        string call = SecurityTestKit.ToolCall("fx_echo_args");

        using var delete = new HttpRequestMessage(HttpMethod.Delete, replicas[0].Endpoint);
        RawResponse ended = await SecurityTestKit.SendAsync(delete, As("tester"), client.SessionId, Ct);
        RawResponse onA = await SecurityTestKit.PostAsync(replicas[0].Endpoint, call, As("tester"), client.SessionId, Ct);
        RawResponse onB = await SecurityTestKit.PostAsync(replicas[1].Endpoint, call, As("tester"), client.SessionId, Ct);

        Assert.True(ended.Status == 200, ended.ToString());
        Assert.True(onA.Status == 404, onA.ToString());
        Assert.Equal("Session not found", onA.Message!["error"]!["message"]!.GetValue<string>());

        // Without a shared store, B cannot know the session ended: it resumes it (the documented limit).
        Assert.True(onB.Status == (sharedStore ? 404 : 200), onB.ToString());
    }

    /// <summary>Sets a level and subscribes on replica A, moves the session to B, and checks B has both.</summary>
    private static async Task AssertStateMovesAsync(Replicas replicas)
    {
        replicas.Router.Pinned = 0;
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"));
        await SetLevelAndSubscribeAsync(client);

        // On B: a GET (the client's stream, opened again there) resumes the session; the toggle runs after it resumed.
        replicas.Router.Pinned = 1;
        McpClient stream = await replicas.ReconnectAsync(client, Ct, As("tester"));
        var updated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using IAsyncDisposable registration = stream.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (notification, _) =>
        {
            if (notification.Params?["uri"]?.GetValue<string>() == Architecture)
            {
                updated.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        await Within(replicas.Router.EventStreamOpenedAsync(1), replicas.Router);
        await client.CallRawAsync(Toggle, null, Ct);
        try
        {
            // B's own server-everything was subscribed when the session resumed: its update reaches the session there.
            await Within(updated.Task, replicas.Router);
        }
        finally
        {
            await client.CallRawAsync(Toggle, null, Ct);
        }

        GatewaySession onB = replicas.SessionOn(1, client)!;
        Assert.True(onB.Resumed);
        Assert.Equal("error", onB.LogLevel);
        Assert.Contains(Subscribers(replicas, 1), s => ReferenceEquals(s.Session, onB) && s.ExposedUri == Architecture);
    }

    private static async Task SetLevelAndSubscribeAsync(McpClient client)
    {
        await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.LoggingSetLevel, Params = new JsonObject { ["level"] = "error" } }, Ct);
        await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ResourcesSubscribe, Params = new JsonObject { ["uri"] = Architecture } }, Ct);
    }

    private static List<(GatewaySession Session, string ExposedUri)> Subscribers(Replicas replicas, int replica)
    {
        DownstreamServer everything = replicas[replica].Downstream.Find("everything")!;
        return replicas[replica].Services.GetRequiredService<SubscriptionRegistry>().SubscribersOf(everything, Architecture);
    }
}
