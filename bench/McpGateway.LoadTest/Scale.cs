using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.LoadTest;

/// <summary>
/// The scale figures: start-up with many downstream servers, tools/list over a large catalogue with many agents in the
/// rules, and the gateway's resident memory idle, with many open sessions and after many calls.
/// </summary>
internal sealed class Scale(string gatewayDll, string fixture, string everything, string work)
{
    private static readonly Dictionary<string, string> s_agentHeader = new() { ["X-Agent-Id"] = "agent_0" };
    private readonly StringBuilder _report = new();

    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        _report.AppendLine("### Start-up");
        _report.AppendLine();
        _report.AppendLine("Time from starting the process until it answers with every downstream server's tools (over stdio; fast fixture servers started in parallel, and server-everything in the last row), median of 3.");
        _report.AppendLine();
        _report.AppendLine("| downstream servers | gateway ready ms | slowest single server start ms (alone) | gateway with no servers ms | ratio ready / slowest server |");
        _report.AppendLine("|---|---|---|---|---|");
        double serverAlone = Median(await RepeatAsync(5, () => ServerStartMillisAsync(cancellationToken)));
        double gatewayAlone = Median(await RepeatAsync(3, () => GatewayReadyMillisAsync(0, 1, cancellationToken)));
        foreach (int count in (int[])[1, 10, 100])
        {
            double ready = Median(await RepeatAsync(3, () => GatewayReadyMillisAsync(count, 1, cancellationToken)));
            _report.AppendLine(CultureInfo.InvariantCulture, $"| {count} | {ready:F0} | {serverAlone:F0} | {gatewayAlone:F0} | {ready / serverAlone:F2} |");
            Console.Error.WriteLine($"start-up with {count} servers: {ready:F0} ms (one server alone {serverAlone:F0} ms, gateway alone {gatewayAlone:F0} ms)");
        }

        // A real server, which starts slower than the gateway does: here the gateway's own start overlaps less.
        double everythingAlone = Median(await RepeatAsync(3, () => EverythingStartMillisAsync(cancellationToken)));
        double everythingReady = Median(await RepeatAsync(3, () => GatewayWithEverythingReadyMillisAsync(cancellationToken)));
        _report.AppendLine(CultureInfo.InvariantCulture, $"| 1 (server-everything) | {everythingReady:F0} | {everythingAlone:F0} | {gatewayAlone:F0} | {everythingReady / everythingAlone:F2} |");
        Console.Error.WriteLine($"start-up with server-everything: {everythingReady:F0} ms (server-everything alone {everythingAlone:F0} ms)");

