using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// The real <c>mcp-gateway</c> executable in a child process: writes the servers and rules files to a temporary
/// folder, runs <c>dotnet mcp-gateway.dll serve --config … --rules … ARGS</c> with every stream redirected, waits for
/// the "mcp-gateway ready on …" line on stderr, and on dispose kills whatever is left of its process tree.
/// </summary>
internal sealed partial class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly bool _ownsDirectory;

    private GatewayProcess(Process process, string directory, bool ownsDirectory)
    {
        _process = process;
        Directory = directory;
        _ownsDirectory = ownsDirectory;
    }

    /// <summary>The folder holding the configuration; deleted on dispose when the gateway was given its own.</summary>
    public string Directory { get; }

    public int Id => _process.Id;

    public LineLog Stdout { get; } = new();

    public LineLog Stderr { get; } = new();

    /// <summary>The ready line, once seen.</summary>
    public string? ReadyLine { get; private set; }

    /// <summary>For <c>--http</c>: the endpoint the ready line names.</summary>
    public Uri? Endpoint { get; private set; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The dotnet host that runs the tests, to run the gateway the same way.</summary>
    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Writes servers.json and rules.json into a new temporary folder; returns the folder.</summary>
    public static string WriteConfiguration(string serversJson, string rulesJson)
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("mcp-gateway-e2e-").FullName;
        File.WriteAllText(Path.Combine(directory, "servers.json"), serversJson);
        File.WriteAllText(Path.Combine(directory, "rules.json"), rulesJson);
        return directory;
    }

    /// <summary>Starts <c>serve</c> with the given files and extra arguments (and environment variables), and waits until it is ready.</summary>
    public static Task<GatewayProcess> StartAsync(
        string serversJson,
        string rulesJson,
        IEnumerable<string> serveArguments,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null) =>
        StartInAsync(WriteConfiguration(serversJson, rulesJson), serveArguments, cancellationToken, ownsDirectory: true, environment);

    /// <summary>
    /// Starts <c>serve</c> with the servers.json and rules.json already in <paramref name="directory"/> (several
    /// gateways may share them, as replicas share their files), and waits until it is ready. The folder is left as it
    /// is on dispose unless <paramref name="ownsDirectory"/>.
    /// </summary>
    public static async Task<GatewayProcess> StartInAsync(
        string directory,
        IEnumerable<string> serveArguments,
        CancellationToken cancellationToken,
        bool ownsDirectory = false,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(DotnetHost)
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[RepoPaths.GatewayDll, "serve", "--config", Path.Combine(directory, "servers.json"), "--rules", Path.Combine(directory, "rules.json"), .. serveArguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Only the files named here: nothing from the environment of whoever runs the tests.
        foreach (string variable in (string[])["GATEWAY_MCP_CONFIG", "GATEWAY_RULES", "GATEWAY_SETTINGS", "GATEWAY_DEFAULT_AGENT"])
        {
            startInfo.Environment.Remove(variable);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var gateway = new GatewayProcess(process, directory, ownsDirectory);
        process.OutputDataReceived += (_, e) => gateway.Stdout.Add(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.Stderr.Add(e.Data);
        process.Start();
        process.StandardInput.AutoFlush = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await gateway.WaitForReadyAsync(cancellationToken);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>Writes one line (a JSON-RPC message, in stdio mode) to the gateway's stdin.</summary>
    public Task WriteLineAsync(string line) => _process.StandardInput.WriteLineAsync(line);

    /// <summary>
    /// Stdio mode: sends a JSON-RPC request and returns the response with its id, read raw from stdout (a test of what
    /// the process writes cannot use a client that would hide it).
    /// </summary>
    public async Task<JsonObject> RequestAsync(int id, string method, JsonObject? parameters, CancellationToken cancellationToken)
    {
        var request = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method };
        if (parameters is not null)
        {
            request["params"] = parameters;
        }

        await WriteLineAsync(request.ToJsonString());
        string line = await Stdout.WaitForAsync(l => IsResponseTo(l, id), $"the response to '{method}' (id {id}) on stdout", cancellationToken);
        return JsonNode.Parse(line)!.AsObject();
    }

    /// <summary>Stdio mode: the initialize handshake of a 2025-11-25 client.</summary>
    public async Task<JsonObject> InitializeAsync(CancellationToken cancellationToken)
    {
        JsonObject response = await RequestAsync(0, "initialize", new JsonObject
        {
            ["protocolVersion"] = "2025-11-25",
            ["capabilities"] = new JsonObject(),
            ["clientInfo"] = new JsonObject { ["name"] = "raw-stdio-test", ["version"] = "1.0" },
        }, cancellationToken);
        await WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
        return response;
    }

    private static bool IsResponseTo(string line, int id)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject message && message["id"] is JsonValue value && value.TryGetValue(out int found) && found == id
                && (message.ContainsKey("result") || message.ContainsKey("error"));
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>Closes stdin: for a stdio gateway, the agent hanging up.</summary>
    public void CloseStandardInput() => _process.StandardInput.Close();

    /// <summary>Sends a POSIX signal (TERM, INT, HUP…) with kill(1); <see cref="Process.Kill()"/> could only send SIGKILL.</summary>
    public async Task SignalAsync(string signal, CancellationToken cancellationToken)
    {
        using Process kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync(cancellationToken);
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenSource guard = Patience.Guard(cancellationToken);
        try
        {
            await _process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"{Patience.Message("the gateway to exit")} Its stderr:{Environment.NewLine}{Stderr}");
        }

        return _process.ExitCode;
    }

    private async Task WaitForReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            ReadyLine = await Stderr.WaitForAsync(line => line.Contains("mcp-gateway ready on ", StringComparison.Ordinal), "the gateway's ready line on stderr", cancellationToken);
        }
        catch (InvalidOperationException)
        {
            // Its stderr ended: the gateway exited before it was ready.
            await _process.WaitForExitAsync(cancellationToken).Within("the gateway to exit after closing stderr", cancellationToken);
            throw new InvalidOperationException($"The gateway exited with code {_process.ExitCode} before it was ready. Its stderr:{Environment.NewLine}{Stderr}");
        }

        Match match = ReadyPattern().Match(ReadyLine);
        if (match.Success && match.Groups["where"].Value.StartsWith("http", StringComparison.Ordinal))
        {
            Endpoint = new Uri(match.Groups["where"].Value);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or never started.
        }

        _process.Dispose();
        if (!_ownsDirectory)
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A server may still hold a file there for a moment; the folder is in /tmp anyway.
        }
    }

    [GeneratedRegex(@"mcp-gateway ready on (?<where>\S+) \((?<ready>\d+) of (?<total>\d+) servers ready\)")]
    private static partial Regex ReadyPattern();
}

