using System.Globalization;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;

namespace McpGateway.Downstream;

/// <summary>
/// Keeps one downstream server connected: connects (bounded by the start timeout), waits until the connection is
/// lost, fails what was in flight on it at once, and reconnects after a capped exponential backoff with jitter. A
/// server that fails <see cref="DownstreamOptions.CrashLoopFailures"/> times within the crash-loop window is in a crash
/// loop: it is retried only every <see cref="DownstreamOptions.CrashLoopDelay"/>, and its status says so. All waiting
/// is on the injected <see cref="TimeProvider"/>, so tests drive it with a fake clock.
/// </summary>
internal sealed partial class DownstreamSupervisor : IAsyncDisposable
{
    private readonly string _name;
    private readonly DownstreamOptions _options;
    private readonly TimeSpan _startTimeout;
    private readonly TimeProvider _time;
    private readonly Func<double> _random;
    private readonly Func<string, string> _redact;
    private readonly Func<CancellationToken, Task<DownstreamConnection>> _connect;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<DateTimeOffset> _failures = new();
    private volatile DownstreamConnection? _connection;
    private volatile DownstreamStatus _status;
    private TaskCompletionSource _attemptEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _reconnectRequested;
    private Task? _loop;
    private int _attempts;
    private int _disposed;

    public DownstreamSupervisor(
        string name,
        DownstreamOptions options,
        TimeSpan startTimeout,
        TimeProvider time,
        Func<CancellationToken, Task<DownstreamConnection>> connect,
        ILogger logger,
        Func<double>? random = null,
        Func<string, string>? redact = null)
    {
        _name = name;
        _options = options;
        _startTimeout = startTimeout;
        _time = time;
        _connect = connect;
        _logger = logger;
        _random = random ?? Random.Shared.NextDouble;
        _redact = redact ?? (reason => AuditRedaction.Excerpt(reason, ServerRedaction.MaxLineLength));
        _status = DownstreamStatus.Starting with { Since = time.GetUtcNow() };
    }

    public DownstreamStatus Status => _status;

    /// <summary>The live connection, or null while there is none.</summary>
    public DownstreamConnection? Connection => _connection;

    /// <summary>Raised when the state changes (never while holding a lock). Handlers must not block.</summary>
    public event Action<DownstreamStatus>? StatusChanged;

    /// <summary>Raised when a new connection is up, before the state says ready, so its lists can be loaded first.</summary>
    public Func<DownstreamConnection, CancellationToken, Task>? Connected { get; set; }

