using System.Diagnostics;
using System.Text;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>What a finished command printed and how it exited.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}";
}

/// <summary>Runs a Node.js script from the npm packages the tests use (clients nobody here wrote) to completion.</summary>
internal static class NodeCli
{
    /// <summary>The MCP Inspector's launcher (the package's <c>mcp-inspector</c> bin); <c>--cli</c> selects the CLI.</summary>
    public static string InspectorLauncher => Path.Combine(RepoPaths.NodeModules, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js");

    /// <summary>Runs <c>node ARGS</c> in <paramref name="workingDirectory"/>; kills it (and fails) after the hang guard.</summary>
    public static async Task<CommandResult> RunAsync(
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string>? environment,
        CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("node")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        using var process = new Process { StartInfo = startInfo };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => AppendLine(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => AppendLine(stderr, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using CancellationTokenSource deadline = Patience.Guard(cancellationToken);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            Assert.Fail($"{Patience.Message($"node {string.Join(' ', startInfo.ArgumentList)} to finish")}{Environment.NewLine}stdout: {Snapshot(stdout)}{Environment.NewLine}stderr: {Snapshot(stderr)}");
        }

        // The parameterless wait returns once the redirected streams have been read to the end.
        process.WaitForExit();
        return new CommandResult(process.ExitCode, Snapshot(stdout), Snapshot(stderr));
    }

    private static void AppendLine(StringBuilder builder, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (builder)
        {
            builder.AppendLine(line);
        }
    }

    private static string Snapshot(StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }
}
