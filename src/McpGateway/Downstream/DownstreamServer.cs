using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// One configured downstream server, as the rest of the gateway sees it. It is made of parts a reader can name:
/// the <see cref="DownstreamSupervisor"/> (state machine, backoff, crash loops) keeps a <see cref="DownstreamConnection"/>
/// (transport and SDK client) alive; <see cref="DownstreamCalls"/> routes what the server sends back to the call that
/// caused it; <see cref="DownstreamLists"/> is the cached catalog; <see cref="DownstreamSubscriptions"/> the
/// resource subscriptions and list-change notices.
/// </summary>
internal sealed partial class DownstreamServer : IAsyncDisposable
{
    private readonly DownstreamOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IDownstreamTransportFactory _transports;
    private readonly DownstreamSupervisor _supervisor;
    private readonly DownstreamCalls _calls;
    private readonly DownstreamLists _lists;
    private readonly DownstreamSubscriptions _subscriptions;
    private volatile string? _degraded;
    private int _disposed;

    public DownstreamServer(ServerConfig config, DownstreamOptions options, ILoggerFactory loggerFactory, TimeProvider time, IDownstreamTransportFactory? transports = null)
    {
        Config = config;
        _options = options;
        _time = time;

        // The SDK's client and transport quote what the server sent (a whole HTTP error body) in their log lines.
        _loggerFactory = new RedactingLoggerFactory(loggerFactory);
        _logger = loggerFactory.CreateLogger("McpGateway.Downstream." + config.Name);
        _transports = transports ?? DownstreamTransportFactory.Instance;
        _calls = new DownstreamCalls(this, _logger);
        _lists = new DownstreamLists(config.Name, _logger, time);
        _subscriptions = new DownstreamSubscriptions(config.Name, _logger);
        _supervisor = new DownstreamSupervisor(config.Name, options, StartTimeout, time, ConnectAsync, _logger, redact: new ServerRedaction(config).Line)
        {
            Connected = OnConnectedAsync,
        };
        _supervisor.StatusChanged += OnStatusChanged;
        _lists.Refreshed += () => Changed?.Invoke(this);
        _subscriptions.ListenFailed += reason => Degrade("its notification stream ended: " + reason);
    }

    public ServerConfig Config { get; }

    public string Name => Config.Name;

    public DownstreamStatus Status
    {
        get
        {
            DownstreamStatus status = _supervisor.Status;
            return status.State == DownstreamState.Ready && _degraded is { } reason ? status with { State = DownstreamState.Degraded, Reason = reason } : status;
        }
    }

    /// <summary>True when the server's tools are served (ready, or degraded).</summary>
    public bool IsReady => _supervisor.Status.IsServing && _supervisor.Connection is { IsLost: false };

    /// <summary>The tools as last listed; kept while the server is down so exposed names stay stable.</summary>
    public IReadOnlyList<DownstreamTool> LastKnownTools => _lists.Tools;

    public IReadOnlyList<DownstreamItem> LastKnownPrompts => _lists.Prompts;

    public IReadOnlyList<DownstreamItem> LastKnownResources => _lists.Resources;

    public IReadOnlyList<DownstreamItem> LastKnownResourceTemplates => _lists.ResourceTemplates;

    /// <summary>How much longer the server said a list stays fresh (its 2026-07-28 <c>ttlMs</c>); null when it gave no hint.</summary>
    public long? ListFreshForMs(ListKind kind) => _lists.FreshForMs(kind);

    /// <summary>The last lines the server wrote to stderr (stdio servers), for status.</summary>
    public IReadOnlyList<string> StandardErrorTail => (_supervisor.Connection?.Raw ?? _lastProcess)?.StandardErrorTail ?? [];

    /// <summary>The last child process started, kept after it ended (or never connected) for the stderr tail of a server that failed.</summary>
    private volatile StdioProcessTransport? _lastProcess;

    /// <summary>
    /// The raw connection the forwarding fast path may use: only a ready stdio server on 2025-11-25 (a 2026-07-28
    /// server wants per-request metadata, which the SDK client adds on the full path).
    /// </summary>
    internal StdioProcessTransport? FastConnection =>
        _supervisor.Connection is { IsLost: false, IsModern: false, Raw: { ClosedReason: null } raw } && IsReady ? raw : null;

