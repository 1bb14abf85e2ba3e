using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// Two gateways for <see cref="DownstreamFailureTests"/>. <see cref="StartFailures"/> has a server that cannot start, one
/// that hangs past its start timeout, and a healthy fixture. <see cref="Crashes"/> has a victim fixture that the tests
/// kill and a survivor; the victim is launched through a shell that refuses to start it while <see cref="BlockFile"/>
/// exists, so a test decides when the automatic reconnect may succeed instead of racing it.
/// </summary>
public sealed class DownstreamFailureGateways : IAsyncLifetime
{
    public const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    /// <summary>The fixture's tools as the gateway serves them (bad_schema is malformed and skipped).</summary>
    public static readonly string[] FixtureTools = ["echo_args", "slow", "fail", "protocol_error", "pid", "crash", "a_b", "rich"];

    private readonly string _directory = Directory.CreateTempSubdirectory("mcp-gateway-resilience-").FullName;

    internal InProcessGateway StartFailures { get; private set; } = null!;

    internal InProcessGateway Crashes { get; private set; } = null!;

    /// <summary>While this file exists the victim server fails to start.</summary>
    public string BlockFile => Path.Combine(_directory, "block-victim");

    /// <summary>A server that starts and never answers: a sleep whose unusual length marks it in the process list.</summary>
    public static JsonObject Hanging(string marker, int startTimeoutMs) => new()
    {
        ["command"] = "sleep",
        ["args"] = new JsonArray(marker),
        ["startTimeoutMs"] = startTimeoutMs,
    };

