using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.FastPath;
using McpGateway.Gateway;
using McpGateway.Diagnostics;
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
    internal const int RequestTimeoutErrorCode = -32001;
    private const string LegacyProtocolVersion = "2025-11-25";

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
    private volatile IReadOnlyList<DownstreamItem> _prompts = [];
    private volatile IReadOnlyList<DownstreamItem> _resources = [];
    private volatile IReadOnlyList<DownstreamItem> _resourceTemplates = [];
    private Task? _supervisor;
    private StdioProcessClientTransport? _stdio;
    private int _disposed;

    public DownstreamServer(ServerConfig config, GatewayOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        Config = config;
        _options = options;
        // The SDK's client and transport quote what the server sent (a whole HTTP error body) in their log lines.
        _loggerFactory = new RedactingLoggerFactory(loggerFactory);
        _logger = loggerFactory.CreateLogger("McpGateway.Downstream." + config.Name);
        _time = time;
    }

    public ServerConfig Config { get; }

    public string Name => Config.Name;

    public DownstreamStatus Status => _status;

    public bool IsReady => _status.State == DownstreamState.Ready;

    /// <summary>The tools as last listed; kept while the server is down so exposed names stay stable.</summary>
    public IReadOnlyList<DownstreamTool> LastKnownTools => _tools;

    public IReadOnlyList<DownstreamItem> LastKnownPrompts => _prompts;

    public IReadOnlyList<DownstreamItem> LastKnownResources => _resources;

    public IReadOnlyList<DownstreamItem> LastKnownResourceTemplates => _resourceTemplates;

    /// <summary>
    /// The raw connection the forwarding fast path may use: only a ready stdio server on 2025-11-25 (a 2026-07-28
    /// server wants per-request metadata, which the SDK client adds on the full path).
    /// </summary>
    internal StdioProcessTransport? FastConnection =>
        IsReady && !ProtocolEras.IsJuly2026OrLater(_client?.NegotiatedProtocolVersion) ? _stdio?.Connection : null;

    /// <summary>The protocol revision this connection negotiated.</summary>
    public string? NegotiatedProtocolVersion => _client?.NegotiatedProtocolVersion;

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
            LogCallFailed(_logger, Name, method, AuditRedaction.Excerpt(ex.Message));
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
                using var connectionLost = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                StartListening(client, connectionLost.Token);
                ClientCompletionDetails details;
                try
                {
                    details = await client.Completion.WaitAsync(stopping);
                }
                finally
                {
                    await connectionLost.CancelAsync();
                }

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
            try
            {
                client = await CreateClientAsync(protocolVersion: Config.Transport == ServerTransport.Sse ? LegacyProtocolVersion : null, timeoutCts.Token);
            }
            catch (Exception ex) when (IsProtocolNegotiationFailure(ex) && !timeoutCts.IsCancellationRequested)
            {
                // The SDK first probes with 2026-07-28's server/discover. Some servers answer methods they do not know
                // with an empty result instead of an error, which fails the probe rather than falling back: ask again
                // with the initialize handshake of 2025-11-25.
                LogLegacyFallback(_logger, Name, AuditRedaction.Excerpt(ex.Message));
                client = await CreateClientAsync(LegacyProtocolVersion, timeoutCts.Token);
            }

            await LoadListsAsync(client, s_allLists, timeoutCts.Token);
            _client = client;
            SetStatus(new DownstreamStatus(DownstreamState.Ready));
            LogConnected(_logger, Name, _tools.Count, client.NegotiatedProtocolVersion ?? "?", _time.GetElapsedTime(started).TotalMilliseconds);
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

    private Task<McpClient> CreateClientAsync(string? protocolVersion, CancellationToken cancellationToken)
    {
        IClientTransport inner = DownstreamTransportFactory.Create(Config, _loggerFactory, _logger);
        _stdio = inner as StdioProcessClientTransport;
        IClientTransport transport = new GatewayClientTransport(inner, this);
        var clientOptions = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "mcp-gateway", Version = GatewayVersion.Value },
            // The start timeout (a token cancelled after StartTimeout) bounds the whole start, list loading included;
            // the SDK's own timer would race it and report the same thing less clearly.
            InitializationTimeout = Timeout.InfiniteTimeSpan,
            ProtocolVersion = protocolVersion,

            // The gateway can pass sampling, elicitation and roots requests on to the agent whose call caused them,
            // so it offers them; it answers on the agent's behalf when the agent's client lacks one.
            Capabilities = new ClientCapabilities
            {
                Elicitation = new ElicitationCapability { Form = new FormElicitationCapability(), Url = new UrlElicitationCapability() },
            },
            Handlers = InputRequestHandlers(),
        };
        return McpClient.CreateAsync(transport, clientOptions, _loggerFactory, cancellationToken);
    }

    /// <summary>
    /// Servers on 2026-07-28 ask for input inside the response to a call (multi round-trip requests), and the SDK
    /// client resolves those through these handlers, in the flow of the call that caused them: the call in flight on
    /// this async flow (<see cref="DownstreamCall.Current"/>) says which agent to ask. Requests of 2025-11-25 servers
    /// never reach these handlers; <see cref="TryHandle"/> routes them raw.
    /// </summary>
    private McpClientHandlers InputRequestHandlers()
    {
        JsonSerializerOptions json = McpJsonUtilities.DefaultOptions;
        return new McpClientHandlers
        {
            SamplingHandler = async (parameters, _, cancellationToken) =>
            {
                JsonNode? result = await ForwardServerRequestAsync(RequestMethods.SamplingCreateMessage, JsonSerializer.SerializeToNode(parameters, json.GetTypeInfo<CreateMessageRequestParams?>()), DownstreamCall.Current, cancellationToken);
                return result.Deserialize(json.GetTypeInfo<CreateMessageResult>()) ?? throw new McpException("The agent's client answered sampling with nothing.");
            },
            ElicitationHandler = async (parameters, cancellationToken) =>
            {
                JsonNode? result = await ForwardServerRequestAsync(RequestMethods.ElicitationCreate, JsonSerializer.SerializeToNode(parameters, json.GetTypeInfo<ElicitRequestParams?>()), DownstreamCall.Current, cancellationToken);
                return result.Deserialize(json.GetTypeInfo<ElicitResult>()) ?? throw new McpException("The agent's client answered elicitation with nothing.");
            },
            RootsHandler = async (parameters, cancellationToken) =>
            {
                JsonNode? result = await ForwardServerRequestAsync(RequestMethods.RootsList, JsonSerializer.SerializeToNode(parameters, json.GetTypeInfo<ListRootsRequestParams?>()), DownstreamCall.Current, cancellationToken);
                return result.Deserialize(json.GetTypeInfo<ListRootsResult>()) ?? new ListRootsResult { Roots = [] };
            },
        };
    }

    /// <summary>A failure of the protocol exchange itself (not of starting or reaching the server), worth a retry with 2025-11-25.</summary>
    private static bool IsProtocolNegotiationFailure(Exception ex)
    {
        Exception cause = ex;
        while (cause.InnerException is { } inner)
        {
            cause = inner;
        }

        return cause is JsonException or McpException && cause is not McpProtocolException { ErrorCode: not McpErrorCode.InternalError };
    }

    private void SetUnavailable(string reason)
    {
        // The reason quotes what the server or the network said: bounded, and anything credential-like masked.
        reason = AuditRedaction.Excerpt(reason, 300);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' is ready with {ToolCount} tools, protocol {ProtocolVersion} ({ElapsedMs:F0} ms).")]
    private static partial void LogConnected(ILogger logger, string server, int toolCount, string protocolVersion, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' failed the 2026-07-28 probe ({Error}); connecting with 2025-11-25.")]
    private static partial void LogLegacyFallback(ILogger logger, string server, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}' is unavailable: {Reason}.")]
    private static partial void LogUnavailable(ILogger logger, string server, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}': reconnecting in {DelaySeconds:F0} s.")]
    private static partial void LogReconnecting(ILogger logger, string server, double delaySeconds);


    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': '{Method}' failed: {Error}")]
    private static partial void LogCallFailed(ILogger logger, string server, string method, string error);
}
