using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace McpGateway.LoadTest;

/// <summary>Something to put load on: processes to start, sessions to open, and the processes whose CPU is counted.</summary>
internal abstract class Target : IAsyncDisposable
{
    public abstract string Name { get; }

    /// <summary>What agents call the tool here: gateways expose it under a prefix.</summary>
    public string ToolPrefix { get; init; } = string.Empty;

    /// <summary>Processes under test (name → pid), measured for CPU per call.</summary>
    public Dictionary<string, int> Processes { get; } = [];

    public abstract Task StartAsync(CancellationToken cancellationToken);

    public abstract Task<IReadOnlyList<ILoadSession>> OpenSessionsAsync(int count, CallTemplate template, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}

/// <summary>An MCP server over stdio, called directly: the baseline.</summary>
internal sealed class DirectStdioTarget(string name, string command, IReadOnlyList<string> arguments) : Target
{
    private StdioConnection? _connection;

    public override string Name => name;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = new StdioConnection(command, arguments);
        await _connection.InitializeAsync(cancellationToken);
        Processes["server"] = _connection.ProcessId;
    }

    public override Task<IReadOnlyList<ILoadSession>> OpenSessionsAsync(int count, CallTemplate template, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ILoadSession>>([.. Enumerable.Range(0, count).Select(_ => new StdioSession(_connection!, template))]);

    public override async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}

/// <summary>A gateway over stdio (one agent process, concurrent requests), with its downstream servers.</summary>
internal sealed class GatewayStdioTarget(string name, string gatewayDll, string servers, string rules, string agent) : Target
{
    private StdioConnection? _connection;

    public override string Name => name;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = new StdioConnection("dotnet", [gatewayDll, "serve", "--config", servers, "--rules", rules, "--agent", agent, "--log-level", "Warning"]);
        await _connection.InitializeAsync(cancellationToken);
        Processes["gateway"] = _connection.ProcessId;
        foreach ((string child, int pid) in ChildProcesses.Of(_connection.ProcessId))
        {
            Processes[child] = pid;
        }
    }

    public override Task<IReadOnlyList<ILoadSession>> OpenSessionsAsync(int count, CallTemplate template, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ILoadSession>>([.. Enumerable.Range(0, count).Select(_ => new StdioSession(_connection!, template))]);

    public override async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}

/// <summary>A process that serves Streamable HTTP (the gateway, or a peer gateway), reached with one keep-alive connection per session.</summary>
internal sealed class HttpProcessTarget(
    string name,
    string command,
    IReadOnlyList<string> arguments,
    Func<int, Uri> endpointForPort,
    bool stateless,
    IReadOnlyDictionary<string, string> headers,
    IReadOnlyDictionary<string, string>? environment = null,
    string? readyPattern = null) : Target
{
    private Process? _process;
    private Uri? _endpoint;

    public override string Name => name;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        int port = FreePort();
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _endpoint = endpointForPort(port);
        await WaitForPortAsync(port, cancellationToken);
        Processes[Name.Split(' ')[0]] = _process.Id;
        await Task.Delay(TimeSpan.FromMilliseconds(readyPattern is null ? 200 : 500), cancellationToken);
        foreach ((string child, int pid) in ChildProcesses.Of(_process.Id))
        {
            Processes[child] = pid;
        }
    }

    public override Task<IReadOnlyList<ILoadSession>> OpenSessionsAsync(int count, CallTemplate template, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ILoadSession>>([.. Enumerable.Range(0, count).Select(_ => new StreamableHttpSession(_endpoint!, template, stateless, headers))]);

    private static async Task WaitForPortAsync(int port, CancellationToken cancellationToken)
    {
        if (!await TryWaitForPortAsync(port, TimeSpan.FromSeconds(60), () => { }, cancellationToken))
        {
            throw new TimeoutException($"nothing listens on port {port} after 60 s");
        }
    }

    /// <summary>Connects to the port until something listens (true) or the time is up (false); <paramref name="beforeEachTry"/> may throw to give up early.</summary>
    public static async Task<bool> TryWaitForPortAsync(int port, TimeSpan timeout, Action beforeEachTry, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            beforeEachTry();
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken);
            }
        }

        return false;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public override async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        try
        {
            // SIGTERM first, so the process can stop its own children.
            using (Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}

/// <summary>Direct children of a process, named by their command line (e.g. "node server-everything").</summary>
internal static partial class ChildProcesses
{
    public static IEnumerable<(string Name, int Pid)> Of(int parent)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            string stat;
            string cmdline;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
                cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
            }
            catch (IOException)
            {
                continue;
            }

            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == parent)
            {
                Match match = ServerName().Match(cmdline);
                yield return ((match.Success ? match.Value : Path.GetFileName(cmdline.Split(' ')[0])) + " (child)", pid);
            }
        }
    }

    [GeneratedRegex(@"server-[a-z]+|fixture-server")]
    private static partial Regex ServerName();
}
