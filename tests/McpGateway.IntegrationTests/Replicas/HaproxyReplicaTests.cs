using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Scale;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// Several replicas behind an ordinary load balancer (issue 13 item 5): three real gateway processes with the same
/// files, a real HAProxy in front doing round robin with no stickiness, real downstream servers (server-everything
/// from npm, one per replica), and a real agent (the official TypeScript SDK, tests/fixtures/clients/replica-client.mjs)
/// making a few hundred calls: of one stateful session (shared session keys), of a stateless gateway, of a 2026-07-28
/// agent. Where each call landed is read from each replica's own <c>/metrics</c>; shared limits use a real Redis.
/// Nothing here waits for time: for ready lines, HAProxy's health checks passing, the client's checkpoint, a
/// replica's exit, the reload line of each replica, Redis being shared.
/// </summary>
public sealed class HaproxyReplicaTests
{
    private const string Agent = "replica-agent";
    private const string Tool = "everything_echo";
    private const string Rules = """{ "agents": { "replica-agent": { "allow": { "servers": ["everything"] } } } }""";
    private const string NoSettings = "{}";

    /// <summary>Calls made before the kill (at least) and after it, with a few in flight at once.</summary>
    private static readonly string[] s_killRun = ["--tool", Tool, "--checkpoint", "150", "--after", "150", "--concurrency", "4"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Servers => TestServers.File(("everything", TestServers.Everything()));

    [Fact]
    public async Task Stateless_CallsThroughHaproxy_LandOnEveryReplica_AndAReplicaKilledMidRunCostsNoCall()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, NoSettings, ["--stateless"], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);

        JsonObject summary = await RunKillingOneReplicaAsync(replicas, haproxy, "2025-11-25", expectSession: false);

