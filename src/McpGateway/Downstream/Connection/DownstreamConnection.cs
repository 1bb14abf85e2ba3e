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
/// One live connection to a downstream server: the transport, the SDK client over it, what the two negotiated, and
/// the raw stdio connection the fast path uses. Requests are sent raw (JSON in, JSON out) so nothing the server sends
/// is lost to the SDK's typed models. When the connection is lost, every request in flight on it fails at once with
/// the reason, and any request sent afterwards fails before it is sent: nobody waits for a timeout on a dead server.
/// </summary>
internal sealed partial class DownstreamConnection : IAsyncDisposable
{
    private readonly CancellationTokenSource _lost = new();
    private readonly ILogger _logger;
    private string? _lostReason;
    private int _disposed;

    private DownstreamConnection(string name, McpClient client, StdioProcessTransport? raw, ILogger logger, string transport)
    {
        Name = name;
        Client = client;
        Raw = raw;
        _logger = logger;
        Transport = transport;
    }

    public string Name { get; }

    public McpClient Client { get; }

    /// <summary>The raw stdio connection (fast path), when the server runs as a child process.</summary>
    public StdioProcessTransport? Raw { get; }

    public string? ProtocolVersion => Client.NegotiatedProtocolVersion;

    /// <summary>How the server is reached, as telemetry names it (<c>network.transport</c>).</summary>
    public string Transport { get; }

    /// <summary>True when the server speaks 2026-07-28 or later (per-request metadata, multi round-trip, subscriptions/listen).</summary>
    public bool IsModern => ProtocolVersions.IsJuly2026OrLater(Client.NegotiatedProtocolVersion);

    public bool IsLost => _lost.IsCancellationRequested;

    /// <summary>Why the connection was lost, once it is.</summary>
    public string? LostReason => IsLost ? Volatile.Read(ref _lostReason) : null;

    /// <summary>Cancelled when the connection is lost.</summary>
    public CancellationToken LostToken => _lost.Token;

    /// <summary>Completes when the SDK client's connection ends, with what it knows of why.</summary>
    public Task<ClientCompletionDetails> Completion => Client.Completion;

    /// <summary>
    /// Connects: creates the transport, then the SDK client. The SDK first probes with 2026-07-28's
    /// <c>server/discover</c>; some servers answer methods they do not know with an empty result instead of an error,
    /// which fails the probe rather than falling back, so such a failure is retried with the 2025-11-25 handshake.
    /// </summary>
    /// <param name="processStarted">Told of each child process started, whether or not the connection opens: a server
    /// that fails to start often says why on stderr.</param>
    public static async Task<DownstreamConnection> OpenAsync(
        ServerConfig config,
        IDownstreamTransportFactory factory,
        DownstreamOptions options,
        IDownstreamMessageHandler handler,
        McpClientOptions clientOptions,
        ILoggerFactory loggerFactory,
        ILogger logger,
        CancellationToken cancellationToken,
        Action<StdioProcessTransport>? processStarted = null)
    {
        string? version = config.Transport == ServerTransport.Sse ? ProtocolVersions.Legacy : null;
        try
        {
            return await CreateAsync(version, cancellationToken);
        }
        catch (Exception ex) when (version is null && IsProtocolNegotiationFailure(ex) && !cancellationToken.IsCancellationRequested)
        {
            LogLegacyFallback(logger, config.Name, AuditRedaction.Excerpt(ex.Message));
            return await CreateAsync(ProtocolVersions.Legacy, cancellationToken);
        }

        async Task<DownstreamConnection> CreateAsync(string? protocolVersion, CancellationToken ct)
        {
            IClientTransport inner = factory.Create(config, options, loggerFactory);
            var transport = new OrderedClientTransport(inner, handler);
            clientOptions.ProtocolVersion = protocolVersion;
            try
            {
                McpClient client = await McpClient.CreateAsync(transport, clientOptions, loggerFactory, ct);
                string transportKind = config.Transport == ServerTransport.Stdio ? GatewayTelemetry.Transports.Pipe : GatewayTelemetry.Transports.Tcp;
                return new DownstreamConnection(config.Name, client, (inner as StdioProcessClientTransport)?.Connection, logger, transportKind);
            }
            finally
            {
                if ((inner as StdioProcessClientTransport)?.Connection is { } process)
                {
                    processStarted?.Invoke(process);
                }
            }
        }
    }

