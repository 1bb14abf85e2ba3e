using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace McpGateway.LoadTest;

/// <summary>How hard the chaos soak pushes (<c>--only chaos</c>, with <c>--sessions</c>, <c>--kills</c>, <c>--reloads</c>).</summary>
internal sealed record ChaosOptions(int Sessions, int Kills, int Reloads);

/// <summary>One kill of the victim: how long the call in flight on it waited for its error, and how long it took to come back.</summary>
internal sealed record ChaosKill(int Index, long KilledAt, ChaosCall Hang, double RecoveryMs, double? BackoffSeconds)
{
    public double HangWaitMs => (Hang.Ended - KilledAt) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>One reload: whether it applied, how long it took, and whether the rule it changed held on the next call.</summary>
internal sealed record ChaosReload(int Index, bool Applied, double Milliseconds, ChaosCall Check, bool RuleHeld, string Summary);

/// <summary>What /proc says about the gateway at one moment.</summary>
internal sealed record ChaosSnapshot(string When, int Calls, double ResidentMiB, double PeakResidentMiB, IReadOnlyDictionary<string, int> Descriptors, IReadOnlyList<(int Pid, char State, string Command)> Descendants);

/// <summary>Everything the soak measured, for the report.</summary>
internal sealed record ChaosResult(
    ChaosOptions Options,
    string Supervision,
    double Seconds,
    IReadOnlyList<ChaosCall> Calls,
    IReadOnlyList<ChaosKill> Kills,
    IReadOnlyList<ChaosReload> Reloads,
    IReadOnlyList<ChaosSnapshot> Snapshots,
    int ReloadLines,
    IReadOnlyList<string> ReloadsThatRestarted,
    IReadOnlyList<string> GatewayErrors,
    bool StoppedCleanly,
    IReadOnlyList<string> LeftBehind,
    IReadOnlyList<ChaosMemoryStep> Memory);

/// <summary>One step of the bounded-reply memory measurement.</summary>
internal sealed record ChaosMemoryStep(string Step, string Answer, double ResidentMiB, double PeakResidentMiB);

/// <summary>
/// The chaos soak: the published gateway over Streamable HTTP in front of five servers (a victim that is killed again
/// and again, a steady fixture, the real server-everything, a fixture that never answers its calls, and one that
/// reloads add and remove), sixteen sessions calling without pause; meanwhile the victim is killed (SIGKILL) with a
/// call in flight on it, and the configuration is reloaded (the extra server added or removed, a rule changed). Then a
/// 50 MB reply through the bounded-reply limit, with the gateway's memory before and after.
/// </summary>
internal sealed class ChaosSoak(string gatewayDll, string fixture, string everything, string work)
{
    public const int StallTimeoutMs = 1000;
    private const string OpenRules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";
    private const string DenyFail = """{ "agents": { "ops": { "allow": { "servers": ["*"] }, "deny": { "tools": { "steady": ["fail"] } } } } }""";

    // Quick reconnects, and no crash-loop slowdown: a hundred kills in a few minutes is a crash loop by the default rule.
    private const string Settings = """{ "supervision": { "reconnectDelayMs": 100, "maxReconnectDelayMs": 1000, "crashLoop": { "failures": 1000000 } } }""";

    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(120);
    private static readonly Dictionary<string, string> s_agent = new() { ["X-Agent-Id"] = "ops" };

    public async Task<ChaosResult> RunAsync(ChaosOptions options, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateDirectory(Path.Combine(work, "chaos")).FullName;
        Write(folder, "servers.json", Servers(withExtra: false));
        Write(folder, "rules.json", OpenRules);
        Write(folder, "settings.json", Settings);
        await using ChaosGateway gateway = await ChaosGateway.StartAsync(gatewayDll, folder, cancellationToken);
        using var admin = new HttpClient();
        var seen = new HashSet<int>();
        void See() => seen.UnionWith(ProcessView.Descendants(gateway.Pid).Select(d => d.Pid));

        // Sixteen sessions, half on the fast path, half through the SDK's handlers; every fourth also calls the server that stalls.
        var load = new ChaosLoadRun();
        var sessions = new List<ChaosHttpSession>();
        for (int i = 0; i < options.Sessions; i++)
        {
            var session = new ChaosHttpSession(gateway.Endpoint, s_agent, sdkPath: i % 2 == 1);
            await session.InitializeAsync(cancellationToken);
            sessions.Add(session);
        }

        ChaosHttpSession[] control = [new(gateway.Endpoint, s_agent, sdkPath: false), new(gateway.Endpoint, s_agent, sdkPath: true)];
        foreach (ChaosHttpSession session in control)
        {
            await session.InitializeAsync(cancellationToken);
        }

        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < sessions.Count; i++)
        {
            load.Run(sessions[i], $"s{i}", Plan(stalls: i % 4 == 3), cancellationToken);
        }