    /// <summary>The protocol revision this connection negotiated.</summary>
    public string? NegotiatedProtocolVersion => _supervisor.Connection?.ProtocolVersion;

    /// <summary>What the server said about itself when it connected.</summary>
    public Implementation? ServerInfo => _supervisor.Connection?.Client.ServerInfo;

    public ServerCapabilities? ServerCapabilities => _supervisor.Connection?.Client.ServerCapabilities;

    public TimeSpan StartTimeout => Config.StartTimeout ?? _options.DefaultStartTimeout;

    public TimeSpan CallTimeout => Config.CallTimeout ?? _options.DefaultCallTimeout;

    /// <summary>Receives what no single call can claim (log messages, resource updates).</summary>
    public IDownstreamEvents? Events { get; set; }

    /// <summary>Raised when the state or a list changes. Handlers must not block.</summary>
    public event Action<DownstreamServer>? Changed;

    /// <summary>Starts supervising; completes when the first connection attempt has succeeded or failed.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => _supervisor.StartAsync(cancellationToken);

    /// <summary>Sends <c>tools/call</c> with the given params object and returns the server's result untouched.</summary>
    public Task<JsonNode?> CallToolAsync(JsonObject parameters, TimeSpan? timeout, CancellationToken cancellationToken) =>
        SendRequestAsync(RequestMethods.ToolsCall, parameters, timeout ?? CallTimeout, cancellationToken);

    /// <summary>
    /// Sends any request raw; downstream JSON-RPC errors come back as <see cref="McpProtocolException"/> with the
    /// server's code and message. A server that is down answers at once that it is, and when it is tried again. An
    /// HTTP server that forgot the session (404) is connected to again and the request sent once more.
    /// </summary>
    public async Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, TimeSpan timeout, CancellationToken cancellationToken)
    {
        DownstreamConnection connection = _supervisor.Connection is { IsLost: false } live ? live : throw NotAvailable();
        try
        {
            return await connection.SendRequestAsync(method, parameters, timeout, cancellationToken);
        }
        catch (Exception ex) when (Config.Transport == ServerTransport.Http && !cancellationToken.IsCancellationRequested && SessionExpired(connection, ex))
        {
            LogSessionExpired(_logger, Name);
            await _supervisor.ReconnectAsync(connection, "the server forgot the session (HTTP 404)", cancellationToken);
            DownstreamConnection again = _supervisor.Connection is { IsLost: false } renewed ? renewed : throw NotAvailable();
            return await again.SendRequestAsync(method, parameters?.DeepClone(), timeout, cancellationToken);
        }
    }

    /// <summary>The error for a request to a server that is down: clear about when it is tried again.</summary>
    public McpException NotAvailable() => new(NotAvailableMessage());

    public string NotAvailableMessage()
    {
        DownstreamStatus status = _supervisor.Status;
        if (status.RetryAt is { } at && at > DateTimeOffset.MinValue)
        {
            // RetryAt is on the supervisor's clock.
            double seconds = Math.Max(0, Math.Ceiling((at - _time.GetUtcNow()).TotalSeconds));
            return $"Server '{Name}' is not available right now; retrying in {seconds.ToString(CultureInfo.InvariantCulture)} s.";
        }

        return status.State == DownstreamState.Starting
            ? $"Server '{Name}' is starting; try again in a moment."
            : $"Server '{Name}' is not available right now; try again later.";
    }

    /// <summary>Subscribes to (or unsubscribes from) a resource of this server, in whichever way its protocol revision wants.</summary>
    public Task SetSubscriptionAsync(string uri, bool subscribe, CancellationToken cancellationToken) =>
        _subscriptions.SetAsync(_supervisor.Connection is { IsLost: false } live ? live : throw NotAvailable(), uri, subscribe, CallTimeout, cancellationToken);

    /// <summary>Sets the tool list without a connection: for benchmarks and tests of the catalog at scale.</summary>
    internal void SetLastKnownTools(IReadOnlyList<DownstreamTool> tools) => _lists.SetTools(tools);

    internal void Register(DownstreamCall call) => _calls.Register(call);

    internal void Unregister(DownstreamCall call) => _calls.Unregister(call);

    /// <summary>Routes a server-to-client request to <paramref name="call"/>'s agent.</summary>
    internal Task<JsonNode?> ForwardServerRequestAsync(string method, JsonNode? parameters, DownstreamCall? call, CancellationToken cancellationToken) =>
        _calls.ForwardServerRequestAsync(method, parameters, call, cancellationToken);

    /// <summary>The server said a list changed.</summary>
    internal void RefreshLists(ListKind kind) => _lists.RefreshInBackground(_supervisor.Connection, kind);

    private Task<DownstreamConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        LogStarting(_logger, Name, Config.TransportName, Config.Transport == ServerTransport.Stdio ? Path.GetFileName(Config.Command ?? "?") : Config.Url?.Host ?? "?");
        var clientOptions = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "mcp-gateway", Version = GatewayVersion.Value },
            // The supervisor's start timeout bounds the whole start, list loading included; the SDK's own timer would
            // race it and report the same thing less clearly.
            InitializationTimeout = Timeout.InfiniteTimeSpan,

            // The server/discover probe tells a 2026-07-28 server from a 2025-11-25 one that ignores unknown methods;
            // the specification leaves its timeout to "reasonable". The SDK's 5 s mistakes a server that starts
            // slowly (a busy machine, a cold runtime) for a legacy one for the whole connection; half the start
            // budget leaves the other half for the initialize fallback.
            DiscoverProbeTimeout = StartTimeout / 2,

            // The gateway can pass sampling, elicitation and roots requests on to the agent whose call caused them,
            // so it offers them; it answers on the agent's behalf when the agent's client lacks one. These are what a
            // 2025-11-25 server is told at initialize; a 2026-07-28 server is told each agent's own, per request
            // (ModernHopMessages). No SDK handlers: the gateway takes 2025-11-25 requests raw (DownstreamCalls) and
            // resolves 2026-07-28 input_required results itself (Gateway.Forwarding), keys and requestState intact.
