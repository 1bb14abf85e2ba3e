using System.Globalization;
using System.Text;
using McpGateway.LoadTest;

// The gateway load benchmark: the same calls, interleaved, against direct servers and through the gateway.
// Usage: mcp-loadtest [--calls M] [--sessions 1,16] [--repeat R] [--warmup SECONDS] [--out FILE] [--only TEXT|^PREFIX|...] [--no-scale | --scale-only | --replicas]
//        mcp-loadtest --only chaos [--sessions 16] [--kills 100] [--reloads 50] [--out FILE]   (the chaos soak, only when named)
var settings = BenchSettings.Parse(args);

// Other work on the machine inflates CPU per call; the report says how busy it was.
static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
string loadAtStart = LoadAverage();
string root = BenchSettings.FindRoot();
string work = Directory.CreateTempSubdirectory("mcp-loadtest-").FullName;
string everything = Path.Combine(root, "tests", "fixtures", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
string fast = Path.Combine(root, "tests", "fixtures", "FixtureServer", "bin", "Release", "net10.0", "fixture-server");
foreach (string required in (string[])[everything, fast])
{
    if (!File.Exists(required))
    {
        Console.Error.WriteLine($"missing {required}: run `npm ci --prefix tests/fixtures` and `dotnet build -c Release`.");
        return 2;
    }
}

// The gateway as it is deployed: published with ReadyToRun, so start-up figures do not include compiling it.
string gatewayDll = await GatewayBuild.PublishAsync(root, Path.Combine(work, "gateway"));

string servers = Path.Combine(work, "servers.json");
string rules = Path.Combine(work, "rules.json");
File.WriteAllText(servers, "{\"mcpServers\": {\"everything\": {\"command\": \"node\", \"args\": [" + System.Text.Json.JsonSerializer.Serialize(everything) + "]}}}");
string fastServers = Path.Combine(work, "fast-servers.json");
File.WriteAllText(fastServers, "{\"mcpServers\": {\"fast\": {\"command\": " + System.Text.Json.JsonSerializer.Serialize(fast) + ", \"args\": [\"fast\"]}}}");
File.WriteAllText(rules, """{"agents": {"bench": {"allow": {"servers": ["everything", "fast"]}}}}""");
var agentHeader = new Dictionary<string, string> { ["X-Agent-Id"] = "bench" };

// The stateful HTTP gateway as it is, and with an API key, a JWT, the audit log, and each credential with the audit.
IReadOnlyList<AuthVariant> variants = await AuthVariants.CreateAsync(work, gatewayDll, fastServers, rules, "bench");
Func<Target> Stateful(AuthVariant variant, string serversFile, string downstream) => () => new HttpProcessTarget(
    $"gateway http stateful{variant.Label} → {downstream}",
    "dotnet",
    [gatewayDll, "serve", "--config", serversFile, "--rules", rules, .. variant.SettingsFile is null ? Array.Empty<string>() : ["--settings", variant.SettingsFile], "--http", "{port}", "--log-level", "Warning"],
    p => new Uri($"http://127.0.0.1:{p}/mcp"),
    false,
    variant.Headers) { ToolPrefix = downstream + "_" };

Func<Target>[] targets =
[
    () => new DirectStdioTarget("fast, direct stdio", fast, ["fast"]),
    () => new GatewayStdioTarget("gateway stdio → fast", gatewayDll, fastServers, rules, "bench") { ToolPrefix = "fast_" },
    .. variants.Select(v => Stateful(v, fastServers, "fast")),
    () => new HttpProcessTarget("gateway http stateless → fast", "dotnet", [gatewayDll, "serve", "--config", fastServers, "--rules", rules, "--http", "{port}", "--stateless", "--log-level", "Warning"], p => new Uri($"http://127.0.0.1:{p}/mcp"), true, agentHeader) { ToolPrefix = "fast_" },
    () => new DirectStdioTarget("everything, direct stdio", "node", [everything]),
    () => new GatewayStdioTarget("gateway stdio → everything", gatewayDll, servers, rules, "bench") { ToolPrefix = "everything_" },
    .. variants.Select(v => Stateful(v, servers, "everything")),
    () => new HttpProcessTarget("gateway http stateless → everything", "dotnet", [gatewayDll, "serve", "--config", servers, "--rules", rules, "--http", "{port}", "--stateless", "--log-level", "Warning"], p => new Uri($"http://127.0.0.1:{p}/mcp"), true, agentHeader) { ToolPrefix = "everything_" },
    .. PeerTargets.Create(everything, work),
];

// --replicas: HAProxy in front of one and three gateways (the multi-replica deployment), against one gateway reached directly.
if (settings.Replicas)
{
    if (!HaproxyReplicasTarget.Installed)
    {
        Console.Error.WriteLine($"missing {HaproxyReplicasTarget.Haproxy}: apt-get install -y haproxy");
        return 2;
    }

    // Stateful sessions move between replicas sealed with a key every replica holds.
    string sessionSettings = Path.Combine(work, "replica-settings.json");
    File.WriteAllText(sessionSettings, "{\"sessions\": {\"keys\": [\"" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) + "\"]}}");
    string[] sealedSessions = ["--settings", sessionSettings];
    Func<Target> Direct(string serversFile, string downstream, bool stateless) => () => new HttpProcessTarget(
        $"gateway http {(stateless ? "stateless" : "stateful")} → {downstream}", "dotnet",
        [gatewayDll, "serve", "--config", serversFile, "--rules", rules, "--http", "{port}", "--log-level", "Warning", .. stateless ? ["--stateless"] : sealedSessions],
        p => new Uri($"http://127.0.0.1:{p}/mcp"), stateless, agentHeader) { ToolPrefix = downstream + "_" };
    Func<Target> Balanced(int count, string serversFile, string downstream, bool stateless) => () => new HaproxyReplicasTarget(
        $"haproxy → {count} gateway{(count == 1 ? string.Empty : "s")} http {(stateless ? "stateless" : "stateful")} → {downstream}",
        count, gatewayDll, serversFile, rules, stateless, agentHeader, stateless ? null : sealedSessions) { ToolPrefix = downstream + "_" };
    targets =
    [
        .. ((bool[])[true, false]).SelectMany(stateless => (Func<Target>[])
        [
            Direct(fastServers, "fast", stateless), Balanced(1, fastServers, "fast", stateless), Balanced(3, fastServers, "fast", stateless),
            Direct(servers, "everything", stateless), Balanced(1, servers, "everything", stateless), Balanced(3, servers, "everything", stateless),
        ]),
    ];
}