        _report.AppendLine();
        await ToolsListAsync(cancellationToken);
        await MemoryAsync(cancellationToken);
        return _report.ToString();
    }

    /// <summary>How long one fixture server takes from process start to its initialize answer.</summary>
    private async Task<double> ServerStartMillisAsync(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        await using var server = new StdioConnection(fixture, ["fast"]);
        await server.InitializeAsync(cancellationToken);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>How long server-everything takes from process start until it lists its tools.</summary>
    private async Task<double> EverythingStartMillisAsync(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        await using var server = new StdioConnection("node", [everything, "stdio"]);
        await server.InitializeAsync(cancellationToken);
        await server.RequestAsync(ToolsList, cancellationToken);
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>From process start until the gateway lists server-everything's echo tool.</summary>
    private async Task<double> GatewayWithEverythingReadyMillisAsync(CancellationToken cancellationToken)
    {
        string config = Path.Combine(work, "start-everything.json");
        (_, string rules) = WriteConfig("start-everything-rules", 0, 1, agents: 1);
        await File.WriteAllTextAsync(config, "{\"mcpServers\": {\"everything\": {\"command\": \"node\", \"args\": [" + JsonSerializer.Serialize(everything) + ", \"stdio\"]}}}", cancellationToken);
        return await GatewayReadyMillisAsync(config, rules, list => Encoding.UTF8.GetString(list).Contains("\"everything_echo\"", StringComparison.Ordinal), cancellationToken);
    }

    /// <summary>From process start until tools/list lists every server's echo tool.</summary>
    private Task<double> GatewayReadyMillisAsync(int servers, int toolsPerServer, CancellationToken cancellationToken)
    {
        (string config, string rules) = WriteConfig($"start-{servers}", servers, toolsPerServer, agents: 1);
        return GatewayReadyMillisAsync(config, rules, list => CountTools(list) >= servers * toolsPerServer + GatewayOwnTools, cancellationToken);
    }

    /// <summary>From starting the gateway on these files until its tools/list answer satisfies <paramref name="ready"/>.</summary>
    private async Task<double> GatewayReadyMillisAsync(string config, string rules, Func<byte[], bool> ready, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        await using var gateway = new StdioConnection("dotnet", [gatewayDll, "serve", "--config", config, "--rules", rules, "--agent", "agent_0", "--log-level", "Warning"]);
        await gateway.InitializeAsync(cancellationToken);
        while (!ready(await gateway.RequestAsync(ToolsList, cancellationToken)))
        {
            await Task.Delay(2, cancellationToken);
        }

        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private const int GatewayOwnTools = 3;

    private async Task ToolsListAsync(CancellationToken cancellationToken)
    {
        const int servers = 100, tools = 100, agents = 1000, calls = 200;
        (string config, string rules) = WriteConfig("catalogue", servers, tools, agents);
        await using var gateway = new StdioConnection("dotnet", [gatewayDll, "serve", "--config", config, "--rules", rules, "--agent", "agent_0", "--log-level", "Warning"]);
        await gateway.InitializeAsync(cancellationToken);
        int expected = ExpectedToolsForAgent0(servers, tools) + GatewayOwnTools;
        while (CountTools(await gateway.RequestAsync(ToolsList, cancellationToken)) < expected)
        {
            await Task.Delay(20, cancellationToken);
        }

        var times = new List<double>();
        int listed = 0;
        for (int i = 0; i < calls; i++)
        {
            long started = Stopwatch.GetTimestamp();
            byte[] answer = await gateway.RequestAsync(ToolsList, cancellationToken);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            listed = CountTools(answer);
        }

        times.Sort();
        _report.AppendLine("### tools/list over a large catalogue");
        _report.AppendLine();
        _report.AppendLine(CultureInfo.InvariantCulture, $"{servers} servers × {tools} tools = {servers * tools:N0} tools; the rules name {agents:N0} agents. Agent `agent_0` may use every server but has every tool named `tool_?0` denied, so its list is filtered, not copied: it sees {listed:N0} tools (with the gateway's own). Measured over stdio, {calls} requests, end to end (client write to client read, including {listed:N0} tools of JSON on the wire).");
        _report.AppendLine();
        _report.AppendLine("| p50 µs | p90 µs | p99 µs | response bytes |");
        _report.AppendLine("|---|---|---|---|");
        byte[] sample = await gateway.RequestAsync(ToolsList, cancellationToken);
        _report.AppendLine(CultureInfo.InvariantCulture, $"| {Quantile(times, 0.5):F0} | {Quantile(times, 0.9):F0} | {Quantile(times, 0.99):F0} | {sample.Length:N0} |");
        _report.AppendLine();
        Console.Error.WriteLine($"tools/list of {listed} tools: p50 {Quantile(times, 0.5):F0} µs");
    }

    private async Task MemoryAsync(CancellationToken cancellationToken)
    {
        (string config, string rules) = WriteConfig("memory", 1, 1, agents: 1);
        int port = HttpProcessTarget.FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in (string[])[gatewayDll, "serve", "--config", config, "--rules", rules, "--http", port.ToString(CultureInfo.InvariantCulture), "--log-level", "Warning"])
        {
            start.ArgumentList.Add(argument);
        }

        using Process gateway = Process.Start(start)!;
        gateway.OutputDataReceived += (_, _) => { };
        gateway.ErrorDataReceived += (_, _) => { };
        gateway.BeginOutputReadLine();
        gateway.BeginErrorReadLine();
        try
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}/mcp");
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 16 });
            await WaitForAsync(http, endpoint, cancellationToken);
            var template = new CallTemplate("fast_echo", """{"message":"hello"}""");

            // Idle: started, one session made a few calls (so the code paths are loaded), then settled.
            await RunCallsAsync(endpoint, template, s_agentHeader, sessions: 1, calls: 200, cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            double idle = ProcessCpu.ResidentMiB(gateway.Id);

            var sessionIds = new List<string>();
            for (int i = 0; i < 1000; i++)
            {
                sessionIds.Add(await OpenSessionAsync(http, endpoint, cancellationToken));
            }

            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            double withSessions = ProcessCpu.ResidentMiB(gateway.Id);

            await RunCallsAsync(endpoint, template, s_agentHeader, sessions: 16, calls: 100_000, cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            double after100k = ProcessCpu.ResidentMiB(gateway.Id);
            await RunCallsAsync(endpoint, template, s_agentHeader, sessions: 16, calls: 100_000, cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            double after200k = ProcessCpu.ResidentMiB(gateway.Id);

            _report.AppendLine("### Resident memory (gateway process, Streamable HTTP, VmRSS)");
            _report.AppendLine();
            _report.AppendLine("| idle MiB | with 1,000 open sessions MiB | per session KiB | after 100,000 calls MiB | after 200,000 calls MiB |");
            _report.AppendLine("|---|---|---|---|---|");
            _report.AppendLine(CultureInfo.InvariantCulture, $"| {idle:F0} | {withSessions:F0} | {(withSessions - idle) * 1024 / 1000:F0} | {after100k:F0} | {after200k:F0} |");
            _report.AppendLine();
            Console.Error.WriteLine($"memory: idle {idle:F0} MiB, 1000 sessions {withSessions:F0} MiB, after 100k calls {after100k:F0} MiB, after 200k {after200k:F0} MiB");
        }
        finally
        {
            gateway.Kill(entireProcessTree: true);
            await gateway.WaitForExitAsync(cancellationToken);
        }
    }

    private static async Task RunCallsAsync(Uri endpoint, CallTemplate template, Dictionary<string, string> headers, int sessions, int calls, CancellationToken cancellationToken)
    {
        var open = Enumerable.Range(0, sessions).Select(_ => (ILoadSession)new StreamableHttpSession(endpoint, template, stateless: false, headers)).ToList();
        LoadResult result = await LoadRun.RunAsync("memory", open, calls, warmupCalls: 0, new Dictionary<string, int>(), cancellationToken);
        foreach (ILoadSession session in open)
        {
            await session.DisposeAsync();
        }

        if (result.Errors > 0)
        {
            Console.Error.WriteLine($"memory run: {result.Errors} errors");
        }
    }

    private static async Task<string> OpenSessionAsync(HttpClient http, Uri endpoint, CancellationToken cancellationToken)
    {
        using HttpResponseMessage init = await http.SendAsync(StreamableHttpSession.Post(endpoint, CallTemplate.Initialize(1), null, s_agentHeader), cancellationToken);
        init.EnsureSuccessStatusCode();
        string id = init.Headers.GetValues("Mcp-Session-Id").First();
        _ = await init.Content.ReadAsByteArrayAsync(cancellationToken);
        using HttpResponseMessage initialized = await http.SendAsync(StreamableHttpSession.Post(endpoint, CallTemplate.Initialized, id, s_agentHeader), cancellationToken);
        return id;
    }

    private static async Task WaitForAsync(HttpClient http, Uri endpoint, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await OpenSessionAsync(http, endpoint, cancellationToken);
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    /// <summary>Servers fast_0..fast_{n-1} (the first named "fast"), and rules naming <paramref name="agents"/> agents.</summary>
    private (string Config, string Rules) WriteConfig(string name, int servers, int toolsPerServer, int agents)
    {
        var mcpServers = new JsonObject();
        for (int i = 0; i < servers; i++)
        {
            JsonArray args = toolsPerServer > 1 ? ["fast", "--tools", toolsPerServer.ToString(CultureInfo.InvariantCulture)] : ["fast"];
            mcpServers[i == 0 ? "fast" : $"fast_{i}"] = new JsonObject { ["command"] = fixture, ["args"] = args, ["startTimeoutMs"] = 120_000 };
        }

        var agentRules = new JsonObject();
        for (int i = 0; i < agents; i++)
        {
            // agent_0 may use everything but tools named tool_?0; the others each get a slice of the servers.
            agentRules[$"agent_{i}"] = i == 0
                ? new JsonObject { ["allow"] = new JsonObject { ["servers"] = new JsonArray("*") }, ["deny"] = new JsonObject { ["tools"] = new JsonObject { ["*"] = new JsonArray("tool_?0") } } }
                : new JsonObject { ["allow"] = new JsonObject { ["servers"] = new JsonArray($"fast_{i % Math.Max(1, servers)}", "fast"), ["tools"] = new JsonObject { ["fast"] = new JsonArray("echo", "tool_1*") } } };
        }

        string config = Path.Combine(work, name + "-servers.json");
        string rules = Path.Combine(work, name + "-rules.json");
        File.WriteAllText(config, new JsonObject { ["mcpServers"] = mcpServers }.ToJsonString());
        File.WriteAllText(rules, new JsonObject { ["agents"] = agentRules }.ToJsonString());
        return (config, rules);
    }

    /// <summary>Per server: echo plus tool_2..tool_N, less those matching tool_?0 (tool_10, tool_20, ..., tool_90).</summary>
    private static int ExpectedToolsForAgent0(int servers, int tools)
    {
        int perServer = 1 + Enumerable.Range(2, tools - 1).Count(i => !(i >= 10 && i <= 99 && i % 10 == 0));
        return servers * perServer;
    }

    private static byte[] ToolsList(long id) => Encoding.UTF8.GetBytes($"{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/list\"}}");

    private static int CountTools(byte[] response)
    {
        using JsonDocument document = JsonDocument.Parse(response);
        return document.RootElement.TryGetProperty("result", out JsonElement result) && result.TryGetProperty("tools", out JsonElement tools) ? tools.GetArrayLength() : 0;
    }

    private static async Task<List<double>> RepeatAsync(int times, Func<Task<double>> measure)
    {
        var values = new List<double>();
        for (int i = 0; i < times; i++)
        {
            values.Add(await measure());
        }

        return values;
    }

    private static double Median(List<double> values) => Quantile([.. values.Order()], 0.5);

    private static double Quantile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
}
