using System.Globalization;

namespace McpGateway.LoadTest;

/// <summary>CPU time (user + system) a process has used, read from /proc/&lt;pid&gt;/stat.</summary>
internal static class ProcessCpu
{
    private static readonly double s_secondsPerTick = 1.0 / ClockTicksPerSecond();

    /// <summary>User + system CPU seconds of <paramref name="pid"/> (its own, not its children's); NaN if it is gone.</summary>
    public static double Seconds(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");

            // The command name (field 2) may contain spaces; fields after the closing parenthesis are fixed.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            long stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (utime + stime) * s_secondsPerTick;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    public static double Self() => Environment.ProcessId is int pid ? Seconds(pid) : double.NaN;

    /// <summary>Resident memory of <paramref name="pid"/> in MiB (VmRSS).</summary>
    public static double ResidentMiB(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                string kb = line[6..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return double.NaN;
    }

    private static long ClockTicksPerSecond()
    {
        // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on; getconf confirms it where available.
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true });
            string text = process!.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return long.TryParse(text, out long ticks) && ticks > 0 ? ticks : 100;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }
}
