using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// A real HAProxy (Debian's <c>haproxy</c> package) on loopback in front of gateway replicas, configured as a platform
/// team would: round robin over every request, no stickiness of any kind (no cookie, no source hashing, no
/// <c>Mcp-Session-Id</c> routing), a health check on each replica's <c>/readyz</c>, and retries of connections that
/// failed (redispatched to another replica) but never of a request a replica already received. Its configuration
/// and stats live in a temporary folder; stopped, and the folder deleted, on dispose.
/// </summary>
internal sealed class HaproxyBalancer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/haproxy";

    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly Process _process;
    private readonly DirectoryInfo _folder;
    private readonly StringBuilder _output = new();

    private HaproxyBalancer(Process process, DirectoryInfo folder, int port, int statsPort, IReadOnlyList<string> servers)
    {
        _process = process;
        _folder = folder;
        Endpoint = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/mcp");
        Stats = new Uri($"http://127.0.0.1:{statsPort.ToString(CultureInfo.InvariantCulture)}/stats;csv");
        Servers = servers;
    }

    /// <summary>The MCP endpoint agents use: the balancer's <c>/mcp</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>HAProxy's statistics as CSV, one row per server with its state and last check.</summary>
    public Uri Stats { get; }

    /// <summary>The backend server names, <c>r1</c>, <c>r2</c>…, in the order of the replicas given.</summary>
    public IReadOnlyList<string> Servers { get; }

    /// <summary>What HAProxy printed (its configuration warnings, servers going down), for failure messages.</summary>
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
            Assert.Skip($"HAProxy is not installed ({Binary} is missing). Install it with: apt-get install -y --no-install-recommends haproxy (.ci/run does).");
        }
    }

    /// <summary>
    /// Starts HAProxy balancing over <paramref name="replicas"/> (each <c>http://127.0.0.1:PORT/…</c>) and waits until
    /// every replica passed its first health check.
    /// </summary>
    public static async Task<HaproxyBalancer> StartAsync(IReadOnlyList<Uri> replicas, CancellationToken cancellationToken)
    {
        DirectoryInfo folder = Directory.CreateTempSubdirectory("mcp-gateway-haproxy-");
        int port = FreePort();
        int statsPort = FreePort();
        string[] names = [.. replicas.Select((_, i) => "r" + (i + 1).ToString(CultureInfo.InvariantCulture))];
        string config = Path.Combine(folder.FullName, "haproxy.cfg");
        File.WriteAllText(config, Configuration(port, statsPort, names, replicas));

        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["-f", config, "-db"])
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start)!;
        var balancer = new HaproxyBalancer(process, folder, port, statsPort, names);
        process.OutputDataReceived += (_, e) => balancer.Append(e.Data);
        process.ErrorDataReceived += (_, e) => balancer.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await balancer.WaitUntilAsync(rows => names.All(n => rows.TryGetValue(n, out var row) && row.Status == "UP" && row.Check == "L7OK"), "every replica to pass its /readyz check", cancellationToken);
        }
        catch
        {
            await balancer.DisposeAsync();
            throw;
        }

        return balancer;
    }

    /// <summary>
    /// The configuration: one frontend for agents, one for the stats, and the replicas as servers of one backend.
    /// <c>http-reuse safe</c> (HAProxy's default, written out) shares idle server connections between agents' requests
    /// only after each connection's first request, which is what a load balancer in front of a fleet does. The health
    /// check sends a Host header, as the gateway refuses requests without one it trusts (DNS-rebinding protection).
    /// </summary>
    private static string Configuration(int port, int statsPort, IReadOnlyList<string> names, IReadOnlyList<Uri> replicas)
    {
        var servers = new StringBuilder();
        for (int i = 0; i < names.Count; i++)
        {
            servers.Append(CultureInfo.InvariantCulture, $"  server {names[i]} 127.0.0.1:{replicas[i].Port}\n");
        }

        return $$"""
            global
              maxconn 2000
            defaults
              mode http
              timeout connect 5s
              timeout client 5m
              timeout server 5m
              timeout http-keep-alive 1m
              # A connection refused (a replica that just died) is retried on another replica; a request a replica
              # already received is not replayed: the client sees the 502 and decides.
              retries 3
              option redispatch 1
            frontend mcp
              bind 127.0.0.1:{{port}}
              default_backend gateways
            frontend stats
              bind 127.0.0.1:{{statsPort}}
              stats enable
              stats uri /stats
            backend gateways
              balance roundrobin
              http-reuse safe
              option httpchk
              http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
              http-check expect status 200
              default-server check inter 500ms fall 1 rise 1
            {{servers}}
            """.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>One server's row of the stats: its state (UP, DOWN…) and the result of its last check (L7OK, L4CON…).</summary>
    public sealed record ServerRow(string Status, string Check);

    /// <summary>The backend's servers as the stats show them now.</summary>
    public async Task<IReadOnlyDictionary<string, ServerRow>> ServersAsync(CancellationToken cancellationToken)
    {
        string csv = await s_http.GetStringAsync(Stats, cancellationToken);
        string[] lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] header = lines[0].TrimStart('#', ' ').Split(',');
        int name = Array.IndexOf(header, "svname"), proxy = Array.IndexOf(header, "pxname"), status = Array.IndexOf(header, "status"), check = Array.IndexOf(header, "check_status");
        var rows = new Dictionary<string, ServerRow>(StringComparer.Ordinal);
        foreach (string[] fields in lines.Skip(1).Select(l => l.Split(',')))
        {
            if (fields.Length > check && fields[proxy] == "gateways" && fields[name] is not ("BACKEND" or "FRONTEND"))
            {
                rows[fields[name]] = new ServerRow(fields[status], fields[check]);
            }
        }

        return rows;
    }

    /// <summary>
    /// Reads the stats until <paramref name="condition"/> holds: HAProxy announces its checks to nobody, so this is a
    /// bounded poll of a state, not a wait for time.
    /// </summary>
    public async Task WaitUntilAsync(Func<IReadOnlyDictionary<string, ServerRow>, bool> condition, string what, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(60));
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        IReadOnlyDictionary<string, ServerRow>? last = null;
        string? error = null;
        try
        {
            do
            {
                if (_process.HasExited)
                {
                    Assert.Fail($"HAProxy exited with code {_process.ExitCode}:{Environment.NewLine}{Output}");
                }

                try
                {
                    last = await ServersAsync(bound.Token);
                    if (condition(last))
                    {
                        return;
                    }
                }
                catch (HttpRequestException ex)
                {
                    // Not listening yet.
                    error = ex.Message;
                }
            }
            while (await pace.WaitForNextTickAsync(bound.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        string rows = last is null ? "none" : string.Join(", ", last.Select(r => $"{r.Key} {r.Value.Status} {r.Value.Check}"));
        Assert.Fail($"HAProxy never showed {what} within 60 s. Servers: {rows}; last error: {error}{Environment.NewLine}HAProxy said:{Environment.NewLine}{Output}");
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
