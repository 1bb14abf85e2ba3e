using System.Globalization;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// Looks at processes that are not the test's own children (servers started by a gateway), through /proc: there is no
/// exit event to wait for on another process's child, so waiting for one to end is a bounded poll.
/// </summary>
internal static class ProcessProbe
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>True while the process runs; a zombie (exited, not yet reaped) counts as gone.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");

            // "pid (comm) S ...": the state follows the last ')', since comm may itself hold parentheses.
            int end = stat.LastIndexOf(')');
            return end < 0 || end + 2 >= stat.Length || stat[end + 2] is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return false;
        }
    }

    /// <summary>Ids of running processes whose command line holds <paramref name="marker"/>.</summary>
    public static int[] FindByCommandLine(string marker)
    {
        var found = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                string commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(marker, StringComparison.Ordinal) && IsAlive(pid))
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return [.. found];
    }

    /// <summary>Ids of the running processes whose parent is <paramref name="parent"/> (a gateway's servers and watchdog).</summary>
    public static int[] ChildrenOf(int parent)
    {
        var found = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent && IsAlive(pid))
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return [.. found];
    }

    /// <summary>Waits (bounded) until <paramref name="isGone"/> holds; returns false when it still does not after <paramref name="timeout"/>.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> isGone, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!isGone())
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            await Task.Delay(s_pollInterval, cancellationToken);
        }

        return true;
    }

    /// <summary>Waits (bounded) until none of <paramref name="pids"/> is alive; returns those still alive after the timeout.</summary>
    public static async Task<int[]> WaitForExitAsync(IEnumerable<int> pids, TimeSpan timeout, CancellationToken cancellationToken)
    {
        int[] watched = [.. pids];
        await WaitUntilAsync(() => !watched.Any(IsAlive), timeout, cancellationToken);
        return [.. watched.Where(IsAlive)];
    }
}
