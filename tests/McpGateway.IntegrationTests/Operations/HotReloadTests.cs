using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>
/// Hot reload of a running gateway's files while agents are connected (issue 11 item 6, DESIGN §8): each test starts
/// its own in-process gateway from files in a folder of its own, edits one of them, and waits for the reload it
/// causes (<see cref="Hosting.ConfigurationReloader.Reloaded"/>), never for time.
/// </summary>
public sealed class HotReloadTests : IAsyncDisposable
{
    /// <summary>writer: alpha's echo_args and pid, all of beta. reader: beta only.</summary>
    private const string WriterEchoes = """
        { "agents": {
            "writer": { "allow": { "servers": ["alpha", "beta"], "tools": { "alpha": ["echo_args", "pid"] } } },
            "reader": { "allow": { "servers": ["beta"] } } } }
        """;

    /// <summary>As <see cref="WriterEchoes"/>, but writer may call alpha's slow instead of its echo_args.</summary>
    private const string WriterWaits = """
        { "agents": {
            "writer": { "allow": { "servers": ["alpha", "beta"], "tools": { "alpha": ["slow", "pid"] } } },
            "reader": { "allow": { "servers": ["beta"] } } } }
        """;

    /// <summary>As <see cref="WriterWaits"/>, and reader may use alpha too.</summary>
    private const string ReaderToo = """
        { "agents": {
            "writer": { "allow": { "servers": ["alpha", "beta"], "tools": { "alpha": ["slow", "pid"] } } },
            "reader": { "allow": { "servers": ["alpha", "beta"] } } } }
        """;

    /// <summary>As <see cref="WriterEchoes"/> without reader.</summary>
    private const string ReaderRevoked = """
        { "agents": {
            "writer": { "allow": { "servers": ["alpha", "beta"], "tools": { "alpha": ["echo_args", "pid"] } } } } }
        """;

    private static readonly string[] s_gatewayTools = ["list_servers", "get_server_tools", "execute_tool"];

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-reload-").FullName;
    private InProcessGateway? _gateway;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string AlphaAndBeta => TestServers.File(("alpha", TestServers.Fixture()), ("beta", TestServers.Fixture()));

