using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace McpGateway.LoadTest;

/// <summary>Other MCP gateways from npm, installed at pinned versions into a temporary folder, fronting the same server.</summary>
internal static class PeerTargets
{
    /// <summary>The peers, pinned: the comparison means nothing if the version under test drifts.</summary>
    private static readonly (string Package, string Version)[] s_packages =
    [
        ("mcp-proxy", "6.7.19"),
        ("mcp-hub", "4.2.1"),
        ("supergateway", "4.0.0"),
    ];

    /// <summary>
    /// Targets for every peer gateway: mcp-proxy (Streamable HTTP and legacy SSE, one shared child), mcp-hub (legacy SSE,
    /// tools renamed to <c>server__tool</c>) and supergateway (stateful Streamable HTTP, one child per session). The peers
    /// are installed with npm on first use; when <c>--only</c> matches no peer target, nothing is installed, and when the
    /// install fails the benchmark goes on without peers.
    /// </summary>
    public static IEnumerable<Func<Target>> Create(string everythingScript, string workDirectory)
    {
        string peers = Path.Combine(workDirectory, "peers");
        string hubConfig = Path.Combine(peers, "mcp-hub.json");
        string hubHome = Path.Combine(peers, "mcp-hub-home");
        var empty = new Dictionary<string, string>();
        Dictionary<string, string> bins = [];
        string Bin(string package) => bins[package];
        Dictionary<string, string> HubEnvironment() => new()
        {
            // mcp-hub keeps its catalogue cache, logs and workspace list under XDG folders; all of them go to a
            // throwaway home so that it neither reads the user's nor downloads its catalogue.
            ["HOME"] = hubHome,
            ["XDG_DATA_HOME"] = Path.Combine(hubHome, ".local", "share"),
            ["XDG_STATE_HOME"] = Path.Combine(hubHome, ".local", "state"),
            ["XDG_CONFIG_HOME"] = Path.Combine(hubHome, ".config"),
        };

        (string Name, Func<Target> Make)[] all =
        [
            ("mcp-proxy http → everything", () => new PeerTarget(
                "mcp-proxy http → everything", "mcp-proxy",
                [Bin("mcp-proxy"), "--host", "127.0.0.1", "--port", "{port}", "--", "node", everythingScript],
                port => new Uri($"http://127.0.0.1:{port}/mcp"),
                (endpoint, template) => new StreamableHttpSession(endpoint, template, stateless: false, empty))),
            ("mcp-proxy sse → everything", () => new PeerTarget(
                "mcp-proxy sse → everything", "mcp-proxy",
                [Bin("mcp-proxy"), "--host", "127.0.0.1", "--port", "{port}", "--", "node", everythingScript],
                port => new Uri($"http://127.0.0.1:{port}/sse"),
                (endpoint, template) => new SseSession(endpoint, template))),
            ("mcp-hub sse → everything", () => new PeerTarget(
                "mcp-hub sse → everything", "mcp-hub",
                [Bin("mcp-hub"), "--port", "{port}", "--config", hubConfig],
                port => new Uri($"http://127.0.0.1:{port}/mcp"),
                (endpoint, template) => new SseSession(endpoint, template),
                HubEnvironment(),
                ready: HubReadyAsync)
            {
                ToolPrefix = "everything__",
            }),
            // supergateway logs every message with its body at its default level ("info"); "none" is the nearest to the
            // gateway's Warning (errors are still counted, from the responses).
            ("supergateway http stateful → everything", () => new PeerTarget(
                "supergateway http stateful → everything", "supergateway",
                [Bin("supergateway"), "--stdio", "node " + ShellQuote(everythingScript), "--outputTransport", "streamableHttp", "--stateful", "--port", "{port}", "--logLevel", "none"],
                port => new Uri($"http://127.0.0.1:{port}/mcp"),
                (endpoint, template) => new StreamableHttpSession(endpoint, template, stateless: false, empty),
                childPerSession: true)),
        ];

        string? filter = OnlyFilter();
        (string Name, Func<Target> Make)[] wanted = [.. all.Where(t => BenchSettings.Matches(t.Name, filter))];
        if (wanted.Length == 0)
        {
            return [];
        }

        if (PeerInstaller.Install(peers, s_packages) is not { } installed)
        {
            return [];
        }

        foreach ((string package, string bin) in installed)
        {
            bins[package] = bin;
        }

        File.WriteAllText(hubConfig, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["mcpServers"] = new Dictionary<string, object>
            {
                ["everything"] = new Dictionary<string, object> { ["command"] = "node", ["args"] = new[] { everythingScript } },
            },
        }));
        WriteHubCatalogue(Path.Combine(hubHome, ".local", "share", "mcp-hub", "cache", "registry.json"));
        return wanted.Select(t => t.Make);
    }

    /// <summary>
    /// mcp-hub fetches its marketplace catalogue at start unless registry.json holds a non-empty server list fetched less
    /// than an hour ago (<c>Date.now() - lastFetchedAt &lt; ttl</c>): a far-future date keeps it fresh for good.
    /// </summary>
    private static void WriteHubCatalogue(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, """
            {
              "registry": {
                "version": "offline",
                "generatedAt": 0,
                "totalServers": 1,
                "servers": [{ "id": "offline-placeholder", "name": "offline placeholder", "description": "", "tags": [], "category": "other" }]
              },
              "lastFetchedAt": 32503680000000,
              "serverDocumentation": {}
            }
            """);
    }

    /// <summary>mcp-hub listens before it has connected its servers: wait until its health says so.</summary>
    private static async Task HubReadyAsync(int port, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string health = string.Empty;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                health = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/api/health"), cancellationToken);
                if (health.Contains("\"state\":\"ready\"", StringComparison.Ordinal) && health.Contains("\"status\":\"connected\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"mcp-hub is not ready after 60 s: {health}");
    }

    /// <summary>The value of <c>--only</c> on the benchmark's command line, so that peers are installed only when wanted.</summary>
    private static string? OnlyFilter()
    {
        string[] args = Environment.GetCommandLineArgs();
        int at = Array.LastIndexOf(args, "--only");
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    private static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>Installs the peers with npm into one folder, once, and finds the script each package runs as its command.</summary>
internal static class PeerInstaller
{
    /// <summary>Package name → absolute path of its bin script, or null (with a message) when the install failed.</summary>
    public static Dictionary<string, string>? Install(string prefix, IReadOnlyList<(string Package, string Version)> packages)
    {
        if (Resolve(prefix, packages) is { } installed)
        {
            Console.Error.WriteLine($"peers: using {string.Join(", ", packages.Select(p => $"{p.Package}@{p.Version}"))} already installed in {prefix}");
            return installed;
        }

        Directory.CreateDirectory(prefix);
        string[] specs = [.. packages.Select(p => $"{p.Package}@{p.Version}")];
        Console.Error.WriteLine($"peers: installing {string.Join(", ", specs)} into {prefix} (npm, once per run)...");
        var start = new ProcessStartInfo("npm")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = prefix,
        };
        foreach (string argument in (string[])["install", "--no-audit", "--no-fund", "--prefix", prefix, .. specs])
        {
            start.ArgumentList.Add(argument);
        }

        var watch = Stopwatch.StartNew();
        try
        {
            using Process npm = Process.Start(start) ?? throw new InvalidOperationException("npm did not start");
            npm.OutputDataReceived += (_, e) => Forward(e.Data);
            npm.ErrorDataReceived += (_, e) => Forward(e.Data);
            npm.BeginOutputReadLine();
            npm.BeginErrorReadLine();
            if (!npm.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                npm.Kill(entireProcessTree: true);
                Console.Error.WriteLine("peers: npm install took more than 10 minutes and was stopped; running without peer gateways.");
                return null;
            }

            npm.WaitForExit();
            if (npm.ExitCode != 0)
            {
                Console.Error.WriteLine($"peers: npm install failed (exit code {npm.ExitCode}); running without peer gateways.");
                return null;
            }
        }
        catch (Win32Exception e)
        {
            Console.Error.WriteLine($"peers: cannot run npm ({e.Message}); running without peer gateways.");
            return null;
        }

        if (Resolve(prefix, packages) is not { } resolved)
        {
            Console.Error.WriteLine($"peers: npm install finished but the pinned versions are not all in {prefix}; running without peer gateways.");
            return null;
        }

        Console.Error.WriteLine($"peers: installed in {watch.Elapsed.TotalSeconds:F0} s");
        return resolved;
    }

    private static void Forward(string? line)
    {
        if (!string.IsNullOrWhiteSpace(line))
        {
            Console.Error.WriteLine($"peers:   npm: {line}");
        }
    }

    /// <summary>The bin script of each package when every package is installed at its pinned version; otherwise null.</summary>
    private static Dictionary<string, string>? Resolve(string prefix, IReadOnlyList<(string Package, string Version)> packages)
    {
        var bins = new Dictionary<string, string>();
        foreach ((string package, string version) in packages)
        {
            string folder = Path.Combine(prefix, "node_modules", package);
            string manifest = Path.Combine(folder, "package.json");
            if (!File.Exists(manifest))
            {
                return null;
            }

            try
            {
                using JsonDocument json = JsonDocument.Parse(File.ReadAllText(manifest));
                JsonElement root = json.RootElement;
                if (!root.TryGetProperty("version", out JsonElement installed) || installed.GetString() != version || !root.TryGetProperty("bin", out JsonElement bin))
                {
                    return null;
                }

                // "bin" is either one path or a map of command name → path.
                string? relative = bin.ValueKind switch
                {
                    JsonValueKind.String => bin.GetString(),
                    JsonValueKind.Object => bin.TryGetProperty(package, out JsonElement named) ? named.GetString() : bin.EnumerateObject().Select(p => p.Value.GetString()).FirstOrDefault(),
                    _ => null,
                };
                if (relative is null || !File.Exists(Path.Combine(folder, relative)))
                {
                    return null;
                }

                bins[package] = Path.GetFullPath(Path.Combine(folder, relative));
            }
            catch (JsonException)
            {
                return null;
            }
        }

        return bins;
    }
}

/// <summary>
/// A peer gateway run as <c>node &lt;its bin script&gt;</c> on a free port. Its CPU is counted with that of the server
/// processes it runs (found under it, past any shell), which for a peer with a child per session exist only once the
/// sessions are open: sessions are therefore opened and initialised here, before the run.
/// </summary>
internal sealed class PeerTarget(
    string name,
    string peer,
    IReadOnlyList<string> arguments,
    Func<int, Uri> endpointForPort,
    Func<Uri, CallTemplate, ILoadSession> openSession,
    IReadOnlyDictionary<string, string>? environment = null,
    Func<int, CancellationToken, Task>? ready = null,
    bool childPerSession = false) : Target
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;
    private Uri? _endpoint;

    public override string Name => name;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        int port = HttpProcessTarget.FreePort();
        var start = new ProcessStartInfo("node") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        long started = Stopwatch.GetTimestamp();
        _process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {peer}");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _endpoint = endpointForPort(port);
        Processes[peer] = _process.Id;

        await WaitForPortAsync(port, cancellationToken);
        if (ready is not null)
        {
            await ready(port, cancellationToken);
        }

        if (!childPerSession)
        {
            // A shared child may be started (or connected) after the port opens.
            await WaitForServersAsync(1, cancellationToken);
        }

        RefreshChildren();
        Console.Error.WriteLine($"{peer}: ready after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms, pid {_process.Id}, measuring {string.Join(", ", Processes.Keys)}");
    }

    public override async Task<IReadOnlyList<ILoadSession>> OpenSessionsAsync(int count, CallTemplate template, CancellationToken cancellationToken)
    {
        ILoadSession[] sessions = [.. Enumerable.Range(0, count).Select(_ => openSession(_endpoint!, template))];
        try
        {
            await Task.WhenAll(sessions.Select(s => s.InitializeAsync(cancellationToken)));
        }
        catch
        {
            foreach (ILoadSession session in sessions)
            {
                await session.DisposeAsync();
            }

            throw;
        }

        if (childPerSession)
        {
            await WaitForServersAsync(count, cancellationToken);
            RefreshChildren();
            Console.Error.WriteLine($"{peer}: {count} sessions run {Servers().Count} server processes");
        }

        return [.. sessions.Select(s => new InitializedSession(s))];
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 40 && _output.TryDequeue(out _))
        {
        }
    }

    private string Tail() => string.Join(Environment.NewLine, _output.TakeLast(20));

    private async Task WaitForPortAsync(int port, CancellationToken cancellationToken)
    {
        void ThrowIfExited()
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"{peer} exited with code {_process.ExitCode} before listening:{Environment.NewLine}{Tail()}");
            }
        }

        if (!await HttpProcessTarget.TryWaitForPortAsync(port, s_startTimeout, ThrowIfExited, cancellationToken))
        {
            throw new TimeoutException($"{peer} does not listen on port {port} after {s_startTimeout.TotalSeconds:F0} s:{Environment.NewLine}{Tail()}");
        }
    }

    private async Task WaitForServersAsync(int count, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (Servers().Count < count)
        {
            if (_process!.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{peer} runs {Servers().Count} of {count} server processes:{Environment.NewLine}{Tail()}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Measures the peer and the server processes under it, by pid order: "server-everything (child 1)", ...</summary>
    private void RefreshChildren()
    {
        foreach (string key in Processes.Keys.Where(k => k != peer).ToList())
        {
            Processes.Remove(key);
        }

        List<(string Name, int Pid)> servers = Servers();
        foreach (IGrouping<string, (string Name, int Pid)> group in servers.GroupBy(s => s.Name))
        {
            int index = 0;
            foreach ((string child, int pid) in group.OrderBy(s => s.Pid))
            {
                index++;
                Processes[group.Count() == 1 ? child : child.Replace(" (child)", $" (child {index})", StringComparison.Ordinal)] = pid;
            }
        }
    }

    /// <summary>Processes that run under the peer, at any depth, except the shells some peers start them through.</summary>
    private List<(string Name, int Pid)> Servers() => [.. Descendants(_process!.Id).Where(d => !IsShell(d.Pid))];

    private static List<(string Name, int Pid)> Descendants(int root)
    {
        var found = new List<(string Name, int Pid)>();
        var parents = new Queue<int>([root]);
        while (parents.TryDequeue(out int parent))
        {
            foreach ((string child, int pid) in ChildProcesses.Of(parent))
            {
                found.Add((child, pid));
                parents.Enqueue(pid);
            }
        }

        return found;
    }

    private static bool IsShell(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() is "sh" or "bash" or "dash";
        }
        catch (IOException)
        {
            return false;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        // Everything under the peer now (with start times, against pid reuse), so that nothing it started outlives it.
        List<(int Pid, long Started)> descendants = _process.HasExited ? [] : [.. Descendants(_process.Id).Select(d => (d.Pid, StartTime(d.Pid)))];
        try
        {
            // SIGTERM first, so that the peer can stop its own children.
            using (Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"{peer}: still running 10 s after SIGTERM; killing it");
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        foreach ((int pid, long started) in descendants)
        {
            await StopOrphanAsync(pid, started);
        }

        _process.Dispose();
    }

    /// <summary>Kills a process the peer started and left behind, if that pid still is that process after a grace period.</summary>
    private static async Task StopOrphanAsync(int pid, long started)
    {
        for (int waited = 0; waited < 40 && StartTime(pid) == started; waited++)
        {
            await Task.Delay(50);
        }

        if (started < 0 || StartTime(pid) != started)
        {
            return;
        }

        try
        {
            using Process orphan = Process.GetProcessById(pid);
            Console.Error.WriteLine($"stopping pid {pid}, left behind by a peer gateway");
            orphan.Kill();
        }
        catch (ArgumentException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>When a process started (clock ticks since boot, field 22 of /proc/&lt;pid&gt;/stat); -1 when it is gone.</summary>
    private static long StartTime(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    /// <summary>A session initialised when it was opened: the load run's own initialise is then nothing to do.</summary>
    private sealed class InitializedSession(ILoadSession inner) : ILoadSession
    {
        public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<bool> CallAsync(CancellationToken cancellationToken) => inner.CallAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
