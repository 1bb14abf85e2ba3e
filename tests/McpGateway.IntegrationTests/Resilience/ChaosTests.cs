using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;

using McpGateway.Testing;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// Chaos, bounded (issue 11 item 11): sixteen sessions (twelve over Streamable HTTP on both call paths, four over stdio)
/// call tools without pause on four servers (the fixture as a victim, a steady fixture, the real server-everything, a
/// fixture that stalls, and one that reloads add and remove) while the victim is killed ten times, the configuration
/// is reloaded four times (a server added and removed, a rule changed) and every stalled call runs into its call
/// timeout. Every wait is on an event: a call seen arriving at the server (its stderr), the supervisor's state
/// changes, a reload's completion, a number of calls answered. Nothing is asserted about time.
/// </summary>
public sealed partial class ChaosTests : IAsyncDisposable
{
    private const int Kills = 10;
    private const int HttpSessions = 12;
    private const int StdioSessions = 4;
    private const int StallTimeoutMs = 250;

    /// <summary>ops may use every server; stdio sessions (no header) are ops too.</summary>
    private const string OpenRules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } }, "defaults": { "default_agent": "ops" } }""";

    /// <summary>As <see cref="OpenRules"/>, with steady's fail tool denied.</summary>
    private const string DenyFail = """{ "agents": { "ops": { "allow": { "servers": ["*"] }, "deny": { "tools": { "steady": ["fail"] } } } }, "defaults": { "default_agent": "ops" } }""";

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-chaos-").FullName;
    private readonly string _mark = Guid.NewGuid().ToString("N");
    private readonly HangSignal _hangs = new("[victim] fixture: hang called");
    private InProcessGateway? _gateway;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SixteenSessions_WhileAServerIsKilledTenTimes_ReloadsAddAndRemoveAServer_AndOneStalls_EveryCallGetsOneClearAnswer_AndNothingLeaks()
    {
        // Quick retries that never reach a crash loop (crash loops are unit-tested): ten kills in a row must each recover.
        var options = new GatewayOptions { Downstream = new() { InitialReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200), CrashLoopFailures = 1_000 } };
        InProcessGateway gateway = _gateway = await InProcessGateway.StartAsync(
            Servers(withExtra: false), OpenRules, options, cancellationToken: Ct, settingsJson: "{}", folder: _folder,
            configureServices: services => services.AddSingleton<ILoggerProvider>(_hangs));
        ConfigurationReloader reloader = gateway.Services.GetRequiredService<ConfigurationReloader>();
        DownstreamServer victim = gateway.Downstream.Find("victim")!;
        DownstreamServer[] unaffected = [.. new[] { "steady", "everything", "stall" }.Select(name => gateway.Downstream.Find(name)!)];
        foreach (DownstreamServer server in gateway.Downstream.Servers)
        {
            await ResilienceHelpers.WaitForAsync(server, s => s.IsReady, "ready at start", Ct);
        }

        var seen = new HashSet<int>(ChaosProcesses.Marked(_mark));
        var wires = new List<ChaosWire>();
        ChaosWire Wire(IClientTransport inner)
        {
            var wire = new ChaosWire(inner);
            lock (wires)
            {
                wires.Add(wire);
            }

            return wire;
        }

        // The sessions: HTTP ones alternate between the fast path and the SDK's; every fourth also calls the stalling server.
        var load = new ChaosLoad();
        for (int i = 0; i < HttpSessions + StdioSessions; i++)
        {
            bool http = i < HttpSessions;
            McpClient client = await gateway.ConnectAsync(http ? ServedTransport.Http : ServedTransport.Stdio, agentHeader: http ? "ops" : null, cancellationToken: Ct, wrap: Wire);
            load.Run((http ? "http" : "stdio") + i, client, i % 2 == 0 ? CallPath.Fast : CallPath.Sdk, Plan(stalls: i % 4 == 3), Ct);
        }

        McpClient httpControl = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct, wrap: Wire);
        McpClient stdioControl = await gateway.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct, wrap: Wire);
        var hangs = new List<ChaosOutcome>();
        var ruleChecks = new List<(bool Denied, ChaosOutcome Outcome)>();
        int reloads = 0;
        for (int kill = 1; kill <= Kills; kill++)
        {
            // The load is running: every session has had about one more call answered since the last kill.
            await load.MoreAnsweredAsync(HttpSessions + StdioSessions).WaitAsync(Patience.HangGuard, Ct);
            int restarts = victim.Status.Restarts;
            int pid = victim.FastConnection?.ProcessId ?? throw new InvalidOperationException($"victim is not ready before kill {kill}: {victim.Status}");

            // A call that only the kill can answer (the victim never answers hang, and its call timeout is ten minutes),
            // seen arriving at the victim before the kill: on each of the three ways in.
            (McpClient client, CallPath path) = (kill % 3) switch { 0 => (httpControl, CallPath.Fast), 1 => (httpControl, CallPath.Sdk), _ => (stdioControl, CallPath.Sdk) };
            Task<ChaosOutcome> hang = load.CallAsync(client, path, "victim_hang", $"hang{kill}", [], Ct);
            Assert.True(await _hangs.Arrived.WaitAsync(Patience.HangGuard, Ct), $"hang call {kill} did not reach the victim");
            Process.GetProcessById(pid).Kill();
            hangs.Add(await hang.WaitAsync(Patience.HangGuard, Ct));

            // While the victim is down or coming back: add the extra server and deny a tool, then the reverse.
            if (kill % 2 == 0 && reloads < 4)
            {
                bool add = reloads % 2 == 0;
                Write("servers.json", Servers(withExtra: add));
                Write("rules.json", add ? DenyFail : OpenRules);
                ReloadOutcome outcome = await reloader.ReloadAsync(Ct);
                Assert.True(outcome.Succeeded, string.Join("; ", outcome.Errors));
                reloads++;
                ruleChecks.Add((add, await load.CallAsync(httpControl, CallPath.Fast, "steady_fail", $"rule{reloads}", [], Ct)));
            }

            await ResilienceHelpers.WaitForAsync(victim, s => s.IsReady && s.Status.Restarts > restarts, $"ready again after kill {kill}", Ct);
            seen.UnionWith(ChaosProcesses.Marked(_mark));
        }

        await load.MoreAnsweredAsync(HttpSessions + StdioSessions).WaitAsync(Patience.HangGuard, Ct);
        try
        {
            await load.StopAsync().WaitAsync(Patience.HangGuard, Ct);
        }
        catch (TimeoutException)
        {
            Assert.Fail("Calls still unanswered: " + string.Join(", ", load.InFlight.Select(c => $"{c.Value} [{c.Key}]")));
        }

        // Every call was answered, once, with a result or a clear error.
        ChaosOutcome[] outcomes = [.. load.Outcomes];
        Dictionary<string, ChaosOutcome[]> byServer = outcomes.GroupBy(o => o.Server).ToDictionary(g => g.Key, g => g.ToArray());
        string counts = string.Join(", ", byServer.Select(g => $"{g.Key} {g.Value.Length} ({g.Value.Count(o => o.Succeeded)} ok)"));
        Assert.Empty(wires.SelectMany(w => w.NotAnsweredOnce));
        Assert.Equal(outcomes.Length + hangs.Count + ruleChecks.Count, wires.Sum(w => w.CallsSent));
        string[] unclear = [.. outcomes.Where(o => Unclear(o) is not null).Select(o => $"{o} → {Unclear(o)}")];
        Assert.True(unclear.Length == 0, $"{unclear.Length} unclear answers of {outcomes.Length} ({counts}):{Environment.NewLine}{string.Join(Environment.NewLine, unclear.Take(20))}");
        foreach (string server in (string[])["victim", "steady", "everything", "stall"])
        {
            Assert.True(byServer.ContainsKey(server), $"no calls to {server}: {counts}");
        }

        // Calls in flight on the victim when it was killed failed because it was (the timeout is ten minutes away).
        Assert.All(hangs, h => Assert.Matches(StoppedDuringTheRequest("victim"), h.Error?.RemoteMessage() ?? h.ToString()));
        Assert.All(hangs, h => Assert.Equal(McpErrorCode.InternalError, h.Error!.ErrorCode));

        // The servers nobody touched were never restarted, even by the reloads; the victim came back after each kill.
        Assert.All(unaffected, s => Assert.Same(s, gateway.Downstream.Find(s.Name)));
        Assert.All(unaffected, s => Assert.Equal(0, s.Status.Restarts));
        Assert.Same(victim, gateway.Downstream.Find("victim"));
        Assert.True(victim.Status.Restarts >= Kills, $"victim restarted {victim.Status.Restarts} times");

        // Each reload's rule applied to the very next call.
        Assert.Equal(4, ruleChecks.Count);
        Assert.All(ruleChecks, c => Assert.Equal(c.Denied ? "Unknown tool: 'steady_fail'" : "the tool ran and failed", c.Outcome.Error?.RemoteMessage() ?? c.Outcome.ToolError ?? c.Outcome.ToString()));

        // No process left behind: one per server while it runs, none reaped late, none once it is gone.
        int servers = gateway.Downstream.Servers.Count;
        seen.UnionWith(ChaosProcesses.Marked(_mark));
        Assert.True(await ChaosProcesses.WaitUntilAsync(() => ChaosProcesses.Marked(_mark).Length == servers, Patience.HangGuard, Ct), $"{ChaosProcesses.Marked(_mark).Length} server processes for {servers} servers");
        Assert.True(await ChaosProcesses.WaitUntilAsync(() => ChaosProcesses.ZombiesOfThisProcess(seen).Length == 0, Patience.HangGuard, Ct), "zombies: " + string.Join(", ", ChaosProcesses.ZombiesOfThisProcess(seen)));
        Assert.Empty(gateway.Logs.Unhandled);
        await gateway.DisposeAsync();
        _gateway = null;
        int[] outlived = await ProcessProbe.WaitForExitAsync(seen.Union(ChaosProcesses.Marked(_mark)), Ct);
        Assert.True(outlived.Length == 0, "outlived the gateway: " + string.Join(", ", outlived));
        Assert.True(seen.Count >= Kills + servers, $"saw {seen.Count} server processes");
        string kinds = string.Join("; ", outcomes.GroupBy(Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} ×{g.Count()}"));
        TestContext.Current.SendDiagnosticMessage($"chaos: {outcomes.Length} calls ({counts}), {Kills} kills, {reloads} reloads, {seen.Count} server processes; {kinds}");
    }

    /// <summary>An answer with its numbers taken out, to count answers by kind.</summary>
    private static string Kind(ChaosOutcome o) => o.Server + ": " + (o.Succeeded ? "ok" : Regex.Replace(o.Error?.RemoteMessage() ?? o.ToolError ?? o.Failure?.Message ?? "?", @"\d+", "N"));

    /// <summary>What session calls next: the victim, steady, everything and extra in turn; the stalling server now and then.</summary>
    private static Func<int, string, (string Tool, JsonObject Arguments)> Plan(bool stalls) => (n, tag) =>
        stalls && n % 8 == 7 ? ("stall_hang", [])
        : (n % 4) switch
        {
            0 => ("victim_echo_args", new JsonObject { ["text"] = tag }),
            1 => ("steady_echo_args", new JsonObject { ["text"] = tag }),
            2 => ("everything_echo", new JsonObject { ["message"] = tag }),
            _ => ("extra_echo_args", new JsonObject { ["text"] = tag }),
        };

    /// <summary>Why an answer is not one this server may give under chaos, or null when it is.</summary>
    private static string? Unclear(ChaosOutcome o)
    {
        if (o.Failure is not null)
        {
            return "not a JSON-RPC answer";
        }

        bool echoed = o.Succeeded && (o.Server == "everything"
            ? o.Result!["content"]?[0]?["text"]?.GetValue<string>() == "Echo: " + o.Tag
            : o.Result!["structuredContent"]?["arguments"]?["text"]?.GetValue<string>() == o.Tag);
        string? error = o.Error?.RemoteMessage();
        return o.Server switch
        {
            // Unaffected servers: every call succeeds, with its own answer.
            "steady" or "everything" => echoed ? null : "not its own successful answer",
            "victim" => echoed || (o.Error?.ErrorCode == McpErrorCode.InternalError && StoppedDuringTheRequest("victim").IsMatch(error!)) || (o.ToolError is { } down && NotAvailable("victim").IsMatch(down))
                ? null : "neither its answer, nor 'stopped during the request', nor 'not available right now' (retrying in N s, or try again later while it starts)",
            "stall" => o.Error is { } timeout && (int)timeout.ErrorCode == DownstreamErrors.RequestTimeoutErrorCode && error == $"The request to server 'stall' timed out after {StallTimeoutMs} ms."
                ? null : "not its call timeout",

            // Added and removed by reloads: not listed, starting, stopped under the call, or its answer.
            "extra" => echoed || error == "Unknown tool: 'extra_echo_args'" || (error is not null && StoppedDuringTheRequest("extra").IsMatch(error)) || (o.ToolError is { } absent && NotAvailable("extra").IsMatch(absent))
                ? null : "not an answer a server being added and removed may give",
            _ => "unexpected server",
        };
    }

    private static Regex StoppedDuringTheRequest(string server) => new($@"^Server '{server}' stopped during the request \(.+\)\.$");

    private static Regex NotAvailable(string server) => new($@"^Server '{server}' (is not available right now; (retrying in \d+ s|try again later)|is starting; try again in a moment)\.$");

    private string Servers(bool withExtra)
    {
        JsonObject Marked(JsonObject entry)
        {
            entry["env"] = new JsonObject { [ChaosProcesses.Variable] = _mark };
            return entry;
        }

        JsonObject victim = Marked(TestServers.Fixture("--resilience"));
        victim["callTimeoutMs"] = 600_000;
        JsonObject stall = Marked(TestServers.Fixture("--resilience"));
        stall["callTimeoutMs"] = StallTimeoutMs;
        (string, JsonObject)[] servers =
        [
            ("victim", victim),
            ("steady", Marked(TestServers.Fixture())),
            ("everything", Marked(TestServers.Everything())),
            ("stall", stall),
            .. withExtra ? [("extra", Marked(TestServers.Fixture()))] : Array.Empty<(string, JsonObject)>(),
        ];
        return TestServers.File(servers);
    }

    /// <summary>Replaces a file whole (a rename), so the gateway's own watcher never reads it half written.</summary>
    private void Write(string name, string content)
    {
        string temporary = Path.Combine(_folder, name + ".tmp");
        File.WriteAllText(temporary, content);
        File.Move(temporary, Path.Combine(_folder, name), overwrite: true);
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Counts the gateway's log lines that start with a text (a server's stderr line), as a semaphore to wait on.</summary>
    private sealed class HangSignal(string prefix) : ILoggerProvider
    {
        public string Prefix => prefix;

        public SemaphoreSlim Arrived { get; } = new(0);

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(HangSignal owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (formatter(state, exception).StartsWith(owner.Prefix, StringComparison.Ordinal))
                {
                    owner.Arrived.Release();
                }
            }
        }
    }
}
