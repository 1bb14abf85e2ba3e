using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// A real HAProxy (Debian's <c>haproxy</c> package) on loopback in front of gateway replicas, configured as a platform
/// team would: round robin over every request, no stickiness of any kind (no cookie, no source hashing, no
/// <c>Mcp-Session-Id</c> routing), a health check on each replica's <c>/readyz</c>, and retries of connections that
/// failed (redispatched to another replica) but never of a request a replica already received. It logs every change
/// of a replica's check on stderr, which is what the tests wait for. Its configuration lives in a temporary folder;
/// stopped, and the folder deleted, on dispose.
/// </summary>
internal sealed class HaproxyBalancer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/haproxy";

    private static readonly HttpClient s_http = new() { Timeout = Patience.HangGuard };

    private readonly Process _process;
    private readonly DirectoryInfo _folder;

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

    /// <summary>What HAProxy prints: configuration warnings, and each replica's check passing or failing, going up or down.</summary>
    public LineLog Output { get; } = new();

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
        process.OutputDataReceived += (_, e) => { };
        process.ErrorDataReceived += (_, e) => balancer.Output.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            foreach (string name in names)
            {
                await balancer.Output.WaitForAsync(
                    l => l.Contains($"Health check for server gateways/{name} succeeded", StringComparison.Ordinal), $"HAProxy's first /readyz check of {name} to pass", cancellationToken);
            }
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
              option log-health-checks
              http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
              http-check expect status 200
              default-server check inter 500ms fall 1 rise 1
            {{servers}}
            """.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>
    /// How many 2xx responses each replica has given through the balancer so far, from HAProxy's stats (counted as
    /// HAProxy forwards each response, so a response the client has read is counted).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>> ResponsesAsync(CancellationToken cancellationToken)
    {
        string csv = await s_http.GetStringAsync(Stats, cancellationToken);
        string[] lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] header = lines[0].TrimStart('#', ' ').Split(',');
        int proxy = Array.IndexOf(header, "pxname"), name = Array.IndexOf(header, "svname"), ok = Array.IndexOf(header, "hrsp_2xx");
        return lines.Skip(1).Select(l => l.Split(','))
            .Where(f => f.Length > ok && f[proxy] == "gateways" && Servers.Contains(f[name]))
            .ToDictionary(f => f[name], f => long.Parse(f[ok], CultureInfo.InvariantCulture), StringComparer.Ordinal);
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
