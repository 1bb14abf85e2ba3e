using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// Looks at processes that are not the test's own children (servers started by a gateway, and their children) through
/// /proc, and waits for them to end on the kernel's own exit event: a pidfd (pidfd_open(2), Linux 5.3) becomes
/// readable when its process exits, reaped or not, so a wait wakes on the exit itself instead of polling.
/// </summary>
internal static partial class ProcessProbe
{
    private const long SysPidfdOpen = 434; // The same number on every Linux architecture.
    private const int EfdCloexec = 0x80000;
    private const short PollIn = 0x1;
    private const short PollErr = 0x8;
    private const short PollHup = 0x10;
    private const int Esrch = 3;
    private const int Eintr = 4;

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

    /// <summary>
    /// Waits until none of <paramref name="pids"/> runs; returns those still running after the hang guard (none,
    /// unless something keeps them alive: the caller's assertion names them).
    /// </summary>
    public static async Task<int[]> WaitForExitAsync(IEnumerable<int> pids, CancellationToken cancellationToken)
    {
        int[] watched = [.. pids];
        await Task.Factory.StartNew(() => WaitForExit(watched, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return [.. watched.Where(IsAlive)];
    }

    /// <summary>Blocks until every pidfd is readable (its process exited), the test is cancelled, or the hang guard passes.</summary>
    private static void WaitForExit(int[] pids, CancellationToken cancellationToken)
    {
        // Cancellation wakes the poll through an eventfd watched with the pidfds.
        int wake = Check(EventFd(0, EfdCloexec), "eventfd");
        var open = new List<int>();
        try
        {
            foreach (int pid in pids)
            {
                int fd = (int)Syscall(SysPidfdOpen, pid, 0);
                if (fd >= 0)
                {
                    open.Add(fd);
                }
                else if (Marshal.GetLastPInvokeError() != Esrch)
                {
                    // ESRCH: the process has already ended and been reaped.
                    throw new Win32Exception(Marshal.GetLastPInvokeError(), $"pidfd_open({pid})");
                }
            }

            using CancellationTokenRegistration registration = cancellationToken.Register(() => _ = Write(wake, 1L, sizeof(long)));
            long deadline = Environment.TickCount64 + (long)Patience.HangGuard.TotalMilliseconds;
            while (open.Count > 0 && !cancellationToken.IsCancellationRequested)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    return;
                }

                PollFd[] fds = [.. open.Select(fd => new PollFd { Fd = fd, Events = PollIn }), new PollFd { Fd = wake, Events = PollIn }];
                if (Poll(fds, (nuint)fds.Length, (int)left) < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Eintr)
                    {
                        continue;
                    }

                    throw new Win32Exception(Marshal.GetLastPInvokeError(), "poll");
                }

                foreach (PollFd exited in fds.Where(p => p.Fd != wake && (p.Revents & (PollIn | PollErr | PollHup)) != 0))
                {
                    open.Remove(exited.Fd);
                    _ = Close(exited.Fd);
                }
            }
        }
        finally
        {
            foreach (int fd in open)
            {
                _ = Close(fd);
            }

            _ = Close(wake);
        }
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new Win32Exception(Marshal.GetLastPInvokeError(), call);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    // Every argument as a long: syscall(2) reads each one as a full register.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long pid, long flags);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, in long value, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
