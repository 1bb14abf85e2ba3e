using System.Diagnostics;

namespace McpGateway.LoadTest;

/// <summary>What one load run measured.</summary>
internal sealed record LoadResult(
    string Target,
    int Sessions,
    int Calls,
    int Errors,
    double Seconds,
    double P50Micros,
    double P90Micros,
    double P99Micros,
    IReadOnlyDictionary<string, double> CpuMicrosPerCall)
{
    public double CallsPerSecond => Calls / Seconds;
}

/// <summary>
/// Drives N sessions making M calls in total, each session one call at a time (a closed loop, like agents waiting for
/// each result), and measures latency per call and the CPU each process under test spent per call.
/// </summary>
internal static class LoadRun
{
    /// <summary>The default warm-up; a gateway with authentication has more code to compile again, and wants longer (<c>--warmup</c>).</summary>
    public static readonly TimeSpan DefaultWarmup = TimeSpan.FromSeconds(5);

    public static async Task<LoadResult> RunAsync(
        string target,
        IReadOnlyList<ILoadSession> sessions,
        int calls,
        int warmupCalls,
        IReadOnlyDictionary<string, int> processes,
        CancellationToken cancellationToken,
        TimeSpan? warmup = null)
    {
        TimeSpan warmupTime = warmup ?? DefaultWarmup;
        await Task.WhenAll(sessions.Select(s => s.InitializeAsync(cancellationToken)));

        // Warm up for a while, not only a number of calls: the runtimes under test (and this one) compile their hot
        // code again, optimised, in the background, once it has run a while; measuring before that measures the compiler.
        long warmupStarted = Stopwatch.GetTimestamp();
        while (warmupCalls > 0)
        {
            await DriveAsync(sessions, warmupCalls, latencies: null, cancellationToken);
            if (Stopwatch.GetElapsedTime(warmupStarted) >= warmupTime)
            {
                break;
            }
        }

        var before = processes.ToDictionary(p => p.Key, p => ProcessCpu.Seconds(p.Value));
        double selfBefore = ProcessCpu.Self();
        var latencies = new long[calls];
        long started = Stopwatch.GetTimestamp();
        int errors = await DriveAsync(sessions, calls, latencies, cancellationToken);
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double selfAfter = ProcessCpu.Self();

        var cpu = new Dictionary<string, double>();
        foreach ((string name, int pid) in processes)
        {
            cpu[name] = (ProcessCpu.Seconds(pid) - before[name]) / calls * 1e6;
        }

        cpu["load generator"] = (selfAfter - selfBefore) / calls * 1e6;
        Array.Sort(latencies);
        return new LoadResult(target, sessions.Count, calls, errors, seconds, Micros(latencies, 0.50), Micros(latencies, 0.90), Micros(latencies, 0.99), cpu);
    }

    private static async Task<int> DriveAsync(IReadOnlyList<ILoadSession> sessions, int calls, long[]? latencies, CancellationToken cancellationToken)
    {
        int next = -1;
        int errors = 0;
        await Task.WhenAll(sessions.Select(session => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < calls)
            {
                long start = Stopwatch.GetTimestamp();
                bool ok;
                try
                {
                    ok = await session.CallAsync(cancellationToken);
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    ok = false;
                }

                if (latencies is not null)
                {
                    latencies[index] = Stopwatch.GetTimestamp() - start;
                }

                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }, cancellationToken)));
        return errors;
    }

    private static double Micros(long[] sorted, double quantile)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        long ticks = sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
        return ticks * 1e6 / Stopwatch.Frequency;
    }
}