        // Warm: the gateway's memory grows while its first calls compile and size its pools, then stays flat.
        await load.MoreAnsweredAsync(20_000).WaitAsync(s_patience, cancellationToken);
        See();
        var snapshots = new List<ChaosSnapshot> { Snapshot("before the first kill (warm)", load.Answered, gateway.Pid) };

        var kills = new List<ChaosKill>();
        var reloads = new List<ChaosReload>();
        for (int kill = 1; kill <= options.Kills; kill++)
        {
            await load.MoreAnsweredAsync(options.Sessions).WaitAsync(s_patience, cancellationToken);
            int pid = ProcessView.Descendants(gateway.Pid).Single(d => d.Command.Contains("--victim", StringComparison.Ordinal) && d.State is not ('Z' or 'X')).Pid;

            // A call only the kill can answer (the victim never answers hang; its call timeout is ten minutes), seen
            // arriving at the victim (its stderr, which the gateway logs) before the kill.
            Task<long> arrived = gateway.Stderr.NextAsync(l => l.Contains("[victim] fixture: hang called", StringComparison.Ordinal));
            Task<ChaosCall> hang = control[kill % 2].CallAsync("victim_hang", [], cancellationToken);
            await arrived.WaitAsync(s_patience, cancellationToken);
            Task<long> ready = gateway.Stderr.NextAsync(l => l.Contains("Server 'victim' is ready with", StringComparison.Ordinal));
            Task<long> unavailable = gateway.Stderr.NextAsync(l => l.Contains("Server 'victim' is unavailable", StringComparison.Ordinal));
            long killedAt = Stopwatch.GetTimestamp();
            Process.GetProcessById(pid).Kill();
            ChaosCall hung = await hang.WaitAsync(s_patience, cancellationToken);

            // Every other kill, while the victim is down: a reload that adds or removes the extra server and changes a rule.
            if (kill % 2 == 0 && reloads.Count < options.Reloads)
            {
                reloads.Add(await ReloadAsync(gateway, admin, folder, reloads.Count + 1, control[0], cancellationToken));
            }

            await unavailable.WaitAsync(s_patience, cancellationToken);
            long back = await ready.WaitAsync(s_patience, cancellationToken);
            See();
            string? said = gateway.Stderr.After(killedAt, l => l.Contains("Server 'victim' is unavailable", StringComparison.Ordinal));
            kills.Add(new ChaosKill(kill, killedAt, hung, Ms(back - killedAt), Backoff(said)));
            if (kill == options.Kills / 2)
            {
                snapshots.Add(Snapshot($"after kill {kill}", load.Answered, gateway.Pid));
            }
        }

        while (reloads.Count < options.Reloads)
        {
            reloads.Add(await ReloadAsync(gateway, admin, folder, reloads.Count + 1, control[0], cancellationToken));
        }

        await load.MoreAnsweredAsync(options.Sessions).WaitAsync(s_patience, cancellationToken);
        int answered = load.Answered;
        IReadOnlyList<ChaosCall> calls = await load.StopAsync().WaitAsync(s_patience, cancellationToken);
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        See();
        snapshots.Add(Snapshot($"after kill {options.Kills} and reload {reloads.Count}", answered, gateway.Pid));
        foreach (ChaosHttpSession session in sessions.Concat(control))
        {
            await session.DisposeAsync();
        }

