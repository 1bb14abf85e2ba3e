using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Security;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// Stateful (2025-11-25) sessions behind a load balancer without stickiness (issue 13, item 4): two gateways with the
/// same files and the same session key, each with its own downstream servers, and the official C# client whose
/// requests go to either. A session started on one is resumed by the other from its id alone, keeps the agent it
/// was bound to, and is the same session (one fingerprint) on both. What cannot move (an open event stream, a
/// request the server sent the client) fails cleanly when its replica stops, and the client's reconnect works on
/// the other.
/// </summary>
public sealed class SessionMigrationTests
{
    internal const string Rules = """{"agents": {"tester": {"allow": {"servers": ["*"]}}, "other": {"allow": {"servers": ["*"]}}}}""";

    private static readonly TimeSpan s_eventTimeout = McpGateway.Testing.Patience.HangGuard;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static string Settings(params string[] keys) =>
        new JsonObject { ["sessions"] = new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k)]) } }.ToJsonString();

    internal static Dictionary<string, string> As(string agent) => new() { ["X-Agent-Id"] = agent };

    /// <summary>Waits for an event (bounded, never a measure of time); on failure, says what the router saw.</summary>
    internal static async Task Within(Task happened, ReplicaRouter router)
    {
        try
        {
            await happened.WaitAsync(s_eventTimeout, Ct);
        }
        catch (TimeoutException)
        {
            Assert.Fail("Waited in vain. Requests: " + Environment.NewLine + router);
        }
    }

    [Fact]
    public async Task Session_StartedOnOneReplica_IsServedByBoth_RoundRobin_AsOneSession_WhoseIdsNeverReachTheLog()
    {
        string key = SessionKey.Generate();
        await using Replicas replicas = await Replicas.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, [Settings(key), Settings(key)], Ct);
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"));

        for (int n = 1; n <= 20; n++)
        {
            JsonObject result = await client.CallRawAsync("fx_echo_args", new JsonObject { ["n"] = n }, Ct);
            Assert.Equal(n, result["structuredContent"]!["arguments"]!["n"]!.GetValue<int>());
        }

        string[] tools = await client.ListToolNamesAsync(Ct);
        GatewaySession onA = replicas.SessionOn(0, client)!;
        GatewaySession onB = replicas.SessionOn(1, client)!;
        string sdkId = replicas[0].SdkSessionId(client.SessionId!);

        Assert.Contains("fx_echo_args", tools);
        Assert.InRange(replicas.Router.Served(0), 10, 20);
        Assert.InRange(replicas.Router.Served(1), 10, 20);
        Assert.Equal(onA.Fingerprint, onB.Fingerprint);
        Assert.Equal(("tester", "tester"), (onA.BoundAgent, onB.BoundAgent));
        Assert.Equal((false, true), (onA.Resumed, onB.Resumed));

        // The client only ever sees the sealed id, the same one from every replica; the SDK's id stays inside.
        Assert.All(replicas.Router.SessionIdsAnswered, id => Assert.Equal(client.SessionId, id));
        Assert.NotEqual(sdkId, client.SessionId);
        Assert.DoesNotContain(sdkId, client.SessionId!, StringComparison.Ordinal);
        for (int replica = 0; replica < 2; replica++)
        {
            TestLogs logs = replicas[replica].Logs;
            Assert.Empty(logs.Unhandled);
            Assert.DoesNotContain(logs.Lines, l => l.Contains(client.SessionId!, StringComparison.Ordinal));
            Assert.DoesNotContain(logs.Lines, l => l.Contains(sdkId, StringComparison.Ordinal) && !l.Contains(" ModelContextProtocol.", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task InitializeSentAgain_OnAnOpenSession_IsAnswered_AndTheSessionKeepsItsId()
    {
        // The SDK hands the migration hook the context of the request that created the session, long disposed by
        // then (or serving another request): an initialize sent again must not reach it (it was an HTTP 500).
        string key = SessionKey.Generate();
        await using Replicas replicas = await Replicas.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, [Settings(key)], Ct);
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"));
        const string Initialize = """{"jsonrpc":"2.0","id":"again","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":null,"clientInfo":{"name":"again","version":"1"}}}""";

        using var fresh = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, replicas[0].Endpoint) { Content = new StringContent(Initialize, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("Mcp-Session-Id", client.SessionId);
        request.Headers.Add("X-Agent-Id", "tester");
        using HttpResponseMessage response = await fresh.SendAsync(request, Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        Assert.Equal(client.SessionId, Assert.Single(response.Headers.GetValues("Mcp-Session-Id")));
        JsonObject echo = await client.CallRawAsync("fx_echo_args", new JsonObject { ["n"] = 1 }, Ct);
        Assert.Equal(1, echo["structuredContent"]!["arguments"]!["n"]!.GetValue<int>());
        Assert.Empty(replicas[0].Logs.Unhandled);
    }

    [Fact]
    public async Task ResumedSession_KeepsTheAgentItsIdCarries_NotOneTheRequestNames()
    {
        string key = SessionKey.Generate();
        await using Replicas replicas = await Replicas.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, [Settings(key), Settings(key)], Ct);
        replicas.Router.Pinned = 0;
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"));

        // Replica B has never seen this session: the first request it gets names another agent.
        RawResponse switched = await SecurityTestKit.PostAsync(replicas[1].Endpoint, SecurityTestKit.ToolCall("fx_echo_args"), As("other"), client.SessionId, Ct);
        RawResponse plain = await SecurityTestKit.PostAsync(replicas[1].Endpoint, SecurityTestKit.ToolCall("fx_echo_args", new JsonObject { ["n"] = 1 }), null, client.SessionId, Ct);

        Assert.True(switched.Status == 200, switched.ToString());
        Assert.Equal("This session acts as agent 'tester' and cannot act as agent 'other'.", switched.Message!["error"]!["message"]!.GetValue<string>());
        Assert.True(plain.Status == 200, plain.ToString());
        Assert.Equal(1, plain.Message!["result"]!["structuredContent"]!["arguments"]!["n"]!.GetValue<int>());
        Assert.Equal("tester", replicas.SessionOn(1, client)!.BoundAgent);
    }

    [Fact]
    public async Task InFlightElicitation_AndEventStream_OnAReplicaThatStops_FailCleanly_AndTheSessionGoesOnOnTheOther_WhereTheClientReconnects()
    {
        string key = SessionKey.Generate();
        await using Replicas replicas = await Replicas.StartAsync(TestServers.File(("everything", TestServers.Everything())), Rules, [Settings(key), Settings(key)], Ct);
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlers = new McpClientHandlers
        {
            ElicitationHandler = async (request, cancellationToken) =>
            {
                asked.TrySetResult();
                await release.Task.WaitAsync(cancellationToken);
                return new ElicitResult { Action = "accept", Content = new Dictionary<string, JsonElement> { ["name"] = JsonSerializer.SerializeToElement("Ada") } };
            },
        };
        replicas.Router.Pinned = 0;
        McpClient client = await replicas.ConnectAsync(Ct, As("tester"), handlers);
        await Within(replicas.Router.EventStreamOpenedAsync(0), replicas.Router);

        // A tool that asks the client something, on replica A: the request waits in A, for an answer on A's stream.
        Task<JsonObject> call = client.CallRawAsync("everything_trigger-elicitation-request", null, Ct);
        await Within(asked.Task, replicas.Router);
        replicas.Router.Pinned = 1;
        await replicas.StopAsync(0);

        // A stopped: the call fails (it does not hang), and the answer the client gives late goes to B, which drops it.
        Exception failed = await Assert.ThrowsAnyAsync<Exception>(() => call.WaitAsync(s_eventTimeout, Ct));
        Assert.IsNotType<TimeoutException>(failed);
        release.SetResult();
        JsonObject echo = await client.CallRawAsync("everything_echo", new JsonObject { ["message"] = "on B" }, Ct);
        Assert.Equal("Echo: on B", echo.FirstText());

        // The event stream ended with A; the client opens it again (the SDK's client retries its GET), which lands on
        // B: B's notifications for the session reach the client on it.
        var listChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using IAsyncDisposable registration = client.RegisterNotificationHandler(NotificationMethods.ToolListChangedNotification, (_, _) =>
        {
            listChanged.TrySetResult();
            return ValueTask.CompletedTask;
        });
        await Within(replicas.Router.EventStreamOpenedAsync(1), replicas.Router);
        await replicas[1].Services.GetRequiredService<SessionRegistry>().NotifyListsChangedAsync(replicas.SessionOn(1, client)!);
        await Within(listChanged.Task, replicas.Router);
        Assert.Contains("GET -> 0: 200 text/event-stream", replicas.Router.Trace);
        Assert.Empty(replicas[1].Logs.Unhandled);
    }
}
