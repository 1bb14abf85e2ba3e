using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace McpGateway.LoadTest;

/// <summary>
/// HAProxy (Debian's package) in front of N gateway processes with the same files, round robin over every request,
/// no stickiness, health checks on <c>/readyz</c>: the deployment of the multi-replica test, under load. Each replica
/// starts its own downstream servers. The processes under test are every replica, every server they started, and
/// HAProxy.
/// </summary>
internal sealed class HaproxyReplicasTarget(string name, int replicas, string gatewayDll, string servers, string rules, bool stateless, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string>? serveArguments = null) : Target
{
    public const string Haproxy = "/usr/sbin/haproxy";

    private readonly List<Process> _gateways = [];
    private Process? _haproxy;
    private string? _folder;
    private Uri? _endpoint;

    public override string Name => name;

    public static bool Installed => File.Exists(Haproxy);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _folder = Directory.CreateTempSubdirectory("mcp-loadtest-haproxy-").FullName;
        int[] ports = [.. Enumerable.Range(0, replicas).Select(_ => HttpProcessTarget.FreePort())];
        foreach (int port in ports)
        {
            string[] arguments = [gatewayDll, "serve", "--config", servers, "--rules", rules, "--http", port.ToString(CultureInfo.InvariantCulture), "--log-level", "Warning", .. stateless ? ["--stateless"] : Array.Empty<string>(), .. serveArguments ?? []];
            var start = new ProcessStartInfo("dotnet", arguments) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
            Process gateway = Process.Start(start)!;
            gateway.OutputDataReceived += (_, _) => { };
            gateway.ErrorDataReceived += (_, _) => { };
            gateway.BeginOutputReadLine();
            gateway.BeginErrorReadLine();
            _gateways.Add(gateway);
        }

        for (int i = 0; i < replicas; i++)
        {
            await WaitForReadyAsync(ports[i], cancellationToken);
            Processes[$"gateway {i + 1}"] = _gateways[i].Id;
            foreach ((string child, int pid) in ChildProcesses.Of(_gateways[i].Id))
            {
                Processes[$"{child} of gateway {i + 1}"] = pid;
            }
        }

        int front = HttpProcessTarget.FreePort();
        int stats = HttpProcessTarget.FreePort();
        string config = Path.Combine(_folder, "haproxy.cfg");
        File.WriteAllText(config, Configuration(front, stats, ports));
        _haproxy = Process.Start(new ProcessStartInfo(Haproxy, ["-f", config, "-db"]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
        _haproxy.OutputDataReceived += (_, _) => { };
        _haproxy.ErrorDataReceived += (_, _) => { };
        _haproxy.BeginOutputReadLine();
        _haproxy.BeginErrorReadLine();
        Processes["haproxy"] = _haproxy.Id;
        await WaitForChecksAsync(stats, replicas, cancellationToken);
        _endpoint = new Uri($"http://127.0.0.1:{front.ToString(CultureInfo.InvariantCulture)}/mcp");
    }

    /// <summary>The test's configuration (tests/McpGateway.IntegrationTests/Replicas/HaproxyBalancer.cs), with its ports.</summary>
    public static string Configuration(int front, int stats, IReadOnlyList<int> ports)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"""
            global
              maxconn 2000
            defaults
              mode http
              timeout connect 5s
              timeout client 5m
              timeout server 5m
              timeout http-keep-alive 1m
              retries 3
              option redispatch 1
            frontend mcp
              bind 127.0.0.1:{front}
              default_backend gateways
            frontend stats
              bind 127.0.0.1:{stats}
              stats enable
              stats uri /stats
            backend gateways
              balance roundrobin
              http-reuse safe
              option httpchk
              http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
              http-check expect status 200
              default-server check inter 500ms fall 1 rise 1

            """);
        for (int i = 0; i < ports.Count; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  server r{i + 1} 127.0.0.1:{ports[i]}\n");
        }

        return sb.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    public override Task<IReadOnlyList<ILoadSession>> OpenSessionsAsync(int count, CallTemplate template, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ILoadSession>>([.. Enumerable.Range(0, count).Select(_ => new StreamableHttpSession(_endpoint!, template, stateless, headers))]);

    private static async Task WaitForReadyAsync(int port, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using HttpResponseMessage ready = await http.GetAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/readyz"), cancellationToken);
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException($"the gateway on port {port} was not ready after 60 s");
    }

    /// <summary>Until HAProxy's stats show every replica up with a passed check.</summary>
    private static async Task WaitForChecksAsync(int stats, int replicas, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                string csv = await http.GetStringAsync(new Uri($"http://127.0.0.1:{stats.ToString(CultureInfo.InvariantCulture)}/stats;csv"), cancellationToken);
                int up = csv.Split('\n').Count(l => l.StartsWith("gateways,r", StringComparison.Ordinal) && l.Contains(",UP,", StringComparison.Ordinal) && l.Contains("L7OK", StringComparison.Ordinal));
                if (up == replicas)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException("HAProxy did not see every replica pass its check within 60 s");
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (Process? process in (Process?[])[_haproxy, .. _gateways])
        {
            if (process is null)
            {
                continue;
            }

            try
            {
                // SIGTERM first, so a gateway stops its own servers.
                using (Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                }

                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Never started, or already gone.
            }

            process.Dispose();
        }

        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
