using McpGateway.Configuration;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.Scale;
using Microsoft.Extensions.Logging;

namespace McpGateway.IntegrationTests.Scale;

/// <summary>
/// What one gateway replica has of the shared store, without the gateway: the connection, the rate windows, the
/// session slots and the session state store, on a clock the test chooses. Several of them on one server are
/// several replicas. Disposing one without releasing its slots is a replica that died.
/// </summary>
internal sealed class RedisReplica : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly ILoggerFactory _loggers;

    private RedisReplica(RedisSettings settings, TimeProvider time)
    {
        _loggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(Logs));
        Connection = new RedisConnection(settings, time, _loggers.CreateLogger<RedisConnection>());
        Windows = new RedisRateWindows(Connection);
        Slots = new RedisSessionSlots(Connection, time);
        States = new RedisSessionStateStore(Connection, time);
    }

    public TestLogs Logs { get; } = new();

    public RedisConnection Connection { get; }

    public RedisRateWindows Windows { get; }

    public RedisSessionSlots Slots { get; }

    public RedisSessionStateStore States { get; }

    /// <summary>The connection's warnings that Redis does not answer.</summary>
    public int OutageWarnings => Logs.Lines.Count(l => l.StartsWith("Warning McpGateway.Scale.RedisConnection:", StringComparison.Ordinal) && l.Contains("does not answer", StringComparison.Ordinal));

    public static async Task<RedisReplica> StartAsync(RedisServer server, string keyPrefix, TimeProvider time, CancellationToken cancellationToken, string? configuration = null)
    {
        var replica = new RedisReplica(new RedisSettings { Configuration = configuration ?? server.Configuration, KeyPrefix = keyPrefix }, time);
        await replica.Connection.StartAsync(cancellationToken);
        await replica.Connection.FirstAttempt.WaitAsync(Patience, cancellationToken);
        return replica;
    }

    /// <summary>A key prefix of one test's own, so tests sharing a server never see each other's keys.</summary>
    public static string NewPrefix() => "test-" + Guid.NewGuid().ToString("N")[..8] + ":";

    /// <summary>Waits until the connection says Redis answers (or does not): the client notices an outage and reconnects by itself.</summary>
    public Task WaitUntilAvailableAsync(bool available, CancellationToken cancellationToken) => WaitUntilAvailableAsync(Connection, available, cancellationToken);

    public static async Task WaitUntilAvailableAsync(RedisConnection connection, bool available, CancellationToken cancellationToken)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(bool now)
        {
            if (now == available)
            {
                changed.TrySetResult();
            }
        }

        connection.AvailabilityChanged += OnChange;
        try
        {
            if (connection.IsAvailable != available)
            {
                await changed.Task.WaitAsync(Patience, cancellationToken);
            }
        }
        finally
        {
            connection.AvailabilityChanged -= OnChange;
        }
    }

    /// <summary>A task that completes when the session slots were next renewed (<paramref name="readd"/>: added again after an outage).</summary>
    public Task NextRenewal(bool readd = false) => NextRenewal(Slots, readd);

    public static Task NextRenewal(RedisSessionSlots slots, bool readd)
    {
        var renewed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnRenewed(bool wasReadd)
        {
            if (wasReadd == readd)
            {
                renewed.TrySetResult();
                slots.Renewed -= OnRenewed;
            }
        }

        slots.Renewed += OnRenewed;
        return renewed.Task.WaitAsync(Patience);
    }

    public async ValueTask DisposeAsync()
    {
        Slots.Dispose();
        await Connection.DisposeAsync();
        _loggers.Dispose();
    }
}
