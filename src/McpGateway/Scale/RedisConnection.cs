using System.Net;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace McpGateway.Scale;

/// <summary>
/// The connection to the Redis that the replicas share, and whether it answers. While it does, limits are counted
/// there by every replica together; while it does not (down, unreachable, refusing), every decision is made with
/// this replica's own counts at once, without waiting on Redis. The change is logged once per outage (and once when
/// it ends), shown in <c>/status</c> and in the <c>mcp_gateway.shared_store.available</c> metric. The configuration
/// string may hold a password: it is never logged or shown, only the servers' host:port.
/// </summary>
internal sealed partial class RedisConnection : IHostedService, IAsyncDisposable
{
    /// <summary>How often an outage that the client library cannot see end by itself (a timeout, a refusal) is probed.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(5);

    // A failure like the one before, this soon after that outage ended, is the same outage flapping: not warned again.
    private static readonly TimeSpan s_flapping = TimeSpan.FromMinutes(1);

    private readonly ConfigurationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private ConnectionMultiplexer? _multiplexer;
    private ITimer? _probe;
    private int _state = (int)StoreState.Connecting;
    private DateTimeOffset _since;
    private DateTimeOffset? _restoredAt;
    private string? _lastFailure;
    private string? _previousFailure;
    private int _outages;
    private int _disposed;

    public RedisConnection(RedisSettings settings, TimeProvider time, ILogger<RedisConnection> logger)
    {
        _options = Options(settings.Configuration ?? throw new ArgumentException("Redis is not configured.", nameof(settings)));
        _time = time;
        _logger = logger;
        _since = time.GetUtcNow();
        KeyPrefix = settings.KeyPrefix;
        Endpoints = [.. _options.EndPoints.Select(Describe)];
        GatewayTelemetry.SharedStoreAvailable(null);
    }

    private enum StoreState
    {
        Connecting,
        Available,
        Unavailable,
    }

    /// <summary>Raised when Redis answers after it did not (and on the first connection): what was counted alone meanwhile can be counted there again.</summary>
    public event Action? Restored;

    /// <summary>Raised on every change of <see cref="IsAvailable"/>.</summary>
    public event Action<bool>? AvailabilityChanged;

    public string KeyPrefix { get; }

    /// <summary>The servers, as host:port (never the configuration string).</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>True while Redis answers: limits are shared.</summary>
    public bool IsAvailable => Volatile.Read(ref _state) == (int)StoreState.Available;

    /// <summary>The database to ask, or null while Redis does not answer (decide locally).</summary>
    public IDatabase? Database => IsAvailable ? _multiplexer?.GetDatabase() : null;

    public RedisKey Key(string name) => KeyPrefix + name;

