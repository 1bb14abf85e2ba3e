using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace McpGateway.LoadTest;

/// <summary>
/// The published gateway serving Streamable HTTP from files in a folder, its stderr kept line by line with the time
/// each line arrived, so the soak waits for what the gateway says it did (a server ready, a call arriving at a
/// server) instead of for time.
/// </summary>
internal sealed class ChaosGateway : IAsyncDisposable
{
    private readonly Process _process;

    private ChaosGateway(Process process, Uri root)
    {
        _process = process;
        Root = root;
    }

    public int Pid => _process.Id;

    public Uri Root { get; }

    public Uri Endpoint => new(Root, "/mcp");

    public LineWatch Stderr { get; } = new();

    public bool HasExited => _process.HasExited;

    public static async Task<ChaosGateway> StartAsync(string gatewayDll, string folder, CancellationToken cancellationToken)
    {
        int port = HttpProcessTarget.FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = folder };
        foreach (string argument in (string[])[gatewayDll, "serve", "--config", Path.Combine(folder, "servers.json"), "--rules", Path.Combine(folder, "rules.json"), "--settings", Path.Combine(folder, "settings.json"), "--http", port.ToString(CultureInfo.InvariantCulture), "--log-level", "Information"])
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        var gateway = new ChaosGateway(process, new Uri($"http://127.0.0.1:{port}/"));
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                gateway.Stderr.Add(e.Data);
            }
        };
        process.OutputDataReceived += (_, _) => { };
        Task<long> ready = gateway.Stderr.NextAsync(l => l.Contains("mcp-gateway ready on ", StringComparison.Ordinal));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await ready.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
        return gateway;
    }

    /// <summary>POST /admin/reload: the gateway reads and applies its files now; true when it applied them.</summary>
    public async Task<(bool Applied, double Milliseconds, string Body)> ReloadAsync(HttpClient http, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        using HttpResponseMessage response = await http.PostAsync(new Uri(Root, "/admin/reload"), null, cancellationToken);
        string body = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response.IsSuccessStatusCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds, body);
    }

    /// <summary>SIGTERM, then waits (bounded) for the process to exit; false when it had to be killed.</summary>
    public async Task<bool> StopAsync()
    {
        if (_process.HasExited)
        {
            return true;
        }

        using (Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
        {
        }

        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return true;
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }
}

/// <summary>Lines as they arrive, each with its arrival time (Stopwatch ticks), and waits for the next line that matches.</summary>
internal sealed class LineWatch
{
    private readonly List<(long At, string Line)> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<long> Seen)> _waiters = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines.Select(l => l.Line)];
            }
        }
    }

    public void Add(string line)
    {
        long at = Stopwatch.GetTimestamp();
        lock (_lines)
        {
            _lines.Add((at, line));
            foreach ((Func<string, bool> match, TaskCompletionSource<long> seen) in _waiters.Where(w => w.Match(line)).ToList())
            {
                seen.TrySetResult(at);
                _waiters.Remove((match, seen));
            }
        }
    }

    /// <summary>The arrival time of the next line (from now on) that matches; ask before doing what causes it.</summary>
    public Task<long> NextAsync(Func<string, bool> match)
    {
        var seen = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            _waiters.Add((match, seen));
        }

        return seen.Task;
    }

    /// <summary>The first line after <paramref name="since"/> (a time) that matches, or null.</summary>
    public string? After(long since, Func<string, bool> match)
    {
        lock (_lines)
        {
            return _lines.FirstOrDefault(l => l.At >= since && match(l.Line)).Line;
        }
    }
}

/// <summary>What /proc says about a process: its children (and theirs), open descriptors, resident memory.</summary>
internal static class ProcessView
{
    /// <summary>Every descendant of <paramref name="root"/>: (pid, state, command line).</summary>
    public static List<(int Pid, char State, string Command)> Descendants(int root)
    {
        var all = new List<(int Pid, int Parent, char State, string Command)>();
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
                string command = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                all.Add((pid, int.Parse(fields[1], CultureInfo.InvariantCulture), fields[0][0], command));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone while we looked.
            }
        }

        var found = new List<(int, char, string)>();
        var parents = new HashSet<int> { root };
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach ((int pid, int parent, char state, string command) in all)
            {
                if (parents.Contains(parent) && parents.Add(pid))
                {
                    found.Add((pid, state, command));
                    grew = true;
                }
            }
        }

        return found;
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Open file descriptors by kind (socket, pipe, anon_inode:[eventpoll], a file…).</summary>
    public static IReadOnlyDictionary<string, int> OpenDescriptors(int pid)
    {
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string fd in Directory.GetFileSystemEntries($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd"))
        {
            string kind;
            try
            {
                string target = new FileInfo(fd).LinkTarget ?? "?";
                kind = target.StartsWith("socket:", StringComparison.Ordinal) ? "socket" : target.StartsWith("pipe:", StringComparison.Ordinal) ? "pipe" : target.StartsWith('/') ? "file" : target;
            }
            catch (IOException)
            {
                continue;
            }

            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        return kinds;
    }

    /// <summary>A short name for a server process's command line.</summary>
    public static string Name(string command)
    {
        var name = new StringBuilder();
        foreach (string part in command.Split(' '))
        {
            if (part.EndsWith("fixture-server", StringComparison.Ordinal) || part.Contains("server-everything", StringComparison.Ordinal))
            {
                name.Append(part.Contains("everything", StringComparison.Ordinal) ? "server-everything" : "fixture-server");
            }
            else if (part.StartsWith("--", StringComparison.Ordinal) && name.Length > 0)
            {
                name.Append(' ').Append(part);
            }
        }

        return name.Length > 0 ? name.ToString() : command.Split(' ')[0] is var first && first.Length > 0 ? Path.GetFileName(first) : "?";
    }
}