var results = new List<LoadResult>();
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
for (int round = 1; settings.Load && round <= settings.Repeat; round++)
{
    foreach (int sessions in settings.Sessions)
    {
        foreach (Func<Target> make in targets)
        {
            await using Target target = make();
            if (!BenchSettings.Matches(target.Name, settings.Filter))
            {
                continue;
            }

            await target.StartAsync(cancel.Token);
            var template = new CallTemplate(target.ToolPrefix + "echo", """{"message":"hello"}""");
            IReadOnlyList<ILoadSession> open = await target.OpenSessionsAsync(sessions, template, cancel.Token);
            LoadResult result = await LoadRun.RunAsync(target.Name, open, settings.Calls, Math.Min(500, settings.Calls / 4), target.Processes, cancel.Token, settings.Warmup);
            foreach (ILoadSession session in open)
            {
                await session.DisposeAsync();
            }

            results.Add(result);
            Console.Error.WriteLine($"round {round} N={sessions} {result.Target}: {result.CallsPerSecond:F0} calls/s, p50 {result.P50Micros:F0} µs, errors {result.Errors}, cpu/call {string.Join(", ", result.CpuMicrosPerCall.Select(c => $"{c.Key} {c.Value:F0} µs"))}");
        }
    }
}

ChaosResult? chaos = null;
if (settings.Chaos)
{
    chaos = await new ChaosSoak(gatewayDll, fast, everything, work).RunAsync(new ChaosOptions(settings.Sessions.Max(), settings.Kills, settings.Reloads), cancel.Token);
}

