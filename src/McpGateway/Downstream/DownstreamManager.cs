using McpGateway.Configuration;
using Microsoft.Extensions.Logging;

namespace McpGateway.Downstream;

/// <summary>What a reload did to the servers.</summary>
internal sealed record ServersChange(IReadOnlyList<string> Added, IReadOnlyList<string> Restarted, IReadOnlyList<string> Removed, IReadOnlyList<string> Kept)
{
    public bool Any => Added.Count + Restarted.Count + Removed.Count > 0;
}

/// <summary>
/// Owns one <see cref="DownstreamServer"/> per enabled configured server. Starts them all in parallel; a server that
/// fails or hangs never delays or breaks the others beyond its own start timeout. On reload, servers whose entry did
/// not change keep running (their processes and sessions), changed ones are restarted, removed ones stopped (calls
/// in flight on them fail at once with a clear error), added ones started.
/// </summary>
internal sealed partial class DownstreamManager : IAsyncDisposable
{
    private readonly DownstreamOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly IDownstreamTransportFactory? _transports;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _applying = new(1, 1);
    private volatile IReadOnlyList<DownstreamServer> _servers;

    public DownstreamManager(ServersConfig servers, DownstreamOptions options, ILoggerFactory loggerFactory, TimeProvider time, IDownstreamTransportFactory? transports = null)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _time = time;
        _transports = transports;
        _logger = loggerFactory.CreateLogger<DownstreamManager>();
        _servers = [.. servers.Servers.Where(s => s.Enabled).Select(Create)];
    }

    /// <summary>Receives, for every server now and later, what no single call can claim (log messages, resource updates).</summary>
    public IDownstreamEvents? Events
    {
        get => _events;
        set
        {
            _events = value;
            foreach (DownstreamServer server in _servers)
            {
                server.Events = value;
            }
        }
    }

    private IDownstreamEvents? _events;

    /// <summary>Enabled servers, in configuration order.</summary>
    public IReadOnlyList<DownstreamServer> Servers => _servers;

    /// <summary>Raised after any server's state or lists changed, or the set of servers did.</summary>
    public event Action? Changed;

    public DownstreamServer? Find(string name) => _servers.FirstOrDefault(s => s.Name == name);

    /// <summary>Connects to every server in parallel and waits until each has succeeded or failed its first attempt.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        await Task.WhenAll(_servers.Select(s => s.StartAsync(cancellationToken)));
        LogStarted(_logger, _servers.Count(s => s.IsReady), _servers.Count, _time.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Applies a new servers file: an unchanged entry keeps its running server; a changed one is stopped and started
    /// anew; a removed one is stopped; an added one is started. Completes once the old servers are stopped; the new
    /// ones start in the background (and announce themselves through <see cref="Changed"/> when ready), so a slow
    /// server never holds up the rest of a reload.
    /// </summary>
    public async Task<ServersChange> ApplyAsync(ServersConfig servers, CancellationToken cancellationToken)
    {
        await _applying.WaitAsync(cancellationToken);
        try
        {
            Dictionary<string, DownstreamServer> current = _servers.ToDictionary(s => s.Name, StringComparer.Ordinal);
            var next = new List<DownstreamServer>();
            var started = new List<DownstreamServer>();
            var stopped = new List<DownstreamServer>();
            var added = new List<string>();
            var restarted = new List<string>();
            var kept = new List<string>();
            foreach (ServerConfig config in servers.Servers.Where(s => s.Enabled))
            {
                if (current.Remove(config.Name, out DownstreamServer? running))
                {
                    if (running.Config.SameAs(config))
                    {
                        next.Add(running);
                        kept.Add(config.Name);
                        continue;
                    }

                    stopped.Add(running);
                    restarted.Add(config.Name);
                }
                else
                {
                    added.Add(config.Name);
                }

                DownstreamServer server = Create(config);
                next.Add(server);
                started.Add(server);
            }

            stopped.AddRange(current.Values);
            _servers = next;

            // The old servers go first (their calls fail now, clearly), so a restarted stdio server never runs twice at once.
            await Task.WhenAll(stopped.Select(StopAsync));
            Changed?.Invoke();
            foreach (DownstreamServer server in started)
            {
                _ = server.StartAsync(CancellationToken.None);
            }

            return new ServersChange(added, restarted, [.. current.Keys], kept);
        }
        finally
        {
            _applying.Release();
        }
    }

    private DownstreamServer Create(ServerConfig config)
    {
        var server = new DownstreamServer(config, _options, _loggerFactory, _time, _transports) { Events = _events };
        server.Changed += OnServerChanged;
        return server;
    }

    private async Task StopAsync(DownstreamServer server)
    {
        server.Changed -= OnServerChanged;
        await server.DisposeAsync();
    }

    private void OnServerChanged(DownstreamServer server) => Changed?.Invoke();

    public async ValueTask DisposeAsync() => await Task.WhenAll(_servers.Select(StopAsync));

    [LoggerMessage(Level = LogLevel.Information, Message = "{Ready} of {Total} servers ready after {ElapsedMs:F0} ms.")]
    private static partial void LogStarted(ILogger logger, int ready, int total, double elapsedMs);
}
