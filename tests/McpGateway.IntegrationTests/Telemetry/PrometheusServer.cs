using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Telemetry;

/// <summary>
/// A real Prometheus server (Debian's <c>prometheus</c> package) on loopback, scraping one target every second, with
/// its data in a temporary folder. Stopped, and its folder deleted, on dispose.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly Process _process;
    private readonly DirectoryInfo _folder;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http = new() { Timeout = Patience.HangGuard };

    private PrometheusServer(Process process, DirectoryInfo folder, Uri address)
    {
        _process = process;
        _folder = folder;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>What the server printed, for failure messages.</summary>
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
            Assert.Skip($"Prometheus is not installed ({Binary} is missing). Install it with: apt-get install -y --no-install-recommends prometheus (.ci/run does).");
        }
    }

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (host:port) at <paramref name="metricsPath"/> every second.</summary>
    public static PrometheusServer Start(string target, string metricsPath)
    {
        DirectoryInfo folder = Directory.CreateTempSubdirectory("mcp-gateway-prometheus-");
        string config = Path.Combine(folder.FullName, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: mcp-gateway
                metrics_path: {metricsPath}
                static_configs:
                  - targets: ['{target}']
            """);

        int port = FreePort();
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[
            "--config.file=" + config,
            "--storage.tsdb.path=" + Path.Combine(folder.FullName, "data"),
            "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
            "--web.console.templates=" + Path.Combine(folder.FullName, "consoles"),
            "--web.console.libraries=" + Path.Combine(folder.FullName, "console_libraries"),
            "--log.level=warn"])
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start)!;
        var server = new PrometheusServer(process, folder, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>
    /// Runs the instant query <paramref name="promQl"/> until <paramref name="condition"/> holds for its result
    /// vector, bounded by the hang guard; returns that result. The one poll in the suite: the data arrives on
    /// Prometheus's own scrape schedule (a real clock in another process), and Prometheus announces no scrape, so
    /// asking again is the only way to see it. The pace only spares the CPU; nothing depends on it.
    /// </summary>
    public async Task<JsonArray> QueryUntilAsync(string promQl, Func<JsonArray, bool> condition, CancellationToken cancellationToken)
    {
        using CancellationTokenSource bound = Patience.Guard(cancellationToken);
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        JsonArray last = [];
        string? lastError = null;
        try
        {
            do
            {
                if (_process.HasExited)
                {
                    Assert.Fail($"Prometheus exited with code {_process.ExitCode}:{Environment.NewLine}{Output}");
                }

                try
                {
                    string body = await _http.GetStringAsync(new Uri(Address, "api/v1/query?query=" + Uri.EscapeDataString(promQl)), bound.Token);
                    JsonNode? answer = JsonNode.Parse(body);
                    if (answer?["status"]?.GetValue<string>() == "success" && answer["data"]?["result"] is JsonArray result)
                    {
                        last = result;
                        if (condition(result))
                        {
                            return result;
                        }
                    }
                    else
                    {
                        lastError = body;
                    }
                }
                catch (HttpRequestException ex)
                {
                    // Not listening yet.
                    lastError = ex.Message;
                }
            }
            while (await pace.WaitForNextTickAsync(bound.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        Assert.Fail($"{Patience.Message($"Prometheus to answer '{promQl}' as expected")} Last result: {last.ToJsonString()}; last error: {lastError}{Environment.NewLine}Prometheus said:{Environment.NewLine}{Output}");
        return last;
    }

    /// <summary>The value of a one-sample instant vector.</summary>
    public static double Value(JsonArray result) =>
        double.Parse(result[0]!["value"]![1]!.GetValue<string>(), CultureInfo.InvariantCulture);

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
        _http.Dispose();
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
