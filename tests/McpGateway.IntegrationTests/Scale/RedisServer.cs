using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace McpGateway.IntegrationTests.Scale;

/// <summary>
/// A real Redis server (Debian's <c>redis-server</c> package) on a free loopback port, without persistence, in a
/// temporary folder. It can be killed (an outage, as a crash is) and started again on the same port, empty, as a
/// Redis without persistence comes back. Stopped, and its folder deleted, on dispose.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("mcp-gateway-redis-");
    private readonly StringBuilder _output = new();
    private readonly string? _password;
    private Process? _process;

    private RedisServer(int port, string? password)
    {
        Port = port;
        _password = password;
    }

    public int Port { get; }

    /// <summary>A StackExchange.Redis configuration string for it (with the password, when it has one).</summary>
    public string Configuration => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}" + (_password is null ? string.Empty : ",password=" + _password);

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Skips the calling test, saying why, when the package is not installed.</summary>
    public static void SkipUnlessInstalled()
    {
        if (!File.Exists(Binary))
        {
            Assert.Skip($"Redis is not installed ({Binary} is missing). Install it with: apt-get install -y --no-install-recommends redis-server (.ci/run does).");
        }
    }

    /// <summary>Starts a server and returns once it accepts connections.</summary>
    public static async Task<RedisServer> StartAsync(CancellationToken cancellationToken, string? password = null)
    {
        SkipUnlessInstalled();
        var server = new RedisServer(FreePort(), password);
        await server.RestartAsync(cancellationToken);
        return server;
    }

    /// <summary>Starts it again on the same port (empty: it keeps nothing); returns once it accepts connections.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _folder.FullName,
        };
        string[] arguments = ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _folder.FullName, "--daemonize", "no"];
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (_password is not null)
        {
            start.ArgumentList.Add("--requirepass");
            start.ArgumentList.Add(_password);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            Append(e.Data);
            if (e.Data?.Contains("Ready to accept connections", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"redis-server exited:{Environment.NewLine}{Output}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        try
        {
            await ready.Task.WaitAsync(s_startTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"redis-server did not accept connections within {s_startTimeout.TotalSeconds} s:{Environment.NewLine}{Output}");
        }
    }

    /// <summary>Kills the server, as a crash or a lost machine would end it, and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        try
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
