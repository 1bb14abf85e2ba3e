using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Gateway;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// One configured downstream server: a supervised SDK client connection that reconnects with backoff when the
/// server fails or dies, and the server's current tool list. Requests are sent raw (JSON in, JSON out) so that
/// nothing the server sends is lost to the SDK's typed models.
/// </summary>
internal sealed partial class DownstreamServer : IAsyncDisposable
{
    private const int RequestTimeoutErrorCode = -32001;

    private readonly GatewayOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private volatile McpClient? _client;
    private volatile DownstreamStatus _status = DownstreamStatus.Starting;
    private volatile IReadOnlyList<DownstreamTool> _tools = [];
    private Task? _supervisor;
    private int _disposed;

    public DownstreamServer(ServerConfig config, GatewayOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        Config = config;
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("McpGateway.Downstream." + config.Name);
        _time = time;
    }

    public ServerConfig Config { get; }

    public string Name => Config.Name;

    public DownstreamStatus Status => _status;

    public bool IsReady => _status.State == DownstreamState.Ready;

    /// <summary>The tools as last listed; kept while the server is down so exposed names stay stable.</summary>
    public IReadOnlyList<DownstreamTool> LastKnownTools => _tools;

    /// <summary>What the server said about itself when it connected.</summary>
    public Implementation? ServerInfo => _client?.ServerInfo;

    public ServerCapabilities? ServerCapabilities => _client?.ServerCapabilities;

    public TimeSpan StartTimeout => Config.StartTimeout ?? _options.DefaultStartTimeout;

    public TimeSpan CallTimeout => Config.CallTimeout ?? _options.DefaultCallTimeout;

    /// <summary>Raised when the state or the tool list changes. Handlers must not block.</summary>
    public event Action<DownstreamServer>? Changed;

    /// <summary>Starts supervising; completes when the first connection attempt has succeeded or failed.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token), CancellationToken.None);
        return _firstAttempt.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Sends <c>tools/call</c> with the given params object and returns the server's result untouched.</summary>
    public Task<JsonNode?> CallToolAsync(JsonObject parameters, TimeSpan? timeout, CancellationToken cancellationToken) =>
        SendRequestAsync(RequestMethods.ToolsCall, parameters, timeout ?? CallTimeout, cancellationToken);