    /// <summary>
    /// The client's options: never fail at start, and fail a command at once while disconnected (rather than queue it
    /// until the timeout), so that decisions fall back to this replica's counts without waiting.
    /// </summary>
    public static ConfigurationOptions Options(string configuration)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(configuration);
        options.SetDefaultPorts();
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= "mcp-gateway";
        return options;
    }

    /// <summary>The servers a configuration string names, as host:port: what may be shown of it.</summary>
    public static IReadOnlyList<string> EndpointsOf(string configuration)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(configuration);
        options.SetDefaultPorts();
        return [.. options.EndPoints.Select(Describe)];
    }

    /// <summary>Whether an exception is Redis failing to answer (as opposed to a bug): the caller then decides locally.</summary>
    public static bool IsFailure(Exception exception) =>
        exception is RedisException or RedisCommandException or TimeoutException or ObjectDisposedException;

    /// <summary>The first connection attempt (bounded by the configuration's connect timeout: 5 s when nothing listens).</summary>
    internal Task FirstAttempt { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Starts connecting, without holding up the start: until the first attempt succeeds, limits are counted by this
    /// replica (its sessions are counted in Redis as soon as it connects). The client keeps reconnecting by itself.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        FirstAttempt = ConnectAsync();
        return Task.CompletedTask;
    }

    private async Task ConnectAsync()
    {
        try
        {
            ConnectionMultiplexer multiplexer = await ConnectionMultiplexer.ConnectAsync(_options);
            multiplexer.ConnectionFailed += OnConnectionFailed;
            multiplexer.ConnectionRestored += OnConnectionRestored;
            _multiplexer = multiplexer;
            if (Volatile.Read(ref _disposed) != 0)
            {
                await multiplexer.DisposeAsync();
                return;
            }

            if (multiplexer.IsConnected)
            {
                MarkAvailable();
            }
            else
            {
                MarkUnavailable("cannot connect");
            }
        }
        catch (Exception ex) when (IsFailure(ex) || ex is System.Net.Sockets.SocketException)
        {
            MarkUnavailable(Describe(ex));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A command failed: limits are per replica until Redis answers again.</summary>
    public void Failed(Exception exception) => MarkUnavailable(Describe(exception));

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            MarkUnavailable(e.FailureType.ToString());
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            MarkAvailable();
        }
    }

    private void MarkUnavailable(string reason)
    {
        bool repeated;
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lock)
        {
            _lastFailure = reason;
            if (_state == (int)StoreState.Unavailable || _disposed != 0)
            {
                return;
            }

            bool wasAvailable = _state == (int)StoreState.Available;
            Volatile.Write(ref _state, (int)StoreState.Unavailable);
            _since = now;
            _outages++;
            repeated = reason == _previousFailure && _restoredAt is { } restored && now - restored < s_flapping;
            _previousFailure = reason;
            _probe ??= _time.CreateTimer(_ => _ = ProbeAsync(), null, ProbeInterval, ProbeInterval);
            if (wasAvailable)
            {
                GatewayTelemetry.SharedStoreAvailable(false);
            }
        }

        if (repeated)
        {
            LogUnavailableAgain(_logger, string.Join(", ", Endpoints), reason);
        }
        else
        {
            LogUnavailable(_logger, string.Join(", ", Endpoints), reason);
        }

        AvailabilityChanged?.Invoke(false);
    }

    private void MarkAvailable()
    {
        bool first;
        lock (_lock)
        {
            if (_state == (int)StoreState.Available || _disposed != 0)
            {
                return;
            }

            first = _state == (int)StoreState.Connecting;
            Volatile.Write(ref _state, (int)StoreState.Available);
            _since = _time.GetUtcNow();
            _restoredAt = _since;
            _probe?.Dispose();
            _probe = null;
            GatewayTelemetry.SharedStoreAvailable(true);
        }

        if (first)
        {
            LogConnected(_logger, string.Join(", ", Endpoints));
        }
        else
        {
            LogRestored(_logger, string.Join(", ", Endpoints));
        }

        AvailabilityChanged?.Invoke(true);
        Restored?.Invoke();
    }

    /// <summary>During an outage: once the client is connected again, one PING decides whether Redis answers.</summary>
    private async Task ProbeAsync()
    {
        if (_multiplexer is not { IsConnected: true } multiplexer)
        {
            return;
        }

        try
        {
            await multiplexer.GetDatabase().PingAsync();
            MarkAvailable();
        }
        catch (Exception ex) when (IsFailure(ex))
        {
            MarkUnavailable(Describe(ex));
        }
    }

    /// <summary>Writes the store's part of <c>/status</c>: its state and since when, outages, the last failure, the servers.</summary>
    public void WriteStatus(Utf8JsonWriter writer)
    {
        lock (_lock)
        {
            writer.WriteStartObject();
            writer.WriteString("state", _state switch
            {
                (int)StoreState.Available => "connected",
                (int)StoreState.Unavailable => "unavailable",
                _ => "connecting",
            });
            writer.WriteString("limits", _state == (int)StoreState.Available ? "shared" : "per replica");
            writer.WriteString("since", _since);
            writer.WriteNumber("outages", _outages);
            if (_lastFailure is not null)
            {
                writer.WriteString("lastFailure", _lastFailure);
            }

            writer.WriteStartArray("endpoints");
            foreach (string endpoint in Endpoints)
            {
                writer.WriteStringValue(endpoint);
            }

            writer.WriteEndArray();
            writer.WriteString("keyPrefix", KeyPrefix);
            writer.WriteEndObject();
        }
    }

    private static string Describe(EndPoint endpoint) => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        IPEndPoint ip => ip.ToString(),
        _ => endpoint.GetType().Name,
    };

    // The kind of failure only: an exception's message can quote the configuration.
    private static string Describe(Exception exception) => exception switch
    {
        RedisConnectionException connection => connection.FailureType.ToString(),
        TimeoutException => "Timeout",
        RedisServerException server => "server error " + new string([.. server.Message.TakeWhile(char.IsAsciiLetterUpper).Take(20)]),
        _ => exception.GetType().Name,
    };

    public async ValueTask DisposeAsync()
    {
        ConnectionMultiplexer? multiplexer;
        lock (_lock)
        {
            if (_disposed != 0)
            {
                return;
            }

            _disposed = 1;
            _probe?.Dispose();
            _probe = null;
            multiplexer = _multiplexer;
            if (_state == (int)StoreState.Available)
            {
                GatewayTelemetry.SharedStoreAvailable(false);
            }

            Volatile.Write(ref _state, (int)StoreState.Unavailable);
        }

        if (multiplexer is not null)
        {
            multiplexer.ConnectionFailed -= OnConnectionFailed;
            multiplexer.ConnectionRestored -= OnConnectionRestored;
            await multiplexer.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis {Endpoints} connected: rate and session limits are shared with the other replicas.")]
    private static partial void LogConnected(ILogger logger, string endpoints);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis {Endpoints} does not answer ({Reason}): rate and session limits are counted by this replica alone until it does.")]
    private static partial void LogUnavailable(ILogger logger, string endpoints, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Redis {Endpoints} does not answer again ({Reason}): limits are per replica.")]
    private static partial void LogUnavailableAgain(ILogger logger, string endpoints, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis {Endpoints} answers again: rate and session limits are shared with the other replicas.")]
    private static partial void LogRestored(ILogger logger, string endpoints);
}