    [Fact]
    public async Task RulesEdit_ChangesWhatAConnectedAgentMayCall_OnItsNextRequest_WithoutRestartingAnyServer()
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient writer = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "writer", cancellationToken: Ct);
        int alphaBefore = await PidAsync(writer, "alpha_pid");
        int betaBefore = await PidAsync(writer, "beta_pid");
        JsonObject echoedBefore = await writer.CallRawAsync("alpha_echo_args", new JsonObject { ["n"] = 1 }, Ct);
        McpProtocolException? slowBefore = await writer.CallErrorAsync("alpha_slow", new JsonObject { ["ms"] = 1 }, Ct);

        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", WriterWaits);
            await reloads.AppliedAsync(Ct);
        }

        McpProtocolException? echoAfter = await writer.CallErrorAsync("alpha_echo_args", new JsonObject { ["n"] = 2 }, Ct);
        JsonObject slowAfter = await writer.CallRawAsync("alpha_slow", new JsonObject { ["ms"] = 1 }, Ct);

        Assert.Equal(1, echoedBefore["structuredContent"]?["arguments"]?["n"]?.GetValue<int>());
        Assert.Equal("Unknown tool: 'alpha_slow'", slowBefore?.RemoteMessage());
        Assert.Equal("Unknown tool: 'alpha_echo_args'", echoAfter?.RemoteMessage());
        Assert.Equal("waited 1 ms", slowAfter.FirstText());
        Assert.Equal(alphaBefore, await PidAsync(writer, "alpha_pid"));
        Assert.Equal(betaBefore, await PidAsync(writer, "beta_pid"));
        Assert.Contains("Reloaded: servers added none, restarted none, removed none, 2 unchanged", _gateway!.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RulesEdit_SendsToolsListChanged_ToTheSessionsWhoseViewChanged_AndNoOther()
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient writer = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "writer", cancellationToken: Ct);
        McpClient reader = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "reader", cancellationToken: Ct);
        await using ToolListChanges writerChanges = ToolListChanges.Watch(writer);
        await using ToolListChanges readerChanges = ToolListChanges.Watch(reader);
        string[] readerTools = await reader.ListToolNamesAsync(Ct);

        // One reload that changes writer's view only: writer is told.
        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", WriterWaits);
            await reloads.AppliedAsync(Ct);
        }

        await writerChanges.NextAsync(Ct);
        string[] writerTools = await writer.ListToolNamesAsync(Ct);

        // Then one that changes reader's view only. Notices to a session travel in order on its one stream, so had the
        // first reload told reader anything, that notice would arrive before this one.
        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", ReaderToo);
            await reloads.AppliedAsync(Ct);
        }

        await readerChanges.NextAsync(Ct);

        Assert.Contains("alpha_slow", writerTools);
        Assert.DoesNotContain("alpha_echo_args", writerTools);
        Assert.DoesNotContain(readerTools, t => t.StartsWith("alpha_", StringComparison.Ordinal));
        Assert.Equal(1, readerChanges.Count);
        Assert.Contains("alpha_echo_args", await reader.ListToolNamesAsync(Ct));
    }

    [Fact]
    public async Task ServersEdit_KeepsUnchanged_RestartsChanged_StopsRemovedFailingItsCallAtOnce_AndStartsAdded()
    {
        // 'gone' copies what the gateway writes to it onto its stderr, which the gateway logs: the test sees its slow
        // call arrive there before removing it, so the call is in flight for certain.
        var gone = new JsonObject
        {
            ["command"] = "sh",
            ["args"] = new JsonArray("-c", "tee /dev/stderr | \"$0\"", RepoPaths.FixtureServer),
            ["callTimeoutMs"] = 600_000,
        };
        string before = TestServers.File(("keep", TestServers.Fixture()), ("change", TestServers.Fixture()), ("gone", gone));
        JsonObject changed = TestServers.Fixture();
        changed["env"] = new JsonObject { ["GENERATION"] = "2" };
        string after = TestServers.File(("keep", TestServers.Fixture()), ("change", changed), ("added", TestServers.Fixture()));
        InProcessGateway gateway = await StartAsync(before, """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""");
        McpClient client = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct);
        await using ToolListChanges changes = ToolListChanges.Watch(client);
        int keepBefore = await PidAsync(client, "keep_pid");
        int changeBefore = await PidAsync(client, "change_pid");
        int goneBefore = await PidAsync(client, "gone_pid");
        Task<McpProtocolException?> inFlight = client.CallErrorAsync("gone_slow", new JsonObject { ["ms"] = 600_000 }, Ct);
        await _gateway!.Logs.WaitForAsync(line => line.Contains("[gone]", StringComparison.Ordinal) && line.Contains("\"slow\"", StringComparison.Ordinal), "the slow call to reach 'gone'", Ct);

        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("servers.json", after);
            await reloads.AppliedAsync(Ct);
        }

        // Ten minutes of call and of call timeout: an answer now is the removal's, not the timeout's.
        McpProtocolException? lost = await inFlight.Within("the answer to the call in flight on the removed server", Ct);
        await changes.UntilAsync(
            async () => (await client.ListToolNamesAsync(Ct)) is var tools && tools.Contains("added_pid") && tools.Contains("change_pid") && !tools.Any(t => t.StartsWith("gone_", StringComparison.Ordinal)),
            "the added and restarted servers' tools to be listed and the removed one's to be gone",
            Ct);

        Assert.NotNull(lost);
        Assert.Equal(McpErrorCode.InternalError, lost.ErrorCode);
        Assert.StartsWith("Server 'gone' stopped during the request", lost.RemoteMessage(), StringComparison.Ordinal);
        Assert.Equal(keepBefore, await PidAsync(client, "keep_pid"));
        Assert.NotEqual(changeBefore, await PidAsync(client, "change_pid"));
        Assert.Empty(await ProcessProbe.WaitForExitAsync([changeBefore, goneBefore], Ct));
        Assert.Equal("added", (await client.CallRawAsync("added_echo_args", new JsonObject { ["x"] = "added" }, Ct))["structuredContent"]?["arguments"]?["x"]?.GetValue<string>());
        Assert.Equal(["added", "change", "keep"], gateway.Downstream.Servers.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.Contains("Reloaded: servers added added, restarted change, removed gone, 1 unchanged", _gateway!.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RulesFileWithAnError_IsRefused_TheRulesInForceStay_AndTheErrorIsLoggedAndInStatus()
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient writer = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "writer", cancellationToken: Ct);
        await writer.CallRawAsync("alpha_echo_args", cancellationToken: Ct);

        ReloadOutcome refused;
        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", """{ "agents": { "writer": { "allow": { "servers": ["*"] }, "deni": { "servers": ["beta"] } } } }""");
            refused = await reloads.UntilAsync(o => !o.Succeeded && o.Errors.Any(e => e.Contains("'deni'", StringComparison.Ordinal)), "refusing the misspelt rules", Ct);
        }

        JsonObject echoed = await writer.CallRawAsync("alpha_echo_args", new JsonObject { ["still"] = true }, Ct);
        McpProtocolException? slow = await writer.CallErrorAsync("alpha_slow", new JsonObject { ["ms"] = 1 }, Ct);
        JsonObject status = await GatewayEndpoints.GetJsonAsync(GatewayEndpoints.RootOf(gateway.Endpoint), "/status", Ct);

        string error = Assert.Single(refused.Errors);
        Assert.Contains("rules.json", error, StringComparison.Ordinal);
        Assert.Contains("$.agents.writer.deni", error, StringComparison.Ordinal);
        Assert.True(echoed["structuredContent"]?["arguments"]?["still"]?.GetValue<bool>());
        Assert.Equal("Unknown tool: 'alpha_slow'", slow?.RemoteMessage());
        string log = _gateway!.Logs.All;
        Assert.Contains("Reload: " + error, log, StringComparison.Ordinal);
        Assert.Contains("Reload refused: 1 error(s) (above); the configuration in force is unchanged.", log, StringComparison.Ordinal);
        JsonObject lastReload = status["configuration"]!["lastReload"]!.AsObject();
        Assert.False(lastReload["succeeded"]!.GetValue<bool>());
        Assert.Equal([error], lastReload["errors"]!.AsArray().Select(e => e!.GetValue<string>()));
        Assert.Equal(0, status["configuration"]!["reloads"]!.GetValue<int>());
    }

    [Fact]
    public async Task SettingsEdit_RateLimitCalls_AppliesToTheNextCalls()
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient writer = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "writer", cancellationToken: Ct);
        for (int i = 0; i < 3; i++)
        {
            await writer.CallRawAsync("alpha_echo_args", cancellationToken: Ct);
        }

        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("settings.json", """{ "limits": { "rate": { "calls": 2, "windowSeconds": 3600 } } }""");
            Assert.Empty((await reloads.AppliedAsync(Ct)).Notes);
        }

        await writer.CallRawAsync("alpha_echo_args", cancellationToken: Ct);
        await writer.CallRawAsync("beta_echo_args", cancellationToken: Ct);
        McpProtocolException? third = await writer.CallErrorAsync("alpha_echo_args", cancellationToken: Ct);

        Assert.NotNull(third);
        Assert.Equal(-32029, (int)third.ErrorCode);
        Assert.StartsWith("Rate limit: agent 'writer' may make 2 calls per ", third.RemoteMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReloadThatLeavesTheLimitsAlone_KeepsEachAgentsSpentBudget()
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes, """{ "limits": { "rate": { "calls": 2, "windowSeconds": 3600 } } }""");
        McpClient writer = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "writer", cancellationToken: Ct);
        await writer.CallRawAsync("alpha_echo_args", cancellationToken: Ct);
        await writer.CallRawAsync("alpha_echo_args", cancellationToken: Ct);
        McpProtocolException? spent = await writer.CallErrorAsync("alpha_echo_args", cancellationToken: Ct);

        // A rules edit that has nothing to do with writer's budget.
        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", ReaderRevoked);
            await reloads.AppliedAsync(Ct);
        }

        McpProtocolException? stillSpent = await writer.CallErrorAsync("alpha_echo_args", cancellationToken: Ct);

        Assert.Equal(-32029, (int?)spent?.ErrorCode);
        Assert.NotNull(stillSpent);
        Assert.Equal(-32029, (int)stillSpent.ErrorCode);
    }

    [Theory]
    [InlineData("""{ "http": { "listen": "127.0.0.1:8099" } }""", "'http' changed; it takes effect when the gateway restarts")]
    [InlineData("""{ "limits": { "rate": { "httpRequests": 100 } } }""", "'limits.rate.httpRequests' changed; it takes effect when the gateway restarts")]
    [InlineData("""{ "limits": { "sessions": { "idleTimeoutSeconds": 60 } } }""", "'limits.sessions.idleTimeoutSeconds' changed; it takes effect when the gateway restarts")]
    [InlineData("""{ "supervision": { "reconnectDelayMs": 50 } }""", "'supervision' changed; it takes effect when the gateway restarts")]
    [InlineData("""{ "limits": { "sessions": { "total": 20000 } } }""", "'limits.sessions.total' above 10000 (the total at start) takes effect when the gateway restarts")]
    public async Task SettingsEdit_ThatOnlyARestartCanApply_IsReportedSo_AndTheGatewayKeepsServingAsItWas(string settings, string note)
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient writer = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "writer", cancellationToken: Ct);

        ReloadOutcome outcome;
        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("settings.json", settings);
            outcome = await reloads.AppliedAsync(Ct);
        }

        JsonObject echoed = await writer.CallRawAsync("alpha_echo_args", new JsonObject { ["here"] = true }, Ct);
        JsonObject status = await GatewayEndpoints.GetJsonAsync(GatewayEndpoints.RootOf(gateway.Endpoint), "/status", Ct);

        Assert.Equal([note], outcome.Notes);
        Assert.Contains("Reload: " + note, _gateway!.Logs.All, StringComparison.Ordinal);
        Assert.Equal([note], status["configuration"]!["lastReload"]!["notes"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.True(echoed["structuredContent"]?["arguments"]?["here"]?.GetValue<bool>());
    }

    [Fact]
    public async Task RulesEdit_RemovingAnAgent_RevokesItsExistingSessionAtOnce()
    {
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient reader = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "reader", cancellationToken: Ct);
        await using ToolListChanges changes = ToolListChanges.Watch(reader);
        await reader.CallRawAsync("beta_echo_args", cancellationToken: Ct);

        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", ReaderRevoked);
            await reloads.AppliedAsync(Ct);
        }

        McpProtocolException? refused = await reader.CallErrorAsync("beta_echo_args", cancellationToken: Ct);
        await changes.NextAsync(Ct);

        Assert.Equal("Unknown tool: 'beta_echo_args'", refused?.RemoteMessage());
        Assert.Equal(s_gatewayTools, await reader.ListToolNamesAsync(Ct));
    }

    [Fact]
    public async Task RulesEdit_RemovingAnAgent_RevokesItsApiKeySessionAtOnce()
    {
        InProcessGateway.WriteFiles(AlphaAndBeta, WriterEchoes, "{}", _folder);
        string readerKey = await OperationsCli.AddKeyAsync(_folder, "reader");
        InProcessGateway gateway = await StartAsync(AlphaAndBeta, WriterEchoes);
        McpClient reader = await gateway.ConnectAsync(ServedTransport.Http, headers: new Dictionary<string, string> { ["Authorization"] = "Bearer " + readerKey }, cancellationToken: Ct);
        JsonObject allowed = await reader.CallRawAsync("beta_echo_args", new JsonObject { ["by"] = "key" }, Ct);

        using (ReloadWatch reloads = ReloadWatch.On(gateway))
        {
            Edit("rules.json", ReaderRevoked);
            await reloads.AppliedAsync(Ct);
        }

        McpProtocolException? refused = await reader.CallErrorAsync("beta_echo_args", cancellationToken: Ct);
        JsonObject executed = await reader.CallRawAsync("execute_tool", new JsonObject { ["server"] = "beta", ["tool"] = "echo_args" }, Ct);

        Assert.Equal("key", allowed["structuredContent"]?["arguments"]?["by"]?.GetValue<string>());
        Assert.Equal("Unknown tool: 'beta_echo_args'", refused?.RemoteMessage());
        Assert.True(executed["isError"]?.GetValue<bool>(), executed.ToJsonString());
        Assert.Equal(s_gatewayTools, await reader.ListToolNamesAsync(Ct));
    }

    private async Task<InProcessGateway> StartAsync(string servers, string rules, string settings = "{}")
    {
        _gateway = await InProcessGateway.StartAsync(servers, rules, cancellationToken: Ct, settingsJson: settings, folder: _folder);
        return _gateway;
    }

    /// <summary>Edits one of the gateway's files in place, as an editor would.</summary>
    private void Edit(string file, string text) => File.WriteAllText(Path.Combine(_folder, file), text);

    private static async Task<int> PidAsync(McpClient client, string tool) =>
        int.Parse((await client.CallRawAsync(tool, cancellationToken: Ct)).FirstText(), CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }
}
