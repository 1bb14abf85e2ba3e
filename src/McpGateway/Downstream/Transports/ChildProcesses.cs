using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using McpGateway.Configuration;
using Microsoft.Extensions.Logging;

namespace McpGateway.Downstream;

/// <summary>
/// Starts stdio servers so that none outlives the gateway, whatever happens to it. Each server runs in a process
/// group of its own (through <c>setsid</c>, which makes the server a group leader and execs it in place), so it and
/// everything it starts (<c>npx</c> starts <c>node</c>, which may start more) are stopped together: TERM to the group,
/// KILL after a grace. For the one case the gateway cannot handle itself, being killed with SIGKILL, a watchdog (a
/// few lines of <c>sh</c> in a session of its own, so signals meant for the gateway's terminal do not reach it) holds
/// the read end of a pipe from the gateway: the kernel closes that pipe when the gateway dies, however it dies, and
/// the watchdog then stops every group still registered. Without <c>setsid</c> (not Linux) servers start plainly.
/// </summary>
internal static partial class ChildProcesses
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    // "kill -SIG -GROUP", without "--": dash (sh on Debian and Ubuntu) takes "--" for a process id and signals nothing.
    private const string WatchdogScript = """
        trap '' INT TERM HUP QUIT
        groups=""
        while read -r verb group; do
          case "$verb" in
            add) groups="$groups $group" ;;
            del) rest=""; for g in $groups; do [ "$g" = "$group" ] || rest="$rest $g"; done; groups="$rest" ;;
          esac
        done
        [ -n "$groups" ] || exit 0
        for g in $groups; do kill -TERM "-$g" 2>/dev/null; done
        sleep 2
        for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
        exit 0
        """;

    private static readonly object s_lock = new();
    private static readonly Lazy<string?> s_setsid = new(() => FindOnPath("setsid"));
    private static Process? s_watchdog;
    private static bool s_warned;

    /// <summary>True when servers get process groups of their own (and the watchdog covers them).</summary>
    public static bool GroupsProcesses => s_setsid.Value is not null && !OperatingSystem.IsWindows();

    /// <summary>
    /// Starts <paramref name="start"/> in a process group of its own whose id is the process's id, registered with
    /// the watchdog until <see cref="StopAsync"/> has stopped it.
    /// </summary>
    public static Process Start(ProcessStartInfo start, ILogger logger)
    {
        // Found first, as Process.Start would: through setsid a missing program would only be a quick exit code.
        string program = CommandLocator.Resolve(start.FileName, start.WorkingDirectory, start.Environment.TryGetValue("PATH", out string? path) ? path : null)
            ?? throw new System.ComponentModel.Win32Exception(2, $"'{start.FileName}' was not found (not a file, and not on PATH)");
        if (!GroupsProcesses)
        {
            if (!s_warned)
            {
                s_warned = true;
                LogNoGroups(logger);
            }

            return Process.Start(start) ?? throw new InvalidOperationException($"could not start '{start.FileName}'");
        }

        // setsid execs the command in place (the caller is never a group leader), so the process is the server.
        var grouped = new ProcessStartInfo(s_setsid.Value!)
        {
            RedirectStandardInput = start.RedirectStandardInput,
            RedirectStandardOutput = start.RedirectStandardOutput,
            RedirectStandardError = start.RedirectStandardError,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardErrorEncoding = start.StandardErrorEncoding,
            WorkingDirectory = start.WorkingDirectory,
        };
        grouped.ArgumentList.Add("--");
        grouped.ArgumentList.Add(program);
        foreach (string argument in start.ArgumentList)
        {
            grouped.ArgumentList.Add(argument);
        }

        grouped.Environment.Clear();
        foreach ((string key, string? value) in start.Environment)
        {
            grouped.Environment[key] = value;
        }

        lock (s_lock)
        {
            Process process = Process.Start(grouped) ?? throw new InvalidOperationException($"could not start '{start.FileName}'");
            Tell(logger, "add", process.Id);
            return process;
        }
    }

    /// <summary>
    /// Stops a server started by <see cref="Start"/>: closes its input and gives it <paramref name="grace"/> to exit,
    /// then TERM to its group, then KILL; whatever the group still holds after the server itself exits is stopped
    /// the same way. Completes once the server process has exited (it is reaped: no zombie is left).
    /// </summary>
    public static async Task StopAsync(Process process, TimeSpan grace, ILogger logger)
    {
        int group = process.Id;
        try
        {
            process.StandardInput.Close();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
        }

        if (!await ExitedWithinAsync(process, grace))
        {
            Signal(process, group, SigTerm);
            if (!await ExitedWithinAsync(process, grace))
            {
                Signal(process, group, SigKill);
                await ExitedWithinAsync(process, Timeout.InfiniteTimeSpan);
            }
        }

        // The server is gone; its group may not be (children that ignore a closed stdin): stop them too.
        if (GroupsProcesses && GroupAlive(group))
        {
            Kill(-group, SigTerm);
            _ = KillLaterAsync(group, grace, logger);
        }
        else if (GroupsProcesses)
        {
            Forget(group, logger);
        }
    }

    private static async Task KillLaterAsync(int group, TimeSpan grace, ILogger logger)
    {
        await Task.Delay(grace).ConfigureAwait(false);
        if (GroupAlive(group))
        {
            Kill(-group, SigKill);
        }

        Forget(group, logger);
    }

    private static void Forget(int group, ILogger logger)
    {
        lock (s_lock)
        {
            Tell(logger, "del", group);
        }
    }

    private static void Signal(Process process, int group, int signal)
    {
        if (GroupsProcesses)
        {
            Kill(-group, signal);
        }
        else if (signal == SigKill)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        else
        {
            Kill(process.Id, signal);
        }
    }

    private static async Task<bool> ExitedWithinAsync(Process process, TimeSpan wait)
    {
        try
        {
            using var timeout = new CancellationTokenSource(wait);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private static bool GroupAlive(int group) => Kill(-group, 0) == 0;

    /// <summary>Writes one line to the watchdog, starting it on first use. Call under <see cref="s_lock"/>.</summary>
    private static void Tell(ILogger logger, string verb, int group)
    {
        try
        {
            if (s_watchdog is null || s_watchdog.HasExited)
            {
                var start = new ProcessStartInfo(s_setsid.Value!) { RedirectStandardInput = true, UseShellExecute = false, CreateNoWindow = true };
                foreach (string argument in (string[])["sh", "-c", WatchdogScript])
                {
                    start.ArgumentList.Add(argument);
                }

                s_watchdog = Process.Start(start);
                if (s_watchdog is not null)
                {
                    s_watchdog.StandardInput.AutoFlush = true;
                }
            }

            s_watchdog?.StandardInput.WriteLine(verb + " " + group.ToString(CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            LogWatchdogFailed(logger, ex.Message);
        }
    }

    private static string? FindOnPath(string program) => OperatingSystem.IsWindows() ? null : CommandLocator.Resolve(program, null, null);

    private static int Kill(int pid, int signal) => OperatingSystem.IsWindows() ? -1 : NativeKill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int NativeKill(int pid, int signal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "setsid is not on PATH: server processes run in the gateway's process group, and a server's own children are not stopped with it.")]
    private static partial void LogNoGroups(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The child-process watchdog could not be told about a server: {Error}")]
    private static partial void LogWatchdogFailed(ILogger logger, string error);
}