    /// <summary>
    /// Sends any request raw; downstream JSON-RPC errors come back as <see cref="McpProtocolException"/> with the server's
    /// code and message. A request forwarded for an agent (a <see cref="DownstreamCall"/> is in flight on this flow)
    /// carries that agent's capabilities to a 2026-07-28 server, and an <c>input_required</c> result comes back as the
    /// server sent it, for the caller to resolve or relay (<see cref="ModernHopMessages"/>). <paramref name="parameters"/>
    /// must be this request's own: the CLIENT span's trace context is written into their <c>_meta</c>.
    /// </summary>
    public async Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_lost.IsCancellationRequested)
        {
            throw Lost();
        }

        ClientOperation? telemetry = GatewayTelemetry.StartClient(method, GatewayTelemetry.TargetOf(method, parameters), Name, Transport, ProtocolVersion);
        telemetry?.InjectInto(parameters);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lost.Token);
        linked.CancelAfter(timeout);
        try
        {
            var request = new JsonRpcRequest { Method = method, Params = parameters };
            if (DownstreamCall.Current is { } call)
            {
                ModernHopMessages.ForAgent(request, call.Upstream.ClientCapabilities, call.Upstream.LogLevel);
            }

            JsonRpcResponse response = await Client.SendRequestAsync(request, linked.Token);
            ModernHopMessages.RestoreInputRequired(response.Result);
            telemetry?.Succeeded(response.Result);
            return response.Result;
        }
        catch (McpProtocolException ex)
        {
            telemetry?.Errored((int)ex.ErrorCode);
            throw DownstreamErrors.Relay(ex);
        }
        catch (HttpRequestException ex) when (JsonRpcErrorIn(ex) is { } error)
        {
            // A 2026-07-28 server answers some errors with an HTTP status (400 for -32021, -32022, -32020; 404 for
            // -32601) and the JSON-RPC error in an SSE event, which the SDK client (2.4.0) reads only as JSON: the
            // error is the server's, with its code and data, not a broken connection.
            throw error;
        }
        catch (OperationCanceledException) when (_lost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            telemetry?.Failed(GatewayTelemetry.ErrorTypes.ConnectionClosed);
            throw Lost();
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            telemetry?.Failed(GatewayTelemetry.ErrorTypes.Timeout);
            throw new McpProtocolException(
                $"The request to server '{Name}' timed out after {timeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms.",
                (McpErrorCode)DownstreamErrors.RequestTimeoutErrorCode);
        }
        catch (Exception ex) when (ex is OversizedReplyException || ex.InnerException is OversizedReplyException)
        {
            telemetry?.Failed(GatewayTelemetry.ErrorTypes.ReplyTooLarge);
            throw new McpException((ex as OversizedReplyException ?? ex.InnerException!).Message);
        }
        catch (HttpRequestException ex) when (ex.StatusCode != System.Net.HttpStatusCode.NotFound && !cancellationToken.IsCancellationRequested)
        {
            // An HTTP server that answered an error status or could not be reached: a clear error naming it, not the
            // agent's SDK's "An error occurred". (404, an expired session, is the server's to handle: it reconnects.)
            LogCallFailed(_logger, Name, method, AuditRedaction.Excerpt(ex.Message));
            throw new McpException($"Server '{Name}' failed the request: {AuditRedaction.Excerpt(ex.Message)}");
        }
        // A cancellation that is neither the caller's nor the timeout is the client cancelling its pending requests
        // because the connection closed (the server died mid-call): the same failure as a transport error.
        catch (Exception ex) when (ex is IOException or ClientTransportClosedException or ObjectDisposedException or InvalidOperationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // The same words whichever notices first, the SDK failing its pending requests or the supervisor losing the connection.
            telemetry?.Failed(GatewayTelemetry.ErrorTypes.ConnectionClosed);
            LogCallFailed(_logger, Name, method, AuditRedaction.Excerpt(ex.Message));
            Interlocked.CompareExchange(ref _lostReason, Cause(ex), null);
            throw Lost();
        }
        finally
        {
            // Anything not recorded above: the caller cancelled (or an unexpected failure, which is counted the same way).
            telemetry?.Failed(cancellationToken.IsCancellationRequested ? GatewayTelemetry.ErrorTypes.Cancelled : GatewayTelemetry.Other);
        }
    }

    /// <summary>The JSON-RPC error in the body the SDK put in an HTTP error's message ("Response body: ..."), or null.</summary>
    private static McpProtocolException? JsonRpcErrorIn(HttpRequestException ex)
    {
        int body = ex.Message.IndexOf("Response body:", StringComparison.Ordinal);
        if (ex.StatusCode is null || body < 0)
        {
            return null;
        }

        foreach (string line in ex.Message[(body + "Response body:".Length)..].Split('\n'))
        {
            string json = line.Trim() is var trimmed && trimmed.StartsWith("data:", StringComparison.Ordinal) ? trimmed["data:".Length..] : trimmed;
            try
            {
                if (JsonNode.Parse(json)?["error"] is JsonObject { } error && error["code"] is JsonValue code && code.TryGetValue(out int number))
                {
                    var relayed = new McpProtocolException(error["message"]?.GetValue<string>() ?? "The server refused the request.", (McpErrorCode)number);
                    if (error["data"] is JsonObject data)
                    {
                        foreach ((string key, JsonNode? value) in data)
                        {
                            relayed.Data[key] = value is null ? null : System.Text.Json.JsonSerializer.SerializeToElement(value, GatewayJsonContext.Default.JsonNode);
                        }
                    }

                    return relayed;
                }
            }
            catch (System.Text.Json.JsonException)
            {
                // Not this line.
            }
        }

        return null;
    }

    /// <summary>Marks the connection lost: every request in flight on it, SDK path and fast path, fails now.</summary>
    public void Lose(string reason)
    {
        Interlocked.CompareExchange(ref _lostReason, reason, null);
        try
        {
            _lost.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private McpException Lost() => new($"Server '{Name}' stopped during the request ({_lostReason ?? "the connection was lost"}).");

    /// <summary>Why the transport failed, in the words the supervisor uses.</summary>
    private static string? Cause(Exception ex) => ex switch
    {
        ClientTransportClosedException { Details: { } details } => Describe(details),
        IOException io when io.InnerException is null && io.Message.StartsWith("the ", StringComparison.Ordinal) => io.Message,
        _ when ex.InnerException is { } inner => Cause(inner),
        _ => null,
    };

    /// <summary>Why a connection ended, as logs, errors and <c>/status</c> say it.</summary>
    public static string Describe(ClientCompletionDetails details) => details switch
    {
        StdioClientCompletionDetails { ExitCode: int code } => $"the process exited with code {code}",
        StdioClientCompletionDetails => "the process exited",
        HttpClientCompletionDetails { HttpStatusCode: { } status } => $"the connection closed (HTTP {(int)status})",
        { Exception: { } ex } => $"the connection closed: {ex.Message}",
        _ => "the connection closed",
    };

    /// <summary>A failure of the protocol exchange itself (not of starting or reaching the server), worth a retry with 2025-11-25.</summary>
    private static bool IsProtocolNegotiationFailure(Exception ex)
    {
        Exception cause = ex;
        while (cause.InnerException is { } inner)
        {
            cause = inner;
        }

        return cause is System.Text.Json.JsonException or McpException && cause is not McpProtocolException { ErrorCode: not McpErrorCode.InternalError };
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Lose("the connection was closed");
        try
        {
            await Client.DisposeAsync();
        }
        catch
        {
            // Shutting down a broken connection can fail in many ways; none of them matter here.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Server '{Server}' failed the 2026-07-28 probe ({Error}); connecting with 2025-11-25.")]
    private static partial void LogLegacyFallback(ILogger logger, string server, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': '{Method}' failed: {Error}")]
    private static partial void LogCallFailed(ILogger logger, string server, string method, string error);
}
