using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>A gateway in front of server-everything, whose simulated logging is global to its process: this class alone toggles it.</summary>
public sealed class LoggingGateway : ProtocolGateway
{
    protected override string Servers => TestServers.File(("everything", TestServers.Everything()));
}

/// <summary>
/// Logging through the gateway (DESIGN §6): <c>logging/setLevel</c> sets the session's level (and asks the server for
/// the most verbose level any session wants); a log message reaches the sessions it concerns only at or above their
/// level. server-everything's <c>toggle-simulated-logging</c> sends one message of a random level the moment it is
/// switched on (and one every 5 s after), so switching it on and off quickly makes messages without waiting. It also
/// logs on its own, during no call: "Roots updated" once it has asked the gateway for roots after connecting. The
/// assertions count the simulated messages, the ones the calls cause; what the server says unprompted goes to every
/// session that asked for logs, as it should, and is no business of these tests.
/// </summary>
public sealed class LoggingTests(LoggingGateway fixture) : IClassFixture<LoggingGateway>
{
    private const string Toggle = "everything_toggle-simulated-logging";
    private static readonly HttpClient s_http = new();
    private static readonly string[] s_levels = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> SessionLinks() => ProtocolAgents.SessionLinks();

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task SetLevel_IsAccepted(AgentLink link)
    {
        Agent agent = await fixture.ConnectAsync(link);

        JsonObject result = await agent.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "warning" }, Ct);

        DirectServers.AssertJsonEqual(new JsonObject(), result);
    }

    [Fact]
    public async Task SetLevel_FromA2026Agent_IsRefusedAsAMethodOfTheOlderRevision()
    {
        // 2026-07-28 replaced logging/setLevel with a per-request level (_meta["io.modelcontextprotocol/logLevel"]).
        Agent agent = await fixture.ConnectAsync(AgentLink.Http2026);

        Exception error = await Assert.ThrowsAnyAsync<Exception>(() => agent.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "warning" }, Ct));

        Assert.Contains("logging/setLevel", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not available on protocol version", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogMessages_ReachEachSessionThatSetALevel_OnlyAtOrAboveItsLevel()
    {
        // While a third session's call is in flight on everything, a message cannot be told to belong to one call, so
        // it goes to every session that asked for logs, each filtered by its own level: the verbose session's messages
        // are then the truth the quiet session's must be the error-or-worse part of.
        Agent verbose = await fixture.ConnectAsync(AgentLink.Stdio);
        Agent quiet = await fixture.ConnectAsync(AgentLink.Http);
        Agent bystander = await fixture.ConnectAsync(AgentLink.Http);
        await verbose.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "debug" }, Ct);
        await quiet.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "error" }, Ct);
        int verboseMark = verbose.Wire.Count;
        int quietMark = quiet.Wire.Count;
        const int switchOns = 12;

        using var stopBystander = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<JsonObject> bystanderCall = bystander.CallAsync(
            "everything_trigger-long-running-operation",
            // Far longer than the test, progress every 0.1 s: only the cancellation below ends it.
            new JsonObject { ["duration"] = 3600, ["steps"] = 36_000 },
            stopBystander.Token,
            new JsonObject { ["progressToken"] = "bystander" });
        await bystander.Wire.WaitForNotificationAsync(NotificationMethods.ProgressNotification, _ => true, "the bystander's call to be running", Ct);
        try
        {
            for (int i = 0; i < switchOns; i++)
            {
                await verbose.CallAsync(Toggle, null, Ct);
                await verbose.CallAsync(Toggle, null, Ct);
            }

            Assert.False(bystanderCall.IsCompleted, "The bystander's call ended before the messages were made.");
        }
        finally
        {
            await stopBystander.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => bystanderCall);
        }

        // Every message reaches verbose; one that reaches the bystander (whose call did not cause it) ends the wait early.
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task stray = bystander.Wire.WaitForNotificationCountAsync(NotificationMethods.LoggingMessageNotification, 1, "a stray log message", stopWatching.Token, timeout: Timeout.InfiniteTimeSpan);
        Task allMessages = WaitForSimulatedAsync(verbose, switchOns, $"{switchOns} simulated log messages", verboseMark);
        await Task.WhenAny(allMessages, stray);
        await stopWatching.CancelAsync();
        await stray.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        ProtocolJson.AssertCount(0, bystander.Wire.Notifications(NotificationMethods.LoggingMessageNotification), "log messages at the bystander");
        await allMessages;
        List<JsonObject> all = Simulated(verbose, verboseMark);
        JsonObject[] expected = [.. all.Where(m => Rank(m) >= Rank("error"))];
        await WaitForSimulatedAsync(quiet, expected.Length, $"{expected.Length} error-or-worse messages", quietMark);

        DirectServers.AssertJsonEqual(
            new JsonArray([.. expected.Select(m => (JsonNode)m.DeepClone())]),
            new JsonArray([.. Simulated(quiet, quietMark).Select(m => (JsonNode)m.DeepClone())]));
    }

    [Theory]
    [MemberData(nameof(SessionLinks))]
    public async Task LogMessages_SentDuringACall_ReachOnlyTheSessionWhoseCallCausedThem(AgentLink link)
    {
        // Both sessions want every level. caller's calls make messages; then other makes one of its own, which everything
        // sends after all of caller's: by the time it arrives, any of caller's messages sent to other would have too.
        // (A switch-on and its switch-off are one quick call apart, far less than the 5 s before the simulation's next
        // message, which, coming during no call, would rightly reach both sessions.)
        Agent caller = await fixture.ConnectAsync(link);
        Agent other = await fixture.ConnectAsync(AgentLink.Http);
        await caller.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "debug" }, Ct);
        await other.RequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = "debug" }, Ct);
        int callerMark = caller.Wire.Count;
        const int switchOns = 4;

        for (int i = 0; i < switchOns; i++)
        {
            await caller.CallAsync(Toggle, null, Ct);
            await caller.CallAsync(Toggle, null, Ct);
        }

        await WaitForSimulatedAsync(caller, switchOns, $"{switchOns} simulated log messages", callerMark);
        await other.CallAsync(Toggle, null, Ct);
        await other.CallAsync(Toggle, null, Ct);
        await WaitForSimulatedAsync(other, 1, "the other session's own message", 0);

        ProtocolJson.AssertCount(1, Simulated(other, 0), "simulated log messages at the other session (its own)");
        ProtocolJson.AssertCount(switchOns, Simulated(caller, callerMark), "simulated log messages at the caller");
    }

    [Fact]
    public async Task LogMessages_ForA2026RequestWithoutALogLevel_AreNotSent()
    {
        // 2026-07-28: "The server MUST NOT emit notifications/message for a request that does not include" the
        // _meta["io.modelcontextprotocol/logLevel"] field (the C# client never sends it). Switching the simulation on
        // makes everything log at once, while the call is in flight.
        Agent agent = await fixture.ConnectAsync(AgentLink.Http2026);

        JsonRpcResponse on = await agent.CallWithResponseAsync(Toggle, null, Ct);
        await agent.CallAsync(Toggle, null, Ct);

        Assert.True(agent.Wire.IndexOfResponse(on.Id) >= 0);
        ProtocolJson.AssertCount(0, agent.Wire.Notifications(NotificationMethods.LoggingMessageNotification), "log messages for requests without a log level");
    }

    [Fact]
    public async Task LogMessages_ForA2026RequestWithALogLevel_AreSentAtOrAboveIt()
    {
        // The SDK's client cannot send the per-request level (it removes the key from _meta), so this request is
        // written by hand: switching the simulation on makes everything log once, at a random level; "debug" admits all.
        var meta = new JsonObject
        {
            ["io.modelcontextprotocol/protocolVersion"] = ProtocolAgents.Modern,
            ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "raw-2026-client", ["version"] = "1.0" },
            ["io.modelcontextprotocol/clientCapabilities"] = new JsonObject(),
            ["io.modelcontextprotocol/logLevel"] = "debug",
        };

        List<JsonObject> on = await RawModernCallAsync(Toggle, meta);
        List<JsonObject> off = await RawModernCallAsync(Toggle, meta);

        Assert.True(on[^1].ContainsKey("result"), on[^1].ToJsonString());
        Assert.True(off[^1].ContainsKey("result"), off[^1].ToJsonString());
        JsonObject[] logs = [.. on.Where(m => m["method"]?.GetValue<string>() == NotificationMethods.LoggingMessageNotification)];
        ProtocolJson.AssertCount(1, logs, "log messages for a request at level debug");
    }

    /// <summary>
    /// A 2026-07-28 tools/call written by hand (headers and per-request _meta), and every JSON-RPC message of the
    /// answer in order: a JSON body, or the events of an SSE stream (notifications first, the response last).
    /// </summary>
    private async Task<List<JsonObject>> RawModernCallAsync(string tool, JsonObject meta)
    {
        var body = new JsonObject
        {
            ["jsonrpc"] = "2.0",
            ["id"] = 1,
            ["method"] = RequestMethods.ToolsCall,
            ["params"] = new JsonObject { ["name"] = tool, ["arguments"] = new JsonObject(), ["_meta"] = meta.DeepClone() },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Gateway.Endpoint)
        {
            Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", ProtocolAgents.Modern);
        request.Headers.Add("Mcp-Method", RequestMethods.ToolsCall);
        request.Headers.Add("Mcp-Name", tool);
        request.Headers.Add("X-Agent-Id", ProtocolGateway.Tester);

        using HttpResponseMessage response = await s_http.SendAsync(request, Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"HTTP {(int)response.StatusCode}: {text}");
        return response.Content.Headers.ContentType?.MediaType == "text/event-stream"
            ? [.. text.Split('\n').Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l["data:".Length..])!.AsObject())]
            : [JsonNode.Parse(text)!.AsObject()];
    }

    /// <summary>
    /// The log messages of server-everything's simulated logging an agent received from wire position
    /// <paramref name="from"/>: "Debug-level message", "Alert level-message" (its spelling) and so on, without a logger.
    /// </summary>
    private static List<JsonObject> Simulated(Agent agent, int from) =>
        [.. agent.Wire.Notifications(NotificationMethods.LoggingMessageNotification, from).Where(IsSimulated)];

    private static bool IsSimulated(JsonObject message) =>
        message["logger"] is null && message["data"] is JsonValue data && data.TryGetValue(out string? text) &&
        (text.Contains("-level message", StringComparison.Ordinal) || text.Contains(" level-message", StringComparison.Ordinal));

    private static Task WaitForSimulatedAsync(Agent agent, int count, string what, int from) =>
        agent.Wire.UntilAsync(
            messages => messages.Skip(from).OfType<JsonRpcNotification>().Count(n => n.Method == NotificationMethods.LoggingMessageNotification && n.Params is JsonObject p && IsSimulated(p)) >= count,
            what,
            Ct);

    private static int Rank(JsonObject message) => Rank(message["level"]!.GetValue<string>());

    private static int Rank(string level) => Array.IndexOf(s_levels, level);
}
