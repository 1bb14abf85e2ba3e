using System.Diagnostics;
using System.Text;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>What a finished command printed and how it exited.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit code {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}";
}

/// <summary>Runs a program to completion, its input closed, its output kept.</summary>
internal static class Commands
{
    /// <summary>
    /// Runs <c>PROGRAM ARGS</c> in <paramref name="workingDirectory"/>, with <paramref name="environment"/> added to
    /// this process's variables and <paramref name="unset"/> taken out; kills it (and fails) after the hang guard.
    /// </summary>
    public static async Task<CommandResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string>? environment,
        CancellationToken cancellationToken,
        IEnumerable<string>? unset = null)
    {
        var startInfo = new ProcessStartInfo(program)
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

        foreach (string name in unset ?? [])
        {
            startInfo.Environment.Remove(name);
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
            Assert.Fail($"{Patience.Message($"{program} {string.Join(' ', startInfo.ArgumentList)} to finish")}{Environment.NewLine}stdout: {Snapshot(stdout)}{Environment.NewLine}stderr: {Snapshot(stderr)}");
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
