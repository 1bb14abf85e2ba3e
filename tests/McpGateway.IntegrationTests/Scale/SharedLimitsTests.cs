using System.Net;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Operations;
using McpGateway.IntegrationTests.Security;
using McpGateway.Scale;
using McpGateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.IntegrationTests.Scale;

/// <summary>
/// Two gateways (replicas, in process, each with its own fixture server) sharing one real redis-server: an agent's
/// call budget, the HTTP request budget and the session limits hold across both together; when Redis is killed
/// mid-run both keep serving with limits of their own, warn once and say so in <c>/status</c>; when it is back, the
/// limits are shared again. Windows are an hour long, so none turns over during a test.
/// </summary>
public sealed class SharedLimitsTests
{
    private const string Rules = """
        {"agents": {
          "a": {"allow": {"servers": ["fx"]}}, "b": {"allow": {"servers": ["fx"]}}, "c": {"allow": {"servers": ["fx"]}},
          "x": {"allow": {"servers": ["fx"]}}, "y": {"allow": {"servers": ["fx"]}}, "z": {"allow": {"servers": ["fx"]}}
        }}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CallLimit_OfAnAgent_HoldsAcrossBothReplicas_OnTheFastPathAndTheSdkPath()
    {
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        await using Replicas replicas = await Replicas.StartAsync(redis, """{"rate": {"windowSeconds": 3600, "calls": 4}}""");
        string onA = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        string onB = await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));

        HttpReply[] allowed =
        [
            await Echo(replicas.A, onA, 1, sdk: false),
            await Echo(replicas.B, onB, 2, sdk: false),
            await Echo(replicas.A, onA, 3, sdk: true),
            await Echo(replicas.B, onB, 4, sdk: true),
        ];
        HttpReply[] refused = [await Echo(replicas.A, onA, 5, sdk: false), await Echo(replicas.B, onB, 6, sdk: true), await Echo(replicas.B, onB, 7, sdk: false)];
        string otherAgent = await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("b"));

        Assert.All(allowed, AssertEchoed);
        Assert.All(refused, r => AssertRateLimited(r, "a", 4));
        AssertEchoed(await Echo(replicas.B, otherAgent, 8, sdk: false));
    }

    [Fact]
    public async Task Reload_OfTheCallLimits_OnOneReplica_KeepsThemShared_AndARedisChangeWaitsForARestart()
    {
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        await using Replicas replicas = await Replicas.StartAsync(redis, """{"rate": {"windowSeconds": 3600, "calls": 4}}""");
        string onA = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        string onB = await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        HttpReply[] before = [await Echo(replicas.A, onA, 1, sdk: false), await Echo(replicas.B, onB, 2, sdk: false)];

        string settingsFile = replicas.A.Gateway.Services.GetRequiredService<ConfigurationStore>().Sources!.Settings.Path!;
        string reloaded = File.ReadAllText(settingsFile).Replace("\"calls\": 4", "\"calls\": 3", StringComparison.Ordinal);
        File.WriteAllText(settingsFile, reloaded);
        McpGateway.Hosting.ConfigurationReloader reloader = replicas.A.Gateway.Services.GetRequiredService<McpGateway.Hosting.ConfigurationReloader>();
        ReloadOutcome outcome = await reloader.ReloadAsync(Ct);

        // Three taken in Redis by now: B (still 4) has room for one more, A (now 3) none.
        HttpReply third = await Echo(replicas.B, onB, 3, sdk: true);
        HttpReply overOnA = await Echo(replicas.A, onA, 4, sdk: false);

        // The file watcher may reload the edit before this test asks: whichever reload reads it first says so.
        var outcomes = new System.Collections.Concurrent.ConcurrentQueue<ReloadOutcome>();
        reloader.Reloaded += outcomes.Enqueue;
        File.WriteAllText(settingsFile, reloaded.Replace("127.0.0.1", "localhost", StringComparison.Ordinal));
        await reloader.ReloadAsync(Ct);

        Assert.All(before, AssertEchoed);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Errors));
        Assert.Empty(outcome.Notes);
        AssertEchoed(third);
        AssertRateLimited(overOnA, "a", 3);
        Assert.All(outcomes, o => Assert.True(o.Succeeded, string.Join("; ", o.Errors)));
        Assert.Contains(outcomes, o => o.Notes.Contains("'redis' changed; it takes effect when the gateway restarts"));
        Assert.DoesNotContain(outcomes, o => string.Join(" ", o.Notes).Contains(redis.Configuration, StringComparison.Ordinal));
        Assert.True(replicas.A.Redis.IsAvailable);
    }

    [Fact]
    public async Task HttpRequestLimit_OfAClient_HoldsAcrossBothReplicas()
    {
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        await using Replicas replicas = await Replicas.StartAsync(redis, """{"rate": {"windowSeconds": 3600, "httpRequests": 5}}""");

        // Two requests each to open a session (initialize, initialized), then one call: five from this address.
        string onA = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        string onB = await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        HttpReply fifth = await Echo(replicas.A, onA, 1, sdk: false);
        HttpReply[] over = [await Echo(replicas.B, onB, 2, sdk: false), await Echo(replicas.A, onA, 3, sdk: true)];

        AssertEchoed(fifth);
        Assert.All(over, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.Status);
            Assert.Matches(@"^Too many requests: at most 5 per 3600 s\. Retry after \d+ s\.$", r.Error["message"]!.GetValue<string>());
            Assert.InRange(int.Parse(Assert.Single(r.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture), 1, 3600);
        });
    }

    [Fact]
    public async Task SessionLimits_InTotalAndPerAgent_HoldAcrossBothReplicas_AndAClosedSessionFreesItsSlotForBoth()
    {
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        await using Replicas replicas = await Replicas.StartAsync(redis, """{"sessions": {"total": 3, "perAgent": 2, "perClientAddress": 100}}""");

        string[] opened =
        [
            await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("x")),
            await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("x")),
        ];
        (string? thirdX, HttpReply overAgent) = await replicas.A.Http.TryOpenSessionAsync(Ct, RawMcpHttp.Agent("x"));
        string y = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("y"));
        (string? z, HttpReply overTotal) = await replicas.B.Http.TryOpenSessionAsync(Ct, RawMcpHttp.Agent("z"));

        Task ended = SessionEndedAsync(replicas.A.Gateway, replicas.A.Gateway.SdkSessionId(y));
        Assert.Equal(HttpStatusCode.OK, (await replicas.A.Http.DeleteAsync(y, Ct)).Status);
        await ended.Within("the deleted session to end", Ct);

        // The release went to Redis on A's connection; a later command on that connection is answered after it.
        await replicas.A.Redis.Database!.PingAsync();
        (string? zAgain, _) = await replicas.B.Http.TryOpenSessionAsync(Ct, RawMcpHttp.Agent("z"));

        Assert.Null(thirdX);
        AssertSessionRefused(overAgent, "agent 'x' has 2 open sessions, the limit per agent (limits.sessions.perAgent)");
        Assert.Null(z);
        AssertSessionRefused(overTotal, "the gateway has 3 open sessions, its limit (limits.sessions.total)");
        Assert.NotNull(zAgain);
        Assert.Equal((1, 2), (replicas.A.Sessions, replicas.B.Sessions));
        AssertEchoed(await Echo(replicas.A, opened[0], 1, sdk: false));
        AssertEchoed(await Echo(replicas.B, opened[1], 2, sdk: false));
    }

    [Fact]
    public async Task RedisKilledMidRun_BothReplicasServeWithLimitsOfTheirOwn_WarnOnce_AndShowIt_ThenShareAgainWhenItIsBack()
    {
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        await using Replicas replicas = await Replicas.StartAsync(redis, """{"rate": {"windowSeconds": 3600, "calls": 3}, "sessions": {"total": 100, "perAgent": 2, "perClientAddress": 100}}""");
        string aOnA = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        string aOnB = await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        AssertEchoed(await Echo(replicas.A, aOnA, 1, sdk: false));

        await redis.KillAsync();
        await Task.WhenAll(replicas.WaitUntilAvailableAsync(false));

        // Each replica now counts alone: a fresh budget of 3 on each, and a second session of 'a' on each.
        HttpReply[] onA = [await Echo(replicas.A, aOnA, 2, sdk: false), await Echo(replicas.A, aOnA, 3, sdk: true), await Echo(replicas.A, aOnA, 4, sdk: false)];
        HttpReply[] onB = [await Echo(replicas.B, aOnB, 5, sdk: true), await Echo(replicas.B, aOnB, 6, sdk: false), await Echo(replicas.B, aOnB, 7, sdk: false)];
        HttpReply[] overLocally = [await Echo(replicas.A, aOnA, 8, sdk: false), await Echo(replicas.B, aOnB, 9, sdk: true)];
        string secondOnA = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        (string? thirdOnA, HttpReply overAgentLocally) = await replicas.A.Http.TryOpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        JsonObject statusDuring = await replicas.A.StatusAsync();

        Task[] readded = replicas.NextReadditions();
        await redis.RestartAsync(Ct);
        await Task.WhenAll(replicas.WaitUntilAvailableAsync(true));
        await Task.WhenAll(readded);

        // Shared again, in a new window (Redis came back empty): agent 'b' gets 3 calls across both replicas together.
        string bOnA = await replicas.A.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("b"));
        string bOnB = await replicas.B.Http.OpenSessionAsync(Ct, RawMcpHttp.Agent("b"));
        HttpReply[] sharedAgain = [await Echo(replicas.A, bOnA, 10, sdk: false), await Echo(replicas.B, bOnB, 11, sdk: false), await Echo(replicas.A, bOnA, 12, sdk: true)];
        HttpReply overShared = await Echo(replicas.B, bOnB, 13, sdk: false);

        // The sessions each replica admitted alone are counted in Redis again: 'a' has 3 there (two on A, one on B).
        (string? aOnBAgain, HttpReply overAgentShared) = await replicas.B.Http.TryOpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        JsonObject statusAfter = await replicas.A.StatusAsync();

        Assert.All([.. onA, .. onB], AssertEchoed);
        Assert.All(overLocally, r => AssertRateLimited(r, "a", 3));
        Assert.NotNull(secondOnA);
        Assert.Null(thirdOnA);
        AssertSessionRefused(overAgentLocally, "limits.sessions.perAgent");
        Assert.All(replicas.Both, r => Assert.Equal(1, r.OutageWarnings));
        Assert.Equal("unavailable", statusDuring["redis"]!["state"]!.GetValue<string>());
        Assert.Equal("per replica", statusDuring["redis"]!["limits"]!.GetValue<string>());

        Assert.All(sharedAgain, AssertEchoed);
        AssertRateLimited(overShared, "b", 3);
        Assert.Null(aOnBAgain);
        AssertSessionRefused(overAgentShared, "limits.sessions.perAgent");
        Assert.Equal("connected", statusAfter["redis"]!["state"]!.GetValue<string>());
        Assert.Equal("shared", statusAfter["redis"]!["limits"]!.GetValue<string>());
        Assert.Equal(1, statusAfter["redis"]!["outages"]!.GetValue<int>());
        Assert.All(replicas.Both, r => Assert.Equal(1, r.OutageWarnings));
        Assert.All(replicas.Both, r => Assert.Empty(r.Gateway.Logs.Unhandled));
    }

    private static Task<HttpReply> Echo(Replica replica, string session, int n, bool sdk) =>
        replica.Http.PostAsync(RawMcpHttp.ToolCall(n, "fx_echo_args", new JsonObject { ["n"] = n }, meta: sdk), Ct, session);

    private static void AssertEchoed(HttpReply reply)
    {
        Assert.True(reply.Status == HttpStatusCode.OK && reply.Message?["result"] is not null, reply.Body);
        Assert.Equal(reply.Message!["id"]!.GetValue<int>(), reply.Result["structuredContent"]!["arguments"]!["n"]!.GetValue<int>());
    }

    private static void AssertRateLimited(HttpReply reply, string agent, int calls)
    {
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal(-32029, reply.Error["code"]!.GetValue<int>());
        Assert.Matches($@"^Rate limit: agent '{agent}' may make {calls} calls per 3600 s\. Retry after \d+ s\.$", reply.Error["message"]!.GetValue<string>());
        Assert.InRange(reply.Error["data"]!["retryAfterSeconds"]!.GetValue<int>(), 1, 3600);
    }

    private static void AssertSessionRefused(HttpReply reply, string limit)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, reply.Status);
        Assert.Contains(limit, reply.Error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static Task SessionEndedAsync(InProcessGateway gateway, string sessionId)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SessionRegistry registry = gateway.Services.GetRequiredService<SessionRegistry>();
        void OnEnded(GatewaySession session)
        {
            if (session.SessionId == sessionId)
            {
                registry.SessionEnded -= OnEnded;
                ended.TrySetResult();
            }
        }

        registry.SessionEnded += OnEnded;
        return ended.Task;
    }

    /// <summary>One gateway of the pair.</summary>
    private sealed record Replica(InProcessGateway Gateway, RawMcpHttp Http)
    {
        public RedisConnection Redis => Gateway.Services.GetRequiredService<RedisConnection>();

        public RedisSessionSlots Slots => (RedisSessionSlots)Gateway.Services.GetRequiredService<ISharedSessionSlots>();

        public int Sessions => Gateway.Services.GetRequiredService<SessionRegistry>().Count;

        public int OutageWarnings => Gateway.Logs.Lines.Count(l => l.StartsWith("Warning McpGateway.Scale.RedisConnection:", StringComparison.Ordinal) && l.Contains("does not answer", StringComparison.Ordinal));

        public Task<JsonObject> StatusAsync() => GatewayEndpoints.GetJsonAsync(GatewayEndpoints.RootOf(Gateway.Endpoint), "/status", Ct);
    }

    /// <summary>Two gateways with the same files (the limits given, Redis, a key prefix of the test's own).</summary>
    private sealed class Replicas(Replica a, Replica b) : IAsyncDisposable
    {
        public Replica A { get; } = a;

        public Replica B { get; } = b;

        public Replica[] Both => [A, B];

        public static async Task<Replicas> StartAsync(RedisServer redis, string limits)
        {
            string settings = $$"""
                {
                  "limits": {{limits}},
                  "redis": { "configuration": "{{redis.Configuration}}", "keyPrefix": "{{RedisReplica.NewPrefix()}}" }
                }
                """;
            InProcessGateway[] started = await Task.WhenAll(StartOneAsync(settings), StartOneAsync(settings));
            var replicas = new Replicas(new Replica(started[0], new RawMcpHttp(started[0].Endpoint)), new Replica(started[1], new RawMcpHttp(started[1].Endpoint)));
            await Task.WhenAll(replicas.WaitUntilAvailableAsync(true));
            return replicas;
        }

        private static Task<InProcessGateway> StartOneAsync(string settings) =>
            InProcessGateway.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, cancellationToken: Ct, settingsJson: settings);

        public Task[] WaitUntilAvailableAsync(bool available) => [.. Both.Select(r => RedisReplica.WaitUntilAvailableAsync(r.Redis, available, Ct))];

        /// <summary>Tasks that complete when each replica has added its session slots to Redis again after an outage.</summary>
        public Task[] NextReadditions() => [.. Both.Select(r => RedisReplica.NextRenewal(r.Slots, readd: true))];

        public async ValueTask DisposeAsync()
        {
            await Task.WhenAll(A.Gateway.DisposeAsync().AsTask(), B.Gateway.DisposeAsync().AsTask());
        }
    }
}
