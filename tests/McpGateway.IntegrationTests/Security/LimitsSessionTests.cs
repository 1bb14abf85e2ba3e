using System.Net;
using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// Sessions cannot be flooded away: one agent (or one address) opening sessions as fast as it can is refused at its
/// limit with HTTP 429 and a JSON-RPC error naming the limit, the total cap refuses newcomers instead of evicting
/// anyone, and the sessions other agents opened before the flood keep working. A closed or idle-expired session gives
/// its slot back; an idle-expired one resumes from its id, admitted like a new one, and a deleted one never does. Each test runs its own gateway (in front of the fixture server) with small limits.
/// </summary>
public sealed class LimitsSessionTests
{
    private const string Rules = """
        {"agents": {
          "a": {"allow": {"servers": ["fx"]}}, "b": {"allow": {"servers": ["fx"]}}, "c": {"allow": {"servers": ["fx"]}},
          "d": {"allow": {"servers": ["fx"]}}, "e": {"allow": {"servers": ["fx"]}}
        }}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<InProcessGateway> StartAsync(int total, int perAgent, int perAddress, int idleSeconds = 1800, Action<IServiceCollection>? configureServices = null)
    {
        string settings = new JsonObject
        {
            ["limits"] = new JsonObject
            {
                ["sessions"] = new JsonObject { ["total"] = total, ["perAgent"] = perAgent, ["perClientAddress"] = perAddress, ["idleTimeoutSeconds"] = idleSeconds },
            },
        }.ToJsonString();
        return InProcessGateway.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, cancellationToken: Ct, settingsJson: settings, configureServices: configureServices);
    }

    [Fact]
    public async Task SessionFlood_OfOneAgent_IsRefusedAtItsLimit_WhileOtherAgentsSessionsKeepWorking()
    {
        await using InProcessGateway gateway = await StartAsync(total: 20, perAgent: 5, perAddress: 10);
        var http = new RawMcpHttp(gateway.Endpoint);
        McpClient[] others = await Task.WhenAll(Connect(gateway, "b"), Connect(gateway, "c"), Connect(gateway, "b"), Connect(gateway, "c"));

        (List<string> opened, List<HttpReply> refused) = await FloodAsync(http, "a", attempts: 15);

        Assert.Equal(5, opened.Count);
        Assert.Equal(10, refused.Count);
        Assert.All(refused, r => AssertRefused(r, "agent 'a' has 5 open sessions, the limit per agent (limits.sessions.perAgent)"));
        await AssertAllWorkAsync(http, others, opened);
    }

    [Fact]
    public async Task SessionFlood_FromOneAddress_IsRefusedAtTheAddressLimit_WhatEverAgentItNames()
    {
        await using InProcessGateway gateway = await StartAsync(total: 20, perAgent: 5, perAddress: 10);
        var http = new RawMcpHttp(gateway.Endpoint);
        McpClient[] before = await Task.WhenAll(Connect(gateway, "b"), Connect(gateway, "c"));

        (List<string> asA, _) = await FloodAsync(http, "a", attempts: 5);
        (List<string> asD, _) = await FloodAsync(http, "d", attempts: 5);
        (List<string> asE, List<HttpReply> refused) = await FloodAsync(http, "e", attempts: 3);

        Assert.Equal(5, asA.Count);
        Assert.Equal(3, asD.Count);
        Assert.Empty(asE);
        Assert.All(refused, r => AssertRefused(r, "this address has 10 open sessions, the limit per client address (limits.sessions.perClientAddress)"));
        await AssertAllWorkAsync(http, before, [.. asA, .. asD]);
    }

    [Fact]
    public async Task TotalCap_RefusesNewcomers_AndEvictsNobody()
    {
        await using InProcessGateway gateway = await StartAsync(total: 6, perAgent: 5, perAddress: 10);
        var http = new RawMcpHttp(gateway.Endpoint);
        McpClient[] clients = await Task.WhenAll(Connect(gateway, "b"), Connect(gateway, "b"), Connect(gateway, "c"), Connect(gateway, "c"));

        (List<string> asA, List<HttpReply> refusedA) = await FloodAsync(http, "a", attempts: 4);
        (List<string> asD, List<HttpReply> refusedD) = await FloodAsync(http, "d", attempts: 2);

        Assert.Equal(2, asA.Count);
        Assert.Empty(asD);
        Assert.All([.. refusedA, .. refusedD], r => AssertRefused(r, "the gateway has 6 open sessions, its limit (limits.sessions.total)"));
        await AssertAllWorkAsync(http, clients, asA);
        Assert.Equal(6, gateway.Services.GetRequiredService<SessionRegistry>().Count);
    }

    [Fact]
    public async Task ClosedSession_ByDeleteOrByItsClient_GivesItsSlotBack()
    {
        await using InProcessGateway gateway = await StartAsync(total: 20, perAgent: 2, perAddress: 10);
        var http = new RawMcpHttp(gateway.Endpoint);
        (List<string> asA, List<HttpReply> refusedA) = await FloodAsync(http, "a", attempts: 3);
        McpClient[] asB = await Task.WhenAll(Connect(gateway, "b"), Connect(gateway, "b"));
        (_, List<HttpReply> refusedB) = await FloodAsync(http, "b", attempts: 1);

        Task deleted = SessionEndedAsync(gateway, gateway.SdkSessionId(asA[0]));
        HttpReply delete = await http.DeleteAsync(asA[0], Ct);
        await deleted.Within("the deleted session to end", Ct);
        Task disposed = SessionEndedAsync(gateway, gateway.SdkSessionId(asB[0].SessionId!));
        await asB[0].DisposeAsync();
        await disposed.Within("the disposed client's session to end", Ct);
        (List<string> againA, _) = await FloodAsync(http, "a", attempts: 1);
        (List<string> againB, _) = await FloodAsync(http, "b", attempts: 1);
        HttpReply afterDelete = await http.PostAsync(RawMcpHttp.ToolCall(5, "fx_echo_args"), Ct, asA[0], headers: RawMcpHttp.Agent("a"));

        Assert.Equal(2, asA.Count);
        AssertRefused(Assert.Single(refusedA), "limits.sessions.perAgent");
        AssertRefused(Assert.Single(refusedB), "limits.sessions.perAgent");
        Assert.Equal(HttpStatusCode.OK, delete.Status);
        Assert.Single(againA);
        Assert.Single(againB);
        Assert.Equal(HttpStatusCode.NotFound, afterDelete.Status);
        await AssertAllWorkAsync(http, [asB[1]], [asA[1], againA[0], againB[0]]);
    }

    [Fact]
    public async Task IdleSession_IsClosedAfterTheIdleTimeout_OnTheInjectedClock_AndGivesItsSlotBack_ThenResumesWithinTheLimits()
    {
        // The SDK's idle sweep is a PeriodicTimer (every 5 s) on HttpServerTransportOptions.TimeProvider, which the
        // gateway takes from DI: a fake clock drives it without waiting. A session with a request (or an open GET
        // stream) in progress is never idle. An idle session is closed on this replica, not ended: its id (good for
        // sessions.maxAgeSeconds) resumes it, as any replica would, admitted under the limits like a new session.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using InProcessGateway gateway = await StartAsync(total: 20, perAgent: 1, perAddress: 10, idleSeconds: 60, services => services.AddSingleton<TimeProvider>(time));
        var http = new RawMcpHttp(gateway.Endpoint);
        string idle = await http.OpenSessionAsync(Ct, RawMcpHttp.Agent("a"));
        (_, List<HttpReply> refused) = await FloodAsync(http, "a", attempts: 1);
        McpClient streaming = await Connect(gateway, "b");

        Task expired = SessionEndedAsync(gateway, gateway.SdkSessionId(idle));
        time.Advance(TimeSpan.FromSeconds(60 + 6));
        await expired.Within("the idle session to be closed", Ct);
        (List<string> again, _) = await FloodAsync(http, "a", attempts: 1);
        HttpReply overTheLimit = await http.PostAsync(RawMcpHttp.ToolCall(5, "fx_echo_args"), Ct, idle, headers: RawMcpHttp.Agent("a"));
        Task closed = SessionEndedAsync(gateway, gateway.SdkSessionId(Assert.Single(again)));
        await http.DeleteAsync(again[0], Ct);
        await closed.Within("the deleted session to end", Ct);

        AssertRefused(Assert.Single(refused), "limits.sessions.perAgent");
        AssertRefused(overTheLimit, "limits.sessions.perAgent", id: 5);
        await AssertAllWorkAsync(http, [streaming], [idle]);
    }

    private static Task<McpClient> Connect(InProcessGateway gateway, string agent) => gateway.ConnectAsync(ServedTransport.Http, agent, cancellationToken: Ct);

    /// <summary>Opens sessions as <paramref name="agent"/>, one after another; returns those opened and the refusals.</summary>
    private static async Task<(List<string> Opened, List<HttpReply> Refused)> FloodAsync(RawMcpHttp http, string agent, int attempts)
    {
        var opened = new List<string>();
        var refused = new List<HttpReply>();
        for (int i = 0; i < attempts; i++)
        {
            (string? sessionId, HttpReply response) = await http.TryOpenSessionAsync(Ct, RawMcpHttp.Agent(agent));
            if (sessionId is null)
            {
                refused.Add(response);
            }
            else
            {
                opened.Add(sessionId);
            }
        }

        return (opened, refused);
    }

    private static void AssertRefused(HttpReply response, string limit, int id = 1)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.Status);
        Assert.Null(response.SessionId);
        JsonObject error = response.Error;
        Assert.Equal(-32600, error["code"]!.GetValue<int>());
        Assert.Equal(id, response.Message!["id"]!.GetValue<int>());
        Assert.Contains(limit, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("Close sessions you no longer use, or try again later.", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>Every session answers a tool call: the clients through the SDK, the raw sessions by id.</summary>
    private static async Task AssertAllWorkAsync(RawMcpHttp http, IEnumerable<McpClient> clients, IEnumerable<string> rawSessions)
    {
        int n = 0;
        foreach (McpClient client in clients)
        {
            JsonObject result = await client.CallRawAsync("fx_echo_args", new JsonObject { ["n"] = ++n }, Ct);
            Assert.Equal(n, result["structuredContent"]!["arguments"]!["n"]!.GetValue<int>());
        }

        foreach (string session in rawSessions)
        {
            HttpReply response = await http.PostAsync(RawMcpHttp.ToolCall(10, "fx_echo_args", new JsonObject { ["n"] = ++n }), Ct, session);
            Assert.True(response.Status == HttpStatusCode.OK, response.Body);
            Assert.Equal(n, response.Result["structuredContent"]!["arguments"]!["n"]!.GetValue<int>());
        }
    }

    /// <summary>Completes when the gateway has ended the session with this SDK session id (and released its slot).</summary>
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
}