string report = $"# mcp-gateway benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{Environment.NewLine}{Environment.NewLine}" +
    "Produced by `dotnet run -c Release --project bench/McpGateway.LoadTest" + (args.Length > 0 ? " -- " + string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) || a.Contains('|', StringComparison.Ordinal) ? $"\"{a}\"" : a)) : string.Empty) + "`. " +
    $"Load average (1, 5, 15 min) at the start: {loadAtStart}; at the end: {LoadAverage()}." + Environment.NewLine + Environment.NewLine +
    (settings.Replicas ? "## Replicas behind HAProxy" + Environment.NewLine + Environment.NewLine + Report.Replicas(results, settings)
        : settings.Load && results.Count > 0 ? "## Load" + Environment.NewLine + Environment.NewLine + Report.Markdown(results, settings) : string.Empty) +
    (chaos is null ? string.Empty : "## Chaos" + Environment.NewLine + Environment.NewLine + ChaosReport.Markdown(chaos));
if (settings.Scale)
{
    report += Environment.NewLine + "## Scale" + Environment.NewLine + Environment.NewLine + await new Scale(gatewayDll, fast, everything, work).RunAsync(cancel.Token);
}

Console.WriteLine(report);
if (settings.Output is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Output))!);
    File.WriteAllText(settings.Output, report);
    Console.Error.WriteLine($"wrote {settings.Output}");
}

Directory.Delete(work, recursive: true);
return 0;

internal sealed record BenchSettings(int Calls, int[] Sessions, int Repeat, string? Output, string? Filter = null, bool Load = true, bool Scale = true)
{
    /// <summary>Only the multi-replica targets (<c>--replicas</c>): HAProxy in front of one and three gateways.</summary>
    public bool Replicas { get; init; }

    /// <summary>How long each run warms up before it measures (<c>--warmup SECONDS</c>).</summary>
    public TimeSpan Warmup { get; init; } = LoadRun.DefaultWarmup;

    /// <summary>The chaos soak runs only when <c>--only</c> names it (it is not a load target, and takes minutes).</summary>
    public bool Chaos => Filter is not null && Matches("chaos", Filter);

    /// <summary>How many times the chaos soak kills its victim (<c>--kills</c>) and reloads (<c>--reloads</c>).</summary>
    public int Kills { get; init; } = 100;

    public int Reloads { get; init; } = 50;

    public static BenchSettings Parse(string[] args)
    {
        int calls = 10000, repeat = 3, kills = 100, reloads = 50;
        TimeSpan warmup = LoadRun.DefaultWarmup;
        int[] sessions = [1, 16];
        string? output = null, filter = null;
        bool load = true, scale = true, replicas = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls": calls = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--repeat": repeat = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = TimeSpan.FromSeconds(int.Parse(args[++i], CultureInfo.InvariantCulture)); break;
                case "--sessions": sessions = [.. args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
                case "--out": output = args[++i]; break;
                case "--kills": kills = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--reloads": reloads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--only": filter = args[++i]; scale = false; break;
                case "--scale-only": load = false; break;
                case "--no-scale": scale = false; break;
                case "--replicas": replicas = true; scale = false; break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }

        return new BenchSettings(calls, sessions, repeat, output, filter, load, scale) { Warmup = warmup, Replicas = replicas, Kills = kills, Reloads = reloads };
    }

    /// <summary>
    /// Whether a target is wanted: its name contains <paramref name="filter"/>, or starts with what follows a leading
    /// <c>^</c>; <c>|</c> separates alternatives (<c>^gateway http stateful → fast|api key → fast</c>).
    /// </summary>
    public static bool Matches(string name, string? filter) =>
        filter is null || filter.Split('|').Any(f => f.StartsWith('^') ? name.StartsWith(f[1..], StringComparison.Ordinal) : name.Contains(f, StringComparison.Ordinal));

    public static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "McpGateway.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("run from inside the repository");
    }
}

internal static class GatewayBuild
{
    /// <summary>Publishes the gateway (Release, ReadyToRun for this machine) into <paramref name="output"/>; returns its dll.</summary>
    public static async Task<string> PublishAsync(string root, string output)
    {
        string rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["publish", Path.Combine(root, "src", "McpGateway"), "-c", "Release", "-r", rid, "--self-contained", "false", "-p:PublishReadyToRun=true", "-o", output, "--nologo"])
        {
            start.ArgumentList.Add(argument);
        }

        Console.Error.WriteLine($"publishing the gateway (Release, ReadyToRun, {rid}) to {output}");
        using var process = System.Diagnostics.Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("dotnet publish failed:" + Environment.NewLine + await stdout + await stderr);
        }

        return Path.Combine(output, "mcp-gateway.dll");
    }
}
