using System.Globalization;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// The processes one chaos test's gateway started, found through /proc by a variable every server entry of the test
/// sets (children inherit it, so a server's own children are found too): other tests' servers run in the same test
/// process, so "children of the gateway" here means "carrying this test's mark".
/// </summary>
internal static class ChaosProcesses
{
    public const string Variable = "MCP_GATEWAY_CHAOS_RUN";

    /// <summary>Running processes (zombies excluded) that carry <paramref name="mark"/>.</summary>
    public static int[] Marked(string mark)
    {
        string wanted = Variable + "=" + mark;
        var found = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                byte[] environment = File.ReadAllBytes(Path.Combine(dir, "environ"));
                if (System.Text.Encoding.UTF8.GetString(environment).Split('\0').Contains(wanted, StringComparer.Ordinal) && State(pid) is { } state && state is not ('Z' or 'X'))
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

    /// <summary>Of <paramref name="pids"/>, those that are zombies of this process (exited, never reaped by the gateway).</summary>
    /// <summary>
    /// Re-reads <paramref name="condition"/> (a count of processes in /proc) until it holds; false at the hang guard.
    /// A process the gateway started and another one killed, or a zombie waiting to be reaped, sends this test no
    /// event, so the condition is read again every few milliseconds; the interval never decides the outcome.
    /// </summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan hangGuard, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)hangGuard.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }

        return true;
    }

    public static int[] ZombiesOfThisProcess(IEnumerable<int> pids) =>
        [.. pids.Where(pid => Stat(pid) is { State: 'Z' } stat && stat.Parent == Environment.ProcessId)];

    private static char? State(int pid) => Stat(pid)?.State;

    /// <summary>The state and parent of a process from /proc/PID/stat, or null when there is no such process (reaped).</summary>
    private static (char State, int Parent)? Stat(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");

            // "pid (comm) S ppid ...": the fields follow the last ')', since comm may itself hold parentheses.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return null;
        }
    }
}