    /// <summary>Starts supervising; completes when the first connection attempt has succeeded or failed.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop ??= Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return _firstAttempt.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Drops <paramref name="failed"/> and connects again without waiting for the backoff (an HTTP server that forgot
    /// the session, say). Completes when the next attempt has succeeded or failed; at once when another caller's
    /// reconnect has already replaced the connection, so calls that fail together reconnect once.
    /// </summary>
    public async Task ReconnectAsync(DownstreamConnection failed, string reason, CancellationToken cancellationToken)
    {
        TaskCompletionSource attempted = Volatile.Read(ref _attemptEnded);
        if (_connection is { IsLost: false } current && !ReferenceEquals(current, failed))
        {
            return;
        }

        if (!failed.IsLost)
        {
            Volatile.Write(ref _reconnectRequested, 1);
            failed.Lose(reason);
        }

        await attempted.Task.WaitAsync(_startTimeout + _startTimeout, _time, cancellationToken);
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            DownstreamConnection? connection = null;
            string reason;
            try
            {
                connection = await ConnectAsync(stopping);
                _connection = connection;
                SetStatus(new DownstreamStatus(DownstreamState.Ready) { Restarts = Restarts });
                _firstAttempt.TrySetResult();
                EndAttempt();
                LogReady(_logger, _name, connection.ProtocolVersion ?? "?");
                reason = await LostAsync(connection, stopping);
                if (stopping.IsCancellationRequested)
                {
                    break;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                reason = DescribeFailure(ex);
            }
            finally
            {
                // Supervision is over: nothing to tell about retrying.
                if (connection is not null && stopping.IsCancellationRequested)
                {
                    _connection = null;
                    connection.Lose("the server stopped");
                    await connection.DisposeAsync();
                }
            }

            // The reason quotes what the server or the network said (and may quote the server's own settings): bounded,
            // the server's secrets and anything credential-like masked, for the status and the log alike.
            reason = _redact(reason);
            // A reconnect someone asked for (the server forgot the session) is not a failure, and does not wait.
            bool looping = false;
            TimeSpan delay = Interlocked.Exchange(ref _reconnectRequested, 0) == 1 ? TimeSpan.Zero : NextDelay(out looping);
            DateTimeOffset retryAt = _time.GetUtcNow() + delay;

            // The state says when the server is tried again before the connection is dropped, and long before it is
            // closed (which may take the stop grace): a call that finds the server gone is told when, and /status
            // never calls it ready meanwhile. Calls in flight fail before anyone is told of the change.
            bool changed = Assign(new DownstreamStatus(looping ? DownstreamState.Failed : DownstreamState.Restarting, looping ? $"{reason}; crash loop ({_options.CrashLoopFailures} failures within {_options.CrashLoopWindow.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s)" : reason)
            {
                RetryAt = retryAt,
                Restarts = Restarts,
            });
            if (connection is not null)
            {
                _connection = null;
                connection.Lose(reason);
            }

            if (changed)
            {
                StatusChanged?.Invoke(_status);
            }

            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            _firstAttempt.TrySetResult();
            if (connection is null)
            {
                // The attempt failed (rather than a connection it made being lost later).
                EndAttempt();
            }

            if (looping)
            {
                LogCrashLoop(_logger, _name, reason, delay.TotalSeconds);
            }
            else
            {
                LogUnavailable(_logger, _name, reason, delay.TotalSeconds);
            }

            try
            {
                await Task.Delay(delay, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            _attempts++;
        }

        SetStatus(new DownstreamStatus(DownstreamState.Stopped) { Restarts = Restarts });
        _firstAttempt.TrySetResult();
        EndAttempt();
    }

    /// <summary>An attempt succeeded or failed (or supervision stopped): reconnects waiting for one may go on.</summary>
    private void EndAttempt() =>
        Interlocked.Exchange(ref _attemptEnded, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private int Restarts => _attempts;

    private async Task<DownstreamConnection> ConnectAsync(CancellationToken stopping)
    {
        // On the injected clock, like every other wait of the supervisor.
        using var deadline = new CancellationTokenSource(_startTimeout, _time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping, deadline.Token);
        DownstreamConnection? connection = null;
        try
        {
            connection = await _connect(timeout.Token);
            if (Connected is { } connected)
            {
                await connected(connection, timeout.Token);
            }

            return connection;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            throw new TimeoutException($"did not become ready within {_startTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Waits until the connection ends (or is marked lost) and says why.</summary>
    private static async Task<string> LostAsync(DownstreamConnection connection, CancellationToken stopping)
    {
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration onLost = connection.LostToken.Register(() => lost.TrySetResult());
        Task finished = await Task.WhenAny(connection.Completion, lost.Task).WaitAsync(stopping);
        if (finished == connection.Completion)
        {
            // Marked lost by the caller, once the status says when the server is tried again.
            return DownstreamConnection.Describe(await connection.Completion);
        }

        // Dropped on purpose (a reconnect): the reason it was given.
        return connection.LostReason ?? "the connection was dropped";
    }

    /// <summary>The next reconnect delay: doubling from the initial one up to the cap, spread by the jitter; the crash-loop delay in a crash loop.</summary>
    private TimeSpan NextDelay(out bool crashLoop)
    {
        DateTimeOffset now = _time.GetUtcNow();
        _failures.Enqueue(now);
        while (_failures.Count > 0 && now - _failures.Peek() > _options.CrashLoopWindow)
        {
            _failures.Dequeue();
        }

        crashLoop = _failures.Count >= _options.CrashLoopFailures;
        if (crashLoop)
        {
            return _options.CrashLoopDelay;
        }

        double exponential = _options.InitialReconnectDelay.TotalMilliseconds * Math.Pow(2, _failures.Count - 1);
        double capped = Math.Min(exponential, _options.MaxReconnectDelay.TotalMilliseconds);
        double spread = capped * (1 + (_options.Jitter * ((2 * _random()) - 1)));
        return TimeSpan.FromMilliseconds(Math.Max(0, spread));
    }

    private void SetStatus(DownstreamStatus status)
    {
        if (Assign(status))
        {
            StatusChanged?.Invoke(_status);
        }
    }

    /// <summary>Sets the status without telling anyone; true when the state or reason changed (and listeners should be told).</summary>
    private bool Assign(DownstreamStatus status)
    {
        DownstreamStatus previous = _status;
        _status = status with { Since = previous.State == status.State ? previous.Since : _time.GetUtcNow() };
        return previous.State != status.State || previous.Reason != status.Reason;
    }

    private string DescribeFailure(Exception ex)
    {
        // The SDK wraps the cause ("Failed to connect transport."); the innermost exception says what went wrong.
        Exception cause = ex;
        while (cause is not TimeoutException && cause.InnerException is { } inner)
        {
            cause = inner;
        }

        return cause switch
        {
            TimeoutException => cause.Message,
            System.ComponentModel.Win32Exception => $"could not start: {cause.Message}",
            System.IO.FileNotFoundException => $"could not start: {cause.Message}",
            ModelContextProtocol.McpProtocolException protocol => $"the server refused the connection: {DownstreamErrors.Relay(protocol).Message}",
            HttpRequestException http => $"could not reach the server: {http.Message}",
            _ => $"failed to connect: {cause.Message}",
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Server '{Server}' connected (protocol {ProtocolVersion}).")]
    private static partial void LogReady(ILogger logger, string server, string protocolVersion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}' is unavailable: {Reason}. Reconnecting in {DelaySeconds:F1} s.")]
    private static partial void LogUnavailable(ILogger logger, string server, string reason, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Server '{Server}' keeps failing ({Reason}): it is in a crash loop and is retried every {DelaySeconds:F0} s until it stays up.")]
    private static partial void LogCrashLoop(ILogger logger, string server, string reason, double delaySeconds);
}