        AssertNoCallFailed(summary, replicas, haproxy);
    }

    [Fact]
    public async Task Stateful_OneSessionThroughHaproxy_GoesOnOnEveryReplica_AndSurvivesAReplicaKilledMidRun()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, SharedSessionKeys(), [], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);

        JsonObject summary = await RunKillingOneReplicaAsync(replicas, haproxy, "2025-11-25", expectSession: true);

        AssertNoCallFailed(summary, replicas, haproxy);
    }

    [Fact]
    public async Task Stateful_WithoutSharedSessionKeys_TheSessionDoesNotMove_SoTheBalancerReallyMovesIt()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, NoSettings, [], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);

        // Each replica seals session ids with a key of its own: the request after initialize lands on another
        // replica, which cannot open the session id and answers 404, as it does for a session it never heard of.
        await using ReplicaClient client = ReplicaClient.Start(haproxy.Endpoint, Agent, ["--tool", Tool, "--calls", "30"]);
        JsonObject error = await client.WaitForEventAsync("error", Ct);

        Assert.Contains("404", error["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Modern2026Agent_CallsThroughHaproxy_LandOnEveryReplica_AndAReplicaKilledMidRunCostsNoCall()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, NoSettings, [], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);

        JsonObject summary = await RunKillingOneReplicaAsync(replicas, haproxy, "2026-07-28", expectSession: false);

        AssertNoCallFailed(summary, replicas, haproxy);
    }

    [Fact]
    public async Task RulesChange_ReachesEveryReplica_TheToolIsHiddenAndRefusedOnEach()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, NoSettings, ["--stateless"], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);
        JsonObject before = await ReplicaClient.RunAsync(haproxy.Endpoint, Agent, ["--tool", Tool, "--calls", "30"], Ct);
        Assert.True(before["ok"]!.GetValue<int>() == 30, $"before the change: {before.ToJsonString()}");
        Assert.DoesNotContain(replicas.Replicas, r => r.Stderr.Lines.Any(l => l.Contains("Reloaded:", StringComparison.Ordinal)));

        // One edit of the file every replica reads; each replica's watcher reloads it.
        File.WriteAllText(replicas.RulesFile, """{ "agents": { "replica-agent": { "allow": { "servers": ["everything"], "tools": { "everything": ["get-sum"] } } } } }""");
        foreach (GatewayProcess replica in replicas.Replicas)
        {
            await replica.Stderr.WaitForAsync(l => l.Contains("Reloaded:", StringComparison.Ordinal), "each replica to reload the rules", Ct);
        }

        await using ReplicaClient client = ReplicaClient.Start(haproxy.Endpoint, Agent, ["--list", "--tool", Tool, "--calls", "30"]);
        string[] tools = [.. ((JsonArray)(await client.WaitForEventAsync("tools", Ct))["tools"]!).Select(t => t!.GetValue<string>())];
        JsonObject after = await client.WaitForEventAsync("done", Ct);

        Assert.DoesNotContain(Tool, tools);
        Assert.Contains("everything_get-sum", tools);

        // Refused as an unknown tool would be, on every call, and by every replica.
        Assert.True(after["ok"]!.GetValue<int>() == 0 && after["failed"]!.GetValue<int>() == 0, $"after the change: {after.ToJsonString()}");
        Assert.Equal(30, after["rpcErrors"]!["-32602"]?.GetValue<int>());
        double[] refused = await replicas.ToolCallsAsync(Agent, decision => decision != "allowed", Ct);
        Assert.True(refused.All(count => count > 0), $"refused calls per replica: {string.Join(", ", refused)}");
        TestContext.Current.TestOutputHelper?.WriteLine($"refused calls per replica after the rules change: {string.Join(", ", refused)}");
    }

    [Fact]
    public async Task RateLimit_WithoutRedis_EachReplicaCountsItsOwnBudget()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        const int Budget = 5;
        string settings = $$"""{ "limits": { "rate": { "calls": {{Budget}}, "windowSeconds": 3600 } } }""";
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, settings, ["--stateless"], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);

        JsonObject summary = await ReplicaClient.RunAsync(haproxy.Endpoint, Agent, ["--tool", Tool, "--calls", "30"], Ct);

        // Each replica spends a budget of its own: the agent gets more than one budget, and never more than three.
        int allowed = summary["ok"]!.GetValue<int>();
        Assert.True(allowed > Budget && allowed <= 3 * Budget, $"allowed {allowed} of 30 with a budget of {Budget} on each of 3 replicas: {summary.ToJsonString()}");
        Assert.Equal(30 - allowed, summary["rpcErrors"]!["-32029"]?.GetValue<int>());
        Assert.Equal(0, summary["failed"]!.GetValue<int>());
    }

    [Fact]
    public async Task RateLimit_WithRedis_HoldsAcrossReplicas_TheBudgetInTotal_ThenRefusedOnEveryReplica()
    {
        HaproxyBalancer.SkipUnlessInstalled();
        RedisServer.SkipUnlessInstalled();
        const int Budget = 5;
        await using RedisServer redis = await RedisServer.StartAsync(Ct);
        string settings = $$"""{ "redis": { "configuration": "{{redis.Configuration}}" }, "limits": { "rate": { "calls": {{Budget}}, "windowSeconds": 3600 } } }""";
        await using GatewayReplicas replicas = await GatewayReplicas.StartAsync(3, Servers, Rules, settings, ["--stateless"], Ct);
        await using HaproxyBalancer haproxy = await HaproxyBalancer.StartAsync(replicas.Endpoints, Ct);

        // Each replica connects to Redis in the background (and counts alone until then): wait until all share.
        foreach (GatewayProcess replica in replicas.Replicas)
        {
            await replica.Stderr.WaitForAsync(
                l => l.Contains("connected: rate and session limits are shared", StringComparison.Ordinal), "each replica to share its limits through Redis", Ct);
        }

        JsonObject summary = await ReplicaClient.RunAsync(haproxy.Endpoint, Agent, ["--tool", Tool, "--calls", "30"], Ct);

        Assert.True(summary["ok"]!.GetValue<int>() == Budget, $"allowed {summary["ok"]} of 30 with a shared budget of {Budget}: {summary.ToJsonString()}{Environment.NewLine}{replicas.Logs}");
        Assert.Equal(30 - Budget, summary["rpcErrors"]!["-32029"]?.GetValue<int>());
        double[] refused = await replicas.ToolCallsAsync(Agent, decision => decision == "rate-limited", Ct);
        Assert.True(refused.All(count => count > 0), $"calls refused per replica over the shared budget: {string.Join(", ", refused)}");
        TestContext.Current.TestOutputHelper?.WriteLine($"calls refused per replica over the shared budget: {string.Join(", ", refused)}");
    }

    /// <summary>The settings every replica reads: one shared key that seals session ids (base64, 32 bytes).</summary>
    private static string SharedSessionKeys() =>
        $$"""{ "sessions": { "keys": ["{{Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))}}"] } }""";

    /// <summary>
    /// Runs the client through the balancer until its checkpoint, shows from each replica's metrics that calls reached
    /// every replica, kills the second replica with SIGKILL while calls are in flight, lets the client make 150 more
    /// calls, shows from HAProxy's stats that the two survivors answered them, and returns the client's summary once
    /// HAProxy's check has marked the killed replica down.
    /// </summary>
    private static async Task<JsonObject> RunKillingOneReplicaAsync(GatewayReplicas replicas, HaproxyBalancer haproxy, string protocol, bool expectSession)
    {
        await using ReplicaClient client = ReplicaClient.Start(haproxy.Endpoint, Agent, [.. s_killRun, "--protocol", protocol]);
        JsonObject connected = await client.WaitForEventAsync("connected", Ct);
        Assert.Equal(protocol, connected["protocolVersion"]?.GetValue<string>());
        Assert.Equal(expectSession, connected["session"]?.GetValue<bool>());

        await client.WaitForEventAsync("checkpoint", Ct);
        double[] landed = await replicas.ToolCallsAsync(Agent, decision => decision == "allowed", Ct);
        Assert.True(landed.All(count => count > 0), $"calls per replica at the checkpoint: {string.Join(", ", landed)}");

        await replicas.KillAsync(1, Ct);
        IReadOnlyDictionary<string, long> atKill = await haproxy.ResponsesAsync(Ct);
        await client.GoAsync();
        JsonObject summary = await client.WaitForEventAsync("done", Ct);
        IReadOnlyDictionary<string, long> atEnd = await haproxy.ResponsesAsync(Ct);
        await haproxy.Output.WaitForAsync(l => l.Contains("Server gateways/r2 is DOWN", StringComparison.Ordinal), "HAProxy's check to mark the killed replica down", Ct);

        long[] answeredAfterKill = [.. new[] { "r1", "r3" }.Select(r => atEnd[r] - atKill[r])];
        Assert.True(answeredAfterKill.All(n => n > 0) && answeredAfterKill.Sum() >= 150, $"answers of r1 and r3 after the kill: {string.Join(", ", answeredAfterKill)}");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{protocol}: calls per replica at the checkpoint {string.Join(", ", landed)}; answers of r1, r3 after the kill {string.Join(", ", answeredAfterKill)}; client: {summary.ToJsonString()}");
        return summary;
    }

    private static void AssertNoCallFailed(JsonObject summary, GatewayReplicas replicas, HaproxyBalancer haproxy)
    {
        int calls = summary["calls"]!.GetValue<int>();
        string why = $"client: {summary.ToJsonString()}{Environment.NewLine}HAProxy:{Environment.NewLine}{haproxy.Output}{Environment.NewLine}{replicas.Logs}";
        Assert.True(summary["failed"]!.GetValue<int>() == 0, why);
        Assert.True(summary["ok"]!.GetValue<int>() == calls && calls >= 300, why);
        Assert.True(((JsonObject)summary["rpcErrors"]!).Count == 0, why);
    }
}
