using McpGateway.Configuration;
using McpGateway.Gateway;
using Microsoft.Extensions.Logging;

namespace McpGateway.Downstream;

/// <summary>
/// Owns one <see cref="DownstreamServer"/> per enabled configured server. Starts them all in parallel; a server that
/// fails or hangs never delays or breaks the others beyond its own start timeout.
/// </summary>
internal sealed partial class DownstreamManager : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly Dictionary<string, DownstreamServer> _byName;

    public DownstreamManager(ServersConfig servers, GatewayOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _logger = loggerFactory.CreateLogger<DownstreamManager>();
        Servers = [.. servers.Servers.Where(s => s.Enabled).Select(s => new DownstreamServer(s, options, loggerFactory, time))];
        _byName = Servers.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (DownstreamServer server in Servers)
        {
            server.Changed += OnServerChanged;
        }
    }

    /// <summary>Enabled servers, in configuration order.</summary>
    public IReadOnlyList<DownstreamServer> Servers { get; }

    /// <summary>Raised after any server's state or tool list changed.</summary>
    public event Action? Changed;

    public DownstreamServer? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Connects to every server in parallel and waits until each has succeeded or failed its first attempt.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        long started = TimeProvider.System.GetTimestamp();
        await Task.WhenAll(Servers.Select(s => s.StartAsync(cancellationToken)));
        int ready = Servers.Count(s => s.IsReady);
        LogStarted(_logger, ready, Servers.Count, TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
    }

    private void OnServerChanged(DownstreamServer server) => Changed?.Invoke();

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Servers.Select(async s =>
        {
            s.Changed -= OnServerChanged;
            await s.DisposeAsync();
        }));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Ready} of {Total} servers ready after {ElapsedMs:F0} ms.")]
    private static partial void LogStarted(ILogger logger, int ready, int total, double elapsedMs);
}