    /// <summary>Sends any request raw; downstream JSON-RPC errors come back as <see cref="McpProtocolException"/> with the server's code and message.</summary>
    public async Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, TimeSpan timeout, CancellationToken cancellationToken)
    {
        McpClient client = _client ?? throw new McpException($"Server '{Name}' is not connected; try again later.");
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        try
        {
            JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, timeoutCts.Token);
            return response.Result;
        }
        catch (McpProtocolException ex)
        {
            throw DownstreamErrors.Relay(ex);
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new McpProtocolException(
                $"The request to server '{Name}' timed out after {timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms.",
                (McpErrorCode)RequestTimeoutErrorCode);
        }
        // A cancellation that is neither the caller's nor the timeout is the client cancelling its pending requests
        // because the connection closed (the server died mid-call): the same failure as a transport error.
        catch (Exception ex) when (ex is IOException or ClientTransportClosedException or ObjectDisposedException or InvalidOperationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogCallFailed(_logger, Name, method, ex.Message);
            throw new McpException($"Server '{Name}' closed the connection during the request.");
        }
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        TimeSpan delay = _options.InitialReconnectDelay;
        while (!stopping.IsCancellationRequested)
        {
            McpClient? client = null;
            try
            {
                client = await ConnectAsync(stopping);
                delay = _options.InitialReconnectDelay;
                _firstAttempt.TrySetResult();
                ClientCompletionDetails details = await client.Completion.WaitAsync(stopping);
                if (stopping.IsCancellationRequested)
                {
                    break;
                }

                SetUnavailable(DescribeCompletion(details));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                SetUnavailable(DescribeFailure(ex));
            }
            finally
            {
                if (client is not null)
                {
                    _client = null;
                    await DisposeQuietlyAsync(client);
                }
            }

            _firstAttempt.TrySetResult();
            LogReconnecting(_logger, Name, delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
            SetStatus(DownstreamStatus.Starting);
        }

        SetStatus(new DownstreamStatus(DownstreamState.Stopped));
        _firstAttempt.TrySetResult();
    }

    private async Task<McpClient> ConnectAsync(CancellationToken stopping)
    {
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeoutCts.CancelAfter(StartTimeout);
        long started = _time.GetTimestamp();
        McpClient? client = null;
        try
        {
            IClientTransport transport = DownstreamTransportFactory.Create(Config, _loggerFactory, _logger);
            var clientOptions = new McpClientOptions
            {
                ClientInfo = new Implementation { Name = "mcp-gateway", Version = GatewayVersion.Value },
                InitializationTimeout = StartTimeout,
            };
            client = await McpClient.CreateAsync(transport, clientOptions, _loggerFactory, timeoutCts.Token);
            client.RegisterNotificationHandler(NotificationMethods.ToolListChangedNotification, (_, _) =>
            {
                _ = RefreshToolsAsync(client, CancellationToken.None);
                return ValueTask.CompletedTask;
            });

            await LoadToolsAsync(client, timeoutCts.Token);
            _client = client;
            SetStatus(new DownstreamStatus(DownstreamState.Ready));
            LogConnected(_logger, Name, _tools.Count, _time.GetElapsedTime(started).TotalMilliseconds);
            return client;
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            if (client is not null)
            {
                await DisposeQuietlyAsync(client);
            }

            throw new TimeoutException($"did not become ready within {StartTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch
        {
            if (client is not null)
            {
                await DisposeQuietlyAsync(client);
            }

            throw;
        }
    }

    private async Task RefreshToolsAsync(McpClient client, CancellationToken cancellationToken)
    {
        try
        {
            await LoadToolsAsync(client, cancellationToken);
            Changed?.Invoke(this);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRefreshFailed(_logger, Name, ex.Message);
        }
    }

    private async Task LoadToolsAsync(McpClient client, CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            if (client.ServerCapabilities.Tools is null)
            {
                _tools = [];
                return;
            }

            var tools = new List<DownstreamTool>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var problems = new List<string>();
            string? cursor = null;
            int pages = 0;
            do
            {
                JsonObject? parameters = cursor is null ? null : new JsonObject { ["cursor"] = cursor };
                JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsList, Params = parameters }, cancellationToken);
                ToolListReader.Read(response.Result, tools, seen, problems);
                cursor = response.Result?["nextCursor"]?.GetValue<string>();
            }
            while (cursor is not null && ++pages < 1000);

            foreach (string problem in problems)
            {
                LogToolSkipped(_logger, Name, problem);
            }

            _tools = tools;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private void SetUnavailable(string reason)
    {
        LogUnavailable(_logger, Name, reason);
        SetStatus(new DownstreamStatus(DownstreamState.Unavailable, reason));
    }

    private void SetStatus(DownstreamStatus status)
    {
        DownstreamStatus previous = _status;
        _status = status;
        if (previous.State != status.State)
        {
            Changed?.Invoke(this);
        }
    }

    private string DescribeFailure(Exception ex)
    {
        // The SDK wraps the cause ("Failed to connect transport."); the innermost exception says what went wrong.
        Exception cause = ex;
        while (cause is not TimeoutException && cause.InnerException is { } inner)
        {
            cause = inner;
        }

        return DescribeCause(cause);
    }

    private string DescribeCause(Exception ex) => ex switch
    {
        TimeoutException => ex.Message,
        System.ComponentModel.Win32Exception => $"could not start '{Config.Command}': {ex.Message}",
        McpProtocolException protocol => $"the server refused the connection: {DownstreamErrors.Relay(protocol).Message}",
        HttpRequestException http => $"could not reach the server: {http.Message}",
        _ => $"failed to connect: {ex.Message}",
    };

    private static string DescribeCompletion(ClientCompletionDetails details) => details switch
    {
        StdioClientCompletionDetails { ExitCode: int code } => $"the process exited with code {code}",
        StdioClientCompletionDetails => "the process exited",
        HttpClientCompletionDetails { HttpStatusCode: { } status } => $"the connection closed (HTTP {(int)status})",
        { Exception: { } ex } => $"the connection closed: {ex.Message}",
        _ => "the connection closed",
    };

    private static async Task DisposeQuietlyAsync(McpClient client)
    {
        try
        {
            await client.DisposeAsync();
        }
        catch
        {
            // Shutting down a broken connection can fail in many ways; none of them matter here.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_supervisor is not null)
        {
            await _supervisor.ConfigureAwait(false);
        }

        _stopping.Dispose();
        _refreshLock.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' is ready with {ToolCount} tools ({ElapsedMs:F0} ms).")]
    private static partial void LogConnected(ILogger logger, string server, int toolCount, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}' is unavailable: {Reason}.")]
    private static partial void LogUnavailable(ILogger logger, string server, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}': reconnecting in {DelaySeconds:F0} s.")]
    private static partial void LogReconnecting(ILogger logger, string server, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': skipped a tool: {Problem}.")]
    private static partial void LogToolSkipped(ILogger logger, string server, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': could not refresh its tool list: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string server, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': '{Method}' failed: {Error}")]
    private static partial void LogCallFailed(ILogger logger, string server, string method, string error);
}
