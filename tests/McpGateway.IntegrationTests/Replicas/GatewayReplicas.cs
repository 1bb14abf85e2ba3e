using System.Globalization;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Operations;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// Several real gateway processes (<c>dotnet mcp-gateway.dll serve --http 0</c>) reading the same servers, rules and
/// settings files from one folder, as replicas of a deployment share a ConfigMap. Each starts its own downstream
/// servers. On dispose every replica still running is stopped with its process tree, and any server process a killed
/// replica left behind is killed too, so nothing outlives the test even when it fails.
/// </summary>
internal sealed class GatewayReplicas : IAsyncDisposable
{
    private readonly List<GatewayProcess> _replicas = [];
    private readonly List<(int Pid, string CommandLine)> _children = [];

    private GatewayReplicas(string directory)
    {
        Directory = directory;
    }

    /// <summary>The folder with servers.json, rules.json and settings.json.</summary>
    public string Directory { get; }

    public string RulesFile => Path.Combine(Directory, "rules.json");

    public IReadOnlyList<GatewayProcess> Replicas => _replicas;

    /// <summary>The replicas' MCP endpoints, in order.</summary>
    public IReadOnlyList<Uri> Endpoints => [.. _replicas.Select(r => r.Endpoint!)];

    /// <summary>Writes the three files and starts <paramref name="count"/> replicas on them in parallel; returns once all are ready.</summary>
    public static async Task<GatewayReplicas> StartAsync(int count, string serversJson, string rulesJson, string settingsJson, IEnumerable<string> serveArguments, CancellationToken cancellationToken)
    {
        string directory = GatewayProcess.WriteConfiguration(serversJson, rulesJson);
        string settings = Path.Combine(directory, "settings.json");
        File.WriteAllText(settings, settingsJson);
        var replicas = new GatewayReplicas(directory);
        string[] arguments = ["--settings", settings, "--http", "0", .. serveArguments];
        Task<GatewayProcess>[] starting = [.. Enumerable.Range(0, count).Select(_ => GatewayProcess.StartInAsync(directory, arguments, cancellationToken))];
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            foreach (Task<GatewayProcess> started in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await started.Result.DisposeAsync();
            }

            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }

        foreach (Task<GatewayProcess> started in starting)
        {
            replicas._replicas.Add(started.Result);
            replicas._children.AddRange(ProcessProbe.ChildrenOf(started.Result.Id).Select(pid => (pid, CommandLine(pid))));
        }

        return replicas;
    }

    /// <summary>Kills replica <paramref name="index"/> with SIGKILL, a crash with no chance to close anything, and waits for it to be gone.</summary>
    public async Task KillAsync(int index, CancellationToken cancellationToken)
    {
        await _replicas[index].SignalAsync("KILL", cancellationToken);
        await _replicas[index].WaitForExitAsync(cancellationToken);
    }

    /// <summary>
    /// Replica <paramref name="index"/>'s count of tool calls by <paramref name="agent"/> whose decision satisfies
    /// <paramref name="decision"/>, from its <c>/metrics</c> (<c>mcp_gateway_tool_calls_total</c>). A call is counted
    /// before its answer is written, so every call its client has an answer to is in. Read it once per replica: the
    /// exporter answers a scrape within 300 ms of the previous one with that one's copy, and a first scrape is fresh.
    /// </summary>
    public async Task<double> ToolCallsAsync(int index, string agent, Func<string, bool> decision, CancellationToken cancellationToken)
    {
        (System.Net.HttpStatusCode status, string body) = await GatewayEndpoints.GetAsync(GatewayEndpoints.RootOf(_replicas[index].Endpoint!), "/metrics", cancellationToken);
        Assert.True(status == System.Net.HttpStatusCode.OK, $"GET /metrics of replica {index + 1} answered {(int)status}: {body}");
        return MetricsText.Sum(body, "mcp_gateway_tool_calls_total", labels =>
            labels.GetValueOrDefault("mcp_gateway_agent") == agent && decision(labels.GetValueOrDefault("mcp_gateway_decision") ?? string.Empty));
    }

    /// <summary>Each replica's count (see <see cref="ToolCallsAsync"/>), in order.</summary>
    public Task<double[]> ToolCallsAsync(string agent, Func<string, bool> decision, CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, _replicas.Count).Select(i => ToolCallsAsync(i, agent, decision, cancellationToken)));

    /// <summary>What every replica logged, for failure messages.</summary>
    public string Logs => string.Join(Environment.NewLine, _replicas.Select((r, i) => $"--- replica {i + 1} stderr:{Environment.NewLine}{r.Stderr}"));

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return string.Empty;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_replicas.Select(r => r.DisposeAsync().AsTask()));

        // A killed replica's watchdog stops its servers; should one still run, it is ended here (only if the pid
        // still runs the same command, so a pid reused by another process is left alone).
        foreach ((int pid, string commandLine) in _children.Where(c => ProcessProbe.IsAlive(c.Pid) && CommandLine(c.Pid) == c.CommandLine))
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Gone meanwhile.
            }
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
}
