using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Operations;
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
            await WaitForLineAsync(replica, "Reloaded:", replicas);
        }

        await using ReplicaClient client = ReplicaClient.Start(haproxy.Endpoint, Agent, ["--list", "--tool", Tool, "--calls", "30"]);
        string[] tools = [.. ((JsonArray)(await client.WaitForEventAsync("tools", Ct))["tools"]!).Select(t => t!.GetValue<string>())];
        JsonObject after = await client.WaitForEventAsync("done", Ct);

        Assert.DoesNotContain(Tool, tools);
        Assert.Contains("everything_get-sum", tools);

        // Refused as an unknown tool would be, on every call, and by every replica.
        Assert.True(after["ok"]!.GetValue<int>() == 0 && after["failed"]!.GetValue<int>() == 0, $"after the change: {after.ToJsonString()}");
        Assert.Equal(30, after["rpcErrors"]!["-32602"]?.GetValue<int>());
        double[] refused = await replicas.WaitForToolCallsAsync(
            [0, 1, 2], Agent, decision => decision != "allowed", (_, count) => count > 0, "every replica to count refused calls", Ct);
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
        foreach (Uri endpoint in replicas.Endpoints)
        {
            await WaitForStatusAsync(
                GatewayEndpoints.RootOf(endpoint), "/status", (_, status) => status["redis"]?["limits"]?.GetValue<string>() == "shared", "the replica to share its limits through Redis", Ct);
        }

        JsonObject summary = await ReplicaClient.RunAsync(haproxy.Endpoint, Agent, ["--tool", Tool, "--calls", "30"], Ct);

        Assert.True(summary["ok"]!.GetValue<int>() == Budget, $"allowed {summary["ok"]} of 30 with a shared budget of {Budget}: {summary.ToJsonString()}{Environment.NewLine}{replicas.Logs}");
        Assert.Equal(30 - Budget, summary["rpcErrors"]!["-32029"]?.GetValue<int>());
        double[] refused = await replicas.WaitForToolCallsAsync(
            [0, 1, 2], Agent, decision => decision == "rate-limited", (_, count) => count > 0, "every replica to refuse calls over the shared budget", Ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"calls refused per replica over the shared budget: {string.Join(", ", refused)}");
    }

    /// <summary>The settings every replica reads: one shared key that seals session ids (base64, 32 bytes).</summary>
    private static string SharedSessionKeys() =>
        $$"""{ "sessions": { "keys": ["{{Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))}}"] } }""";

    /// <summary>
    /// Runs the client through the balancer until its checkpoint, shows that calls reached every replica, kills the
    /// second replica with SIGKILL while calls are in flight, lets the client make more calls, and returns its summary
    /// once the surviving replicas show those calls too.
    /// </summary>
    private static async Task<JsonObject> RunKillingOneReplicaAsync(GatewayReplicas replicas, HaproxyBalancer haproxy, string protocol, bool expectSession)
    {
        await using ReplicaClient client = ReplicaClient.Start(haproxy.Endpoint, Agent, [.. s_killRun, "--protocol", protocol]);
        JsonObject connected = await client.WaitForEventAsync("connected", Ct);
        Assert.Equal(protocol, connected["protocolVersion"]?.GetValue<string>());
        Assert.Equal(expectSession, connected["session"]?.GetValue<bool>());

        await client.WaitForEventAsync("checkpoint", Ct);
        double[] landed = await replicas.WaitForToolCallsAsync(
            [0, 1, 2], Agent, decision => decision == "allowed", (_, count) => count > 0, "calls to land on every replica", Ct);

        await replicas.KillAsync(1, Ct);
        double[] survivorsAtKill = await Task.WhenAll(new[] { 0, 2 }.Select(i => replicas.ToolCallsAsync(i, Agent, d => d == "allowed", Ct)));
        await client.GoAsync();
        JsonObject summary = await client.WaitForEventAsync("done", Ct);

        double[] survivorsAfter = await replicas.WaitForToolCallsAsync(
            [0, 2], Agent, decision => decision == "allowed", (replica, count) => count > survivorsAtKill[replica == 0 ? 0 : 1], "the calls after the kill to reach both surviving replicas", Ct);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{protocol}: calls per replica at the checkpoint {string.Join(", ", landed)}; survivors after the run {string.Join(", ", survivorsAfter)}; client: {summary.ToJsonString()}");
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

    /// <summary>
    /// Reads <paramref name="path"/> again until <paramref name="condition"/> holds. A replica connects to Redis in the
    /// background and tells nobody but its /status, so this re-reads it; the interval never decides the outcome, and
    /// the wait ends at the hang guard.
    /// </summary>
    private static async Task WaitForStatusAsync(Uri root, string path, Func<System.Net.HttpStatusCode, JsonObject, bool> condition, string what, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)McpGateway.Testing.Patience.HangGuard.TotalMilliseconds;
        while (true)
        {
            (System.Net.HttpStatusCode status, string body) = await GatewayEndpoints.GetAsync(root, path, cancellationToken);
            if (condition(status, JsonNode.Parse(body)!.AsObject()))
            {
                return;
            }

            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"{McpGateway.Testing.Patience.Message(what)} GET {path} last answered {(int)status}: {body}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static async Task WaitForLineAsync(GatewayProcess gateway, string text, GatewayReplicas replicas)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await gateway.Stderr.WaitForAsync(l => l.Contains(text, StringComparison.Ordinal), $"a line holding '{text}'", deadline.Token);
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"A replica logged nothing holding '{text}' within 30 s.{Environment.NewLine}{replicas.Logs}");
        }
    }
}