/// <summary>
/// The lines a process (or a logger) wrote, in order, with waits on what they hold: a wait wakes on every new line
/// (each line completes the task every waiter holds, so no waiter misses one) and fails after the hang guard.
/// </summary>
internal sealed class LineLog
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Completes when the stream has ended (the process closed it or exited).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Called with null at the end of the stream, as <see cref="DataReceivedEventArgs"/> does.</summary>
    public void Add(string? line)
    {
        if (line is null)
        {
            _closed.TrySetResult();
        }
        else
        {
            _lines.Enqueue(line);
        }

        Interlocked.Exchange(ref _added, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>The first line (already written or still to come) that matches; throws <see cref="InvalidOperationException"/> when the stream ends without one.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> predicate, string what, CancellationToken cancellationToken)
    {
        string? found = null;
        await UntilAsync(lines => (found = lines.FirstOrDefault(predicate)) is not null, what, cancellationToken);
        return found!;
    }

    /// <summary>Waits until the lines so far satisfy <paramref name="condition"/>; throws <see cref="InvalidOperationException"/> when the stream ends first.</summary>
    public async Task UntilAsync(Func<IReadOnlyCollection<string>, bool> condition, string what, CancellationToken cancellationToken)
    {
        using CancellationTokenSource guard = Patience.Guard(cancellationToken);
        try
        {
            while (true)
            {
                // Taken before the lines are looked at: a line added after the look completes it.
                Task added = Volatile.Read(ref _added).Task;
                bool closed = _closed.Task.IsCompleted;
                if (condition(_lines))
                {
                    return;
                }

                if (closed)
                {
                    throw new InvalidOperationException($"The stream ended without {what}. Its lines:{Environment.NewLine}{this}");
                }

                await added.WaitAsync(guard.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"{Patience.Message(what)} The lines so far:{Environment.NewLine}{this}");
        }
    }

    public override string ToString() => string.Join(Environment.NewLine, _lines);
}