    /// <summary>A unique sleep duration (an hour and a random fraction) that finds the hanging server's processes.</summary>
    public static string NewHangingMarker() => "3600." + Random.Shared.Next(100_000, 999_999).ToString(CultureInfo.InvariantCulture);

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        string startFailures = TestServers.File(
            ("broken", TestServers.Broken()),
            ("hanging", Hanging(NewHangingMarker(), startTimeoutMs: 500)),
            ("survivor", TestServers.Fixture()));
        var victim = new JsonObject
        {
            ["command"] = "sh",
            ["args"] = new JsonArray("-c", "if [ -e \"$0\" ]; then echo blocked >&2; exit 1; fi; exec \"$1\"", BlockFile, RepoPaths.FixtureServer),
        };
        string crashes = TestServers.File(("victim", victim), ("survivor", TestServers.Fixture()));
        // Crash-loop detection off: the tests kill and block the victim again and again (crash loops are unit-tested).
        var quickReconnect = new GatewayOptions { Downstream = new() { InitialReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200), CrashLoopFailures = 1_000 } };

        InProcessGateway[] gateways = await Task.WhenAll(
            InProcessGateway.StartAsync(startFailures, Rules, cancellationToken: ct),
            InProcessGateway.StartAsync(crashes, Rules, quickReconnect, cancellationToken: ct));
        (StartFailures, Crashes) = (gateways[0], gateways[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(new[] { StartFailures, Crashes }.Where(g => g is not null).Select(g => g.DisposeAsync().AsTask()));
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>One failing server never blocks or breaks the others; a crashed one leaves and comes back (DESIGN §8).</summary>
public sealed class DownstreamFailureTests(DownstreamFailureGateways gateways) : IClassFixture<DownstreamFailureGateways>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_ServersThatFailOrHang_LeaveTheOtherServersListedAndCallable()
    {
        McpClient client = await gateways.StartFailures.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct);

        string[] tools = await client.ListToolNamesAsync(Ct);
        JsonObject echoed = await client.CallRawAsync("survivor_echo_args", new JsonObject { ["text"] = "still here" }, Ct);
        JsonObject servers = await client.CallRawAsync("list_servers", cancellationToken: Ct);
        JsonObject brokenCall = await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = "broken", ["tool"] = "anything" }, Ct);

        string[] expected = [.. IdentityToolNames(), .. DownstreamFailureGateways.FixtureTools.Select(t => "survivor_" + t)];
        Assert.Equal(expected.Order(StringComparer.Ordinal), tools.Order(StringComparer.Ordinal));
        Assert.Equal("still here", echoed["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
        Assert.Equal(
            ["broken:false", "hanging:false", "survivor:true"],
            servers["structuredContent"]!["servers"]!.AsArray().Select(s => $"{s!["name"]}:{s["available"]}").Order(StringComparer.Ordinal));
        Assert.True(brokenCall["isError"]?.GetValue<bool>(), brokenCall.ToJsonString());
        Assert.Contains("'anything'", brokenCall.FirstText(), StringComparison.Ordinal);
    }

    [Fact]
    public void Start_ServersThatFailOrHang_AreReportedUnavailableWithTheCause()
    {
        DownstreamManager downstream = gateways.StartFailures.Downstream;

        // After the first attempt each retries with backoff: between attempts the state is Unavailable, during one Starting.
        DownstreamStatus broken = downstream.Find("broken")!.Status;
        DownstreamStatus hanging = downstream.Find("hanging")!.Status;

        Assert.True(downstream.Find("survivor")!.IsReady);
        Assert.NotEqual(DownstreamState.Ready, broken.State);
        Assert.NotEqual(DownstreamState.Ready, hanging.State);
        Assert.Contains("Server 'broken' is unavailable: could not start", gateways.StartFailures.Logs.All, StringComparison.Ordinal);
        Assert.True(gateways.StartFailures.Logs.All.Contains("Server 'hanging' is unavailable: did not become ready within 0.5 s", StringComparison.Ordinal), string.Join("\n", gateways.StartFailures.Logs.Lines.Where(l => l.Contains("hanging", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task ServerThatExitsAtOnce_IsReportedWithItsExitCode_NotAfterItsStartTimeout()
    {
        // A start timeout far longer than the test: the first attempt must end when the process does. (It once waited the
        // whole timeout when the process exited before the SDK had sent its first request: that request went nowhere.)
        var exits = new JsonObject
        {
            ["command"] = "sh",
            ["args"] = new JsonArray("-c", "echo 'cannot open the database' >&2; exit 3"),
            ["startTimeoutMs"] = 3_600_000,
        };
        string servers = TestServers.File(("exits", exits), ("survivor", TestServers.Fixture()));
        InProcessGateway gateway = await InProcessGateway.StartAsync(servers, DownstreamFailureGateways.Rules, new GatewayOptions { Downstream = new() { InitialReconnectDelay = TimeSpan.FromHours(1) } }, cancellationToken: Ct);
        try
        {
            DownstreamStatus status = gateway.Downstream.Find("exits")!.Status;

            Assert.True(gateway.Downstream.Find("survivor")!.IsReady);
            Assert.NotEqual(DownstreamState.Ready, status.State);
            Assert.Contains("Server 'exits' is unavailable: failed to connect: the process exited with code 3", gateway.Logs.All, StringComparison.Ordinal);
            Assert.DoesNotContain("did not become ready", gateway.Logs.All, StringComparison.Ordinal);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task HangingServer_IsStoppedWhenItsStartTimesOut_AndNoneIsLeftWhenTheGatewayStops()
    {
        string marker = DownstreamFailureGateways.NewHangingMarker();
        string servers = TestServers.File(("hanging", DownstreamFailureGateways.Hanging(marker, startTimeoutMs: 300)), ("survivor", TestServers.Fixture()));

        // No retry during the test: the one process started is the one that timed out.
        InProcessGateway gateway = await InProcessGateway.StartAsync(servers, DownstreamFailureGateways.Rules, new GatewayOptions { Downstream = new() { InitialReconnectDelay = TimeSpan.FromHours(1) } }, cancellationToken: Ct);
        int[] runningAfterTimeout;
        try
        {
            Assert.True(gateway.Downstream.Find("survivor")!.IsReady);
            Assert.Equal(DownstreamState.Restarting, gateway.Downstream.Find("hanging")!.Status.State);
            runningAfterTimeout = await ProcessProbe.WaitForExitAsync(ProcessProbe.FindByCommandLine(marker), Ct);
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        int[] runningAfterStop = await ProcessProbe.WaitForExitAsync(ProcessProbe.FindByCommandLine(marker), Ct);
        Assert.True(runningAfterStop.Length == 0, $"'sleep {marker}' outlived the gateway: pids {string.Join(", ", runningAfterStop)}");
        Assert.True(runningAfterTimeout.Length == 0, $"'sleep {marker}' still runs after its start timed out: pids {string.Join(", ", runningAfterTimeout)}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ServerKilledMidRun_LeavesWithListChanged_FailsClearly_ThenReturnsAfterReconnect(bool viaCrashTool)
    {
        InProcessGateway gateway = gateways.Crashes;
        McpClient stdio = await gateway.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);
        McpClient http = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct);
        await stdio.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "ops" }, Ct);
        await using ToolListChanges stdioChanges = ToolListChanges.Watch(stdio);
        await using ToolListChanges httpChanges = ToolListChanges.Watch(http);
        await WaitForVictimAsync(stdio, stdioChanges, present: true);
        int pidBefore = int.Parse((await http.CallRawAsync("victim_pid", cancellationToken: Ct)).FirstText(), CultureInfo.InvariantCulture);

        File.WriteAllText(gateways.BlockFile, string.Empty);
        try
        {
            stdioChanges.Reset();
            httpChanges.Reset();
            if (viaCrashTool)
            {
                await CallIgnoringErrorAsync(http, "victim_crash");
            }
            else
            {
                System.Diagnostics.Process.GetProcessById(pidBefore).Kill();
            }

            await stdioChanges.NextAsync(Ct);
            await httpChanges.NextAsync(Ct);
            await WaitForVictimAsync(stdio, stdioChanges, present: false);
            await WaitForVictimAsync(http, httpChanges, present: false);

            JsonObject proxied = await http.CallRawAsync("victim_echo_args", new JsonObject { ["text"] = "anyone there?" }, Ct);
            JsonObject executed = await http.CallRawAsync("execute_tool", new JsonObject { ["server"] = "victim", ["tool"] = "echo_args" }, Ct);
            JsonObject survivor = await http.CallRawAsync("survivor_echo_args", new JsonObject { ["text"] = "fine" }, Ct);
            JsonObject servers = await http.CallRawAsync("list_servers", cancellationToken: Ct);

            foreach (JsonObject failed in (JsonObject[])[proxied, executed])
            {
                Assert.True(failed["isError"]?.GetValue<bool>(), failed.ToJsonString());
                Assert.Matches(@"^Server 'victim' is not available right now; retrying in \d+ s\.$", failed.FirstText());
            }

            Assert.Equal("fine", survivor["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
            Assert.False(servers["structuredContent"]!["servers"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "victim")!["available"]!.GetValue<bool>());
        }
        finally
        {
            File.Delete(gateways.BlockFile);
        }

        await WaitForVictimAsync(stdio, stdioChanges, present: true);
        await WaitForVictimAsync(http, httpChanges, present: true);
        int pidAfter = int.Parse((await http.CallRawAsync("victim_pid", cancellationToken: Ct)).FirstText(), CultureInfo.InvariantCulture);
        JsonObject echoed = await stdio.CallRawAsync("victim_echo_args", new JsonObject { ["text"] = "back" }, Ct);

        Assert.NotEqual(pidBefore, pidAfter);
        Assert.Equal("back", echoed["structuredContent"]?["arguments"]?["text"]?.GetValue<string>());
    }

    [Fact]
    public async Task ServerDyingDuringACall_FailsThatCallWithAnErrorNamingTheServer()
    {
        McpClient client = await gateways.Crashes.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct);
        await using ToolListChanges changes = ToolListChanges.Watch(client);
        await WaitForVictimAsync(client, changes, present: true);

        McpProtocolException? error = await client.CallErrorAsync("victim_crash", cancellationToken: Ct);

        Assert.NotNull(error);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);
        Assert.Equal("Server 'victim' stopped during the request (the process exited with code 3).", error.RemoteMessage());
        await WaitForVictimAsync(client, changes, present: true);
    }

    private static async Task CallIgnoringErrorAsync(McpClient client, string tool)
    {
        try
        {
            await client.CallRawAsync(tool, cancellationToken: Ct);
        }
        catch (McpException)
        {
            // The server dies while answering: how that call fails is another test's business.
        }
    }

    private static Task WaitForVictimAsync(McpClient client, ToolListChanges changes, bool present) =>
        changes.UntilAsync(
            async () => (await client.ListToolNamesAsync(Ct)).Contains("victim_pid") == present,
            present ? "the victim's tools to be listed" : "the victim's tools to leave the list",
            Ct);

    private static string[] IdentityToolNames() => ["list_servers", "get_server_tools", "execute_tool"];
}