        IReadOnlyList<string> lines = gateway.Stderr.Lines;
        bool stopped = await gateway.StopAsync();
        string[] left = [.. seen.Where(ProcessView.IsAlive).Select(pid => pid.ToString(CultureInfo.InvariantCulture))];
        IReadOnlyList<ChaosMemoryStep> memory = await BoundedReplyAsync(cancellationToken);
        return new ChaosResult(
            options,
            Settings,
            seconds,
            calls,
            kills,
            reloads,
            snapshots,
            lines.Count(l => l.Contains("Reloaded: ", StringComparison.Ordinal)),
            [.. lines.Where(l => l.Contains("Reloaded: ", StringComparison.Ordinal) && !l.Contains("restarted none", StringComparison.Ordinal))],
            [.. lines.Where(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal) || l.Contains("nhandled exception", StringComparison.Ordinal))],
            stopped,
            left,
            memory);
    }

    /// <summary>Adds or removes the extra server and denies or allows steady's fail tool; then checks the rule on the very next call.</summary>
    private async Task<ChaosReload> ReloadAsync(ChaosGateway gateway, HttpClient admin, string folder, int index, ChaosHttpSession control, CancellationToken cancellationToken)
    {
        bool add = index % 2 == 1;
        Write(folder, "servers.json", Servers(withExtra: add));
        Write(folder, "rules.json", add ? DenyFail : OpenRules);
        (bool applied, double ms, string body) = await gateway.ReloadAsync(admin, cancellationToken);
        ChaosCall check = await control.CallAsync("steady_fail", [], cancellationToken);
        bool held = add ? check.Kind.Contains("Unknown tool: 'steady_fail'", StringComparison.Ordinal) : check.Kind == "tool error: the tool ran and failed";
        return new ChaosReload(index, applied, ms, check, held, applied ? (add ? "extra added, steady_fail denied" : "extra removed, steady_fail allowed") : "refused: " + body);
    }

    /// <summary>
    /// A 50 MB reply from a server with the default 16 MiB limit, on both paths, three times each: the caller gets an
    /// error and the gateway's memory should not move. Then the same reply from a server whose limit lets it through.
    /// </summary>
    private async Task<IReadOnlyList<ChaosMemoryStep>> BoundedReplyAsync(CancellationToken cancellationToken)
    {
        string folder = Directory.CreateDirectory(Path.Combine(work, "chaos-memory")).FullName;
        JsonObject Big(long? limit)
        {
            var entry = new JsonObject { ["command"] = fixture, ["args"] = new JsonArray("--resilience") };
            if (limit is { } bytes)
            {
                entry["maxMessageBytes"] = bytes;
            }

            return entry;
        }

        Write(folder, "servers.json", new JsonObject { ["mcpServers"] = new JsonObject { ["bounded"] = Big(null), ["unbounded"] = Big(64L * 1024 * 1024) } }.ToJsonString());
        Write(folder, "rules.json", OpenRules);
        Write(folder, "settings.json", "{}");
        await using ChaosGateway gateway = await ChaosGateway.StartAsync(gatewayDll, folder, cancellationToken);
        ChaosHttpSession fast = new(gateway.Endpoint, s_agent, sdkPath: false), sdk = new(gateway.Endpoint, s_agent, sdkPath: true);
        await fast.InitializeAsync(cancellationToken);
        await sdk.InitializeAsync(cancellationToken);
        var steps = new List<ChaosMemoryStep>();
        void Measure(string step, string answer) => steps.Add(new ChaosMemoryStep(step, answer, ProcessCpu.ResidentMiB(gateway.Pid), PeakResidentMiB(gateway.Pid)));

        for (int i = 0; i < 2000; i++)
        {
            await (i % 2 == 0 ? fast : sdk).CallAsync("bounded_echo_args", new JsonObject { ["text"] = "warm" + i }, cancellationToken);
        }

        Measure("after 2,000 small calls (warm)", "ok");
        var fiftyMegabytes = new JsonObject { ["bytes"] = 50 * 1000 * 1000 };
        foreach ((string path, ChaosHttpSession session) in new[] { ("fast path", fast), ("SDK path", sdk) })
        {
            // Ten each: the small pooled buffers (up to 1 MiB) a large message passes through end up cached on every
            // thread that read one, so memory creeps up by a few MiB a time at first, then stays.
            for (int i = 1; i <= 10; i++)
            {
                ChaosCall refused = await session.CallAsync("bounded_big", (JsonObject)fiftyMegabytes.DeepClone(), cancellationToken);
                if (i is 1 or 2 or 5 or 10)
                {
                    Measure($"50 MB reply #{i}, {path}, limit 16 MiB", refused.Kind);
                }
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        Measure("3 s later", "-");
        for (int i = 0; i < 2000; i++)
        {
            await fast.CallAsync("bounded_echo_args", new JsonObject { ["text"] = "after" + i }, cancellationToken);
        }

        Measure("after 2,000 more small calls", "ok");
        ChaosCall whole = await fast.CallAsync("unbounded_big", (JsonObject)fiftyMegabytes.DeepClone(), cancellationToken);
        Measure("50 MB reply, fast path, limit raised to 64 MiB (forwarded whole)", whole.Kind);
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        Measure("3 s later", "-");
        await fast.DisposeAsync();
        await sdk.DisposeAsync();
        return steps;
    }

    /// <summary>What a session calls next: the victim, steady, everything and extra in turn; the stalling server now and then.</summary>
    private static Func<int, string, (string Tool, JsonObject Arguments)> Plan(bool stalls) => (n, tag) =>
        stalls && n % 8 == 7 ? ("stall_hang", [])
        : (n % 4) switch
        {
            0 => ("victim_echo_args", new JsonObject { ["text"] = tag }),
            1 => ("steady_echo_args", new JsonObject { ["text"] = tag }),
            2 => ("everything_echo", new JsonObject { ["message"] = tag }),
            _ => ("extra_echo_args", new JsonObject { ["text"] = tag }),
        };

    private string Servers(bool withExtra)
    {
        // The fixture ignores arguments it does not know: --victim, --stall and --extra name the processes in /proc.
        JsonObject Fixture(params string[] args) => new() { ["command"] = fixture, ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]) };
        JsonObject victim = Fixture("--resilience", "--victim");
        victim["callTimeoutMs"] = 600_000;
        JsonObject stall = Fixture("--resilience", "--stall");
        stall["callTimeoutMs"] = StallTimeoutMs;
        var servers = new JsonObject
        {
            ["victim"] = victim,
            ["steady"] = Fixture("--steady"),
            ["everything"] = new JsonObject { ["command"] = "node", ["args"] = new JsonArray(everything) },
            ["stall"] = stall,
        };
        if (withExtra)
        {
            servers["extra"] = Fixture("--extra");
        }

        return new JsonObject { ["mcpServers"] = servers }.ToJsonString();
    }

    /// <summary>Replaces a file whole (a rename), so the gateway's own watcher never reads it half written.</summary>
    private static void Write(string folder, string name, string content)
    {
        string temporary = Path.Combine(folder, name + ".tmp");
        File.WriteAllText(temporary, content);
        File.Move(temporary, Path.Combine(folder, name), overwrite: true);
    }

    private static ChaosSnapshot Snapshot(string when, int calls, int pid) =>
        new(when, calls, ProcessCpu.ResidentMiB(pid), PeakResidentMiB(pid), ProcessView.OpenDescriptors(pid), ProcessView.Descendants(pid));

    private static double PeakResidentMiB(int pid)
    {
        string? line = File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>The delay the gateway announced ("… Reconnecting in 0.4 s.").</summary>
    private static double? Backoff(string? line)
    {
        const string Marker = "Reconnecting in ";
        int at = line?.LastIndexOf(Marker, StringComparison.Ordinal) ?? -1;
        return at < 0 ? null : double.TryParse(line![(at + Marker.Length)..].Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) ? seconds : null;
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>Sessions calling one after another until stopped; waits on a number of answers, never on time.</summary>
    private sealed class ChaosLoadRun
    {
        private readonly List<(int Target, TaskCompletionSource Reached)> _waiters = [];
        private readonly List<Task<List<ChaosCall>>> _sessions = [];
        private int _answered;
        private volatile bool _stopping;

        public int Answered => Volatile.Read(ref _answered);

        public void Run(ChaosHttpSession session, string name, Func<int, string, (string Tool, JsonObject Arguments)> next, CancellationToken cancellationToken) =>
            _sessions.Add(Task.Run(async () =>
            {
                var calls = new List<ChaosCall>();
                for (int n = 0; !_stopping; n++)
                {
                    (string tool, JsonObject arguments) = next(n, $"{name}-{n}");
                    calls.Add(await session.CallAsync(tool, arguments, cancellationToken));
                    Interlocked.Increment(ref _answered);
                    Notify();
                }

                return calls;
            }, cancellationToken));

        public Task MoreAnsweredAsync(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waiters)
            {
                _waiters.Add((Volatile.Read(ref _answered) + count, reached));
            }

            Notify();
            return reached.Task;
        }

        public async Task<IReadOnlyList<ChaosCall>> StopAsync()
        {
            _stopping = true;
            return [.. (await Task.WhenAll(_sessions)).SelectMany(c => c)];
        }

        private void Notify()
        {
            lock (_waiters)
            {
                int answered = Volatile.Read(ref _answered);
                _waiters.RemoveAll(w => w.Target <= answered && w.Reached.TrySetResult());
            }
        }
    }
}
