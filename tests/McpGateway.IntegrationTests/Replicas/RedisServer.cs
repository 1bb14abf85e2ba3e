using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// A real Redis (Debian's <c>redis-server</c> package) on a free loopback port, in memory only (no snapshots, no
/// append-only file), with its working folder in a temporary folder. Ready once it logs that it accepts connections;
/// killed, and its folder deleted, on dispose.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";

    private readonly Process _process;
    private readonly DirectoryInfo _folder;

    private RedisServer(Process process, DirectoryInfo folder, int port)
    {
        _process = process;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string of this server.</summary>
    public string Configuration => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    public Infrastructure.LineLog Output { get; } = new();

    /// <summary>Skips the calling test, saying why, when the package is not installed.</summary>
    public static void SkipUnlessInstalled()
    {
        if (!File.Exists(Binary))
        {
            Assert.Skip($"Redis is not installed ({Binary} is missing). Install it with: apt-get install -y --no-install-recommends redis-server (.ci/run does).");
        }
    }

    public static async Task<RedisServer> StartAsync(CancellationToken cancellationToken)
    {
        DirectoryInfo folder = Directory.CreateTempSubdirectory("mcp-gateway-redis-");
        int port = FreePort();
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder.FullName, "--daemonize", "no"])
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start)!;
        var redis = new RedisServer(process, folder, port);
        process.OutputDataReceived += (_, e) => redis.Output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await redis.Output.WaitForAsync(l => l.Contains("Ready to accept connections", StringComparison.Ordinal), deadline.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            string output = redis.Output.ToString();
            await redis.DisposeAsync();
            Assert.Fail($"redis-server did not become ready within 30 s:{Environment.NewLine}{output}");
        }

        return redis;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            _process.Dispose();
            try
            {
                _folder.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