#pragma warning disable MCP9005 // Sampling and roots are deprecated in 2026-07-28, and still what agents of both revisions ask for.
            Capabilities = new ClientCapabilities
            {
                Sampling = new SamplingCapability(),
                Roots = new RootsCapability(),
                Elicitation = new ElicitationCapability { Form = new FormElicitationCapability(), Url = new UrlElicitationCapability() },
            },
#pragma warning restore MCP9005
        };
        return DownstreamConnection.OpenAsync(Config, _transports, _options, _calls, clientOptions, _loggerFactory, _logger, cancellationToken, process => _lastProcess = process);
    }

    private async Task OnConnectedAsync(DownstreamConnection connection, CancellationToken cancellationToken)
    {
        long started = TimeProvider.System.GetTimestamp();
        await _lists.LoadAllAsync(connection.Client, cancellationToken);
        _degraded = null;
        _subscriptions.Listen(connection);
        LogConnected(_logger, Name, _lists.Tools.Count, connection.ProtocolVersion ?? "?", TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
    }

    private void OnStatusChanged(DownstreamStatus status) => Changed?.Invoke(this);

    private void Degrade(string reason)
    {
        _degraded = reason;
        Changed?.Invoke(this);
    }

    /// <summary>
    /// True when an HTTP server answered 404 to the session: the SDK fails the request with the status (and ends the
    /// connection, which may be seen a moment later), or failed it because the connection ended so.
    /// </summary>
    private static bool SessionExpired(DownstreamConnection connection, Exception ex) =>
        ex is HttpRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } || ex.InnerException is HttpRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } ||
        (ex is McpException && connection.Completion is { IsCompletedSuccessfully: true } done && done.Result is HttpClientCompletionDetails { HttpStatusCode: System.Net.HttpStatusCode.NotFound });

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _supervisor.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' is ready with {ToolCount} tools, protocol {ProtocolVersion} ({ElapsedMs:F0} ms).")]
    private static partial void LogConnected(ILogger logger, string server, int toolCount, string protocolVersion, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' starting ({Transport}: {Program}).")]
    private static partial void LogStarting(ILogger logger, string server, string transport, string program);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' forgot the gateway's session (HTTP 404): connecting again.")]
    private static partial void LogSessionExpired(ILogger logger, string server);
}
