using McpGateway.Testing;
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
        await _replicas[index].WaitForExitAsync(cancellationToken).Within("the killed replica to exit", cancellationToken);
    }

    /// <summary>
    /// Replica <paramref name="index"/>'s count of tool calls by <paramref name="agent"/> whose decision satisfies
    /// <paramref name="decision"/>, from its <c>/metrics</c> (<c>mcp_gateway_tool_calls_total</c>).
    /// </summary>
    public async Task<double> ToolCallsAsync(int index, string agent, Func<string, bool> decision, CancellationToken cancellationToken)
    {
        (System.Net.HttpStatusCode status, string body) = await GatewayEndpoints.GetAsync(GatewayEndpoints.RootOf(_replicas[index].Endpoint!), "/metrics", cancellationToken);
        Assert.True(status == System.Net.HttpStatusCode.OK, $"GET /metrics of replica {index + 1} answered {(int)status}: {body}");
        return MetricsText.Sum(body, "mcp_gateway_tool_calls_total", labels =>
            labels.GetValueOrDefault("mcp_gateway_agent") == agent && decision(labels.GetValueOrDefault("mcp_gateway_decision") ?? string.Empty));
    }

    /// <summary>
    /// Reads the counts of the replicas in <paramref name="indexes"/> until <paramref name="condition"/> holds for each
    /// (the exporter may answer a scrape from a copy up to 300 ms old, so a count just made can take a moment to show).
    /// </summary>
    public async Task<double[]> WaitForToolCallsAsync(IReadOnlyList<int> indexes, string agent, Func<string, bool> decision, Func<int, double, bool> condition, string what, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + 30_000;
        while (true)
        {
            double[] counts = await Task.WhenAll(indexes.Select(i => ToolCallsAsync(i, agent, decision, cancellationToken)));
            if (indexes.Select((replica, i) => condition(replica, counts[i])).All(ok => ok))
            {
                return counts;
            }

            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"Waited 30 s for {what}; the counts of replicas {string.Join(", ", indexes.Select(i => i + 1))} stayed {string.Join(", ", counts)}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

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
