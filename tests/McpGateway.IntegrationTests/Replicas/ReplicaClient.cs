using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// The agent of the multi-replica tests: tests/fixtures/clients/replica-client.mjs, built on the official TypeScript
/// SDK, in a child process that runs while the test acts (kills a replica at the client's checkpoint, then tells it to
/// go on). Its stdout is one JSON line per event; killed on dispose if still running.
/// </summary>
internal sealed class ReplicaClient : IAsyncDisposable
{
    private readonly Process _process;

    private ReplicaClient(Process process)
    {
        _process = process;
    }

    public static string Script => Path.Combine(RepoPaths.Root, "tests", "fixtures", "clients", "replica-client.mjs");

    public LineLog Stdout { get; } = new();

    public LineLog Stderr { get; } = new();

    /// <summary>Starts <c>node replica-client.mjs --url URL --header "X-Agent-Id: AGENT" ARGS</c>.</summary>
    public static ReplicaClient Start(Uri url, string agent, IEnumerable<string> arguments)
    {
        RepoPaths.RequireNodeModules();
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Path.GetDirectoryName(Script)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[Script, "--url", url.ToString(), "--header", "X-Agent-Id: " + agent, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        var client = new ReplicaClient(process);
        process.OutputDataReceived += (_, e) => client.Stdout.Add(e.Data);
        process.ErrorDataReceived += (_, e) => client.Stderr.Add(e.Data);
        process.Start();
        process.StandardInput.AutoFlush = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return client;
    }

    /// <summary>Runs the client to its summary: <c>{"event":"done",…}</c>.</summary>
    public static async Task<JsonObject> RunAsync(Uri url, string agent, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        await using ReplicaClient client = Start(url, agent, arguments);
        return await client.WaitForEventAsync("done", cancellationToken);
    }

    /// <summary>The first line that is the event <paramref name="name"/> (or the tools list, for <c>"tools"</c>); fails when the client ends without it.</summary>
    public async Task<JsonObject> WaitForEventAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            string line = await Stdout.WaitForAsync(
                l => Parse(l) is { } message && (message["event"] is { } kind ? kind.GetValue<string>() == name : message.ContainsKey(name)),
                $"the client's '{name}'",
                cancellationToken);
            return Parse(line)!;
        }
        catch (InvalidOperationException)
        {
            Assert.Fail($"The client ended without printing '{name}'.{Environment.NewLine}stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}");
            throw;
        }
    }

    /// <summary>Tells a client waiting at its checkpoint to go on.</summary>
    public Task GoAsync() => _process.StandardInput.WriteLineAsync("go");

    private static JsonObject? Parse(string line)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
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

            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // Already gone, or never started.
        }

        _process.Dispose();
    }
}
