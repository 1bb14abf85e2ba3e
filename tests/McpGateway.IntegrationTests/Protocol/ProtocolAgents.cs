using System.IO.Pipelines;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using McpGateway.Gateway;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>How a test agent reaches the gateway, and which protocol era it speaks.</summary>
public enum AgentLink
{
    /// <summary>2025-11-25 over stdio (in-memory pipes, the stdio serving path).</summary>
    Stdio,

    /// <summary>2025-11-25 over Streamable HTTP: initialize handshake, a stateful session.</summary>
    Http,

    /// <summary>2026-07-28 over Streamable HTTP: no handshake, every request served statelessly.</summary>
    Http2026,

    /// <summary>2026-07-28 over stdio (in-memory pipes, the stdio serving path): no handshake, capabilities per request.</summary>
    Stdio2026,
}

/// <summary>A test agent on the gateway: its client, and every message the gateway sent it, in the order it arrived.</summary>
internal sealed class Agent(McpClient client, WireLog wire, AgentLink link)
{
    public McpClient Client { get; } = client;

    public WireLog Wire { get; } = wire;

    public AgentLink Link { get; } = link;

    /// <summary>True when the agent speaks 2026-07-28.</summary>
    public bool IsModern => Link is AgentLink.Http2026 or AgentLink.Stdio2026;

    /// <summary>Sends a raw request and returns the raw result (typed SDK models drop fields and throw on annotations).</summary>
    public async Task<JsonObject> RequestAsync(string method, JsonObject? parameters, CancellationToken cancellationToken) =>
        (JsonObject)(await SendAsync(method, parameters, cancellationToken)).Result!;

    /// <summary>Sends a raw request and returns the response, whose id finds it in <see cref="Wire"/>.</summary>
    public Task<JsonRpcResponse> SendAsync(string method, JsonObject? parameters, CancellationToken cancellationToken) =>
        Client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, cancellationToken);

    /// <summary>The JSON-RPC error a raw request gets; fails the test when it succeeds.</summary>
    public async Task<McpProtocolException> ErrorAsync(string method, JsonObject? parameters, CancellationToken cancellationToken)
    {
        try
        {
            JsonObject result = await RequestAsync(method, parameters, cancellationToken);
            Assert.Fail($"{method} succeeded, an error was expected: {result.ToJsonString()}");
            return null!;
        }
        catch (McpProtocolException ex)
        {
            return ex;
        }
    }

    public async Task<JsonObject> CallAsync(string tool, JsonObject? arguments, CancellationToken cancellationToken, JsonObject? meta = null) =>
        (JsonObject)(await CallWithResponseAsync(tool, arguments, cancellationToken, meta)).Result!;

    public Task<JsonRpcResponse> CallWithResponseAsync(string tool, JsonObject? arguments, CancellationToken cancellationToken, JsonObject? meta = null)
    {
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments ?? [] };
        if (meta is not null)
        {
            parameters["_meta"] = meta;
        }

        return SendAsync(RequestMethods.ToolsCall, parameters, cancellationToken);
    }
}

/// <summary>
/// Connects test agents to an in-process gateway in either era and over either transport, each with a
/// <see cref="WireLog"/>. The SDK client hands every incoming message to the thread pool, so its notification handlers
/// can run after the response that followed them on the wire: only the transport sees the order the gateway sent.
/// </summary>
internal sealed class ProtocolAgents(InProcessGateway gateway) : IAsyncDisposable
{
    public const string Modern = "2026-07-28";
    public const string Legacy = "2025-11-25";

    private readonly List<McpClient> _clients = [];
    private readonly List<Task> _stdioSessions = [];
    private readonly CancellationTokenSource _stopping = new();

    public InProcessGateway Gateway { get; } = gateway;

    public static TheoryData<AgentLink> AllLinks() => [AgentLink.Stdio, AgentLink.Http, AgentLink.Http2026, AgentLink.Stdio2026];

    /// <summary>The links with a session, which can receive notifications and requests outside a call.</summary>
    public static TheoryData<AgentLink> SessionLinks() => [AgentLink.Stdio, AgentLink.Http];

    /// <param name="agent">HTTP: the agent named in the X-Agent-Id header. Stdio agents act as the rules' default agent.</param>
    public async Task<Agent> ConnectAsync(AgentLink link, string? agent = null, McpClientHandlers? handlers = null, CancellationToken cancellationToken = default)
    {
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "protocol-test", Version = "1.0" },
            ProtocolVersion = link is AgentLink.Http2026 or AgentLink.Stdio2026 ? Modern : Legacy,
        }.Patient();
        if (handlers is not null)
        {
            options.Handlers = handlers;
        }

        IClientTransport inner = link is AgentLink.Stdio or AgentLink.Stdio2026
            ? StartStdioSession()
            : new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = Gateway.Endpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = agent is null ? null : new Dictionary<string, string> { ["X-Agent-Id"] = agent },
            });
        var wire = new WireLog();
        McpClient client = await McpClient.CreateAsync(new RecordingClientTransport(inner, wire), options, cancellationToken: cancellationToken);
        lock (_clients)
        {
            _clients.Add(client);
        }

        return new Agent(client, wire, link);
    }

    /// <summary>One stdio session: the production stdio session (<see cref="StdioSession"/>) over pipes instead of stdin and stdout.</summary>
    private StreamClientTransport StartStdioSession()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        lock (_clients)
        {
            _stdioSessions.Add(Task.Run(() => StdioSession.RunAsync(Gateway.Services, toServer.Reader.AsStream(), toClient.Writer.AsStream(), new GatewaySession(stateless: false), _stopping.Token)));
        }

        return new StreamClientTransport(toServer.Writer.AsStream(), toClient.Reader.AsStream());
    }

    public async ValueTask DisposeAsync()
    {
        McpClient[] clients;
        lock (_clients)
        {
            clients = [.. _clients];
        }

        foreach (McpClient client in clients)
        {
            try
            {
                await client.DisposeAsync();
            }
            catch
            {
                // A client whose server went away first may fail to close; irrelevant to the tests.
            }
        }

        // The SDK's stream client transport does not close the stream it writes to: stdio sessions end by cancellation.
        await _stopping.CancelAsync();
        await Task.WhenAll(_stdioSessions).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stopping.Dispose();
    }
}

/// <summary>
/// Every message a client received, in arrival order, with waits on what arrives (no sleeping: a wait completes when
/// the messages recorded so far satisfy it, or fails after the hang guard).
/// </summary>
internal sealed class WireLog
{

    private readonly List<JsonRpcMessage> _messages = [];
    private readonly List<(Func<List<JsonRpcMessage>, bool> Done, TaskCompletionSource Signal)> _waiters = [];

    public IReadOnlyList<JsonRpcMessage> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_messages)
            {
                return _messages.Count;
            }
        }
    }

    public void Record(JsonRpcMessage message)
    {
        lock (_messages)
        {
            _messages.Add(message);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Done(_messages))
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>The notifications of <paramref name="method"/> received so far (from position <paramref name="from"/>), as their params.</summary>
    public List<JsonObject> Notifications(string method, int from = 0) =>
        [.. Messages.Skip(from).OfType<JsonRpcNotification>().Where(n => n.Method == method).Select(n => (n.Params as JsonObject) ?? [])];

    /// <summary>Waits until the messages received so far satisfy <paramref name="done"/>.</summary>
    public async Task UntilAsync(Func<IReadOnlyList<JsonRpcMessage>, bool> done, string what, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_messages)
        {
            if (done(_messages))
            {
                return;
            }

            _waiters.Add((done, signal));
        }

        try
        {
            await signal.Task.WaitAsync(timeout ?? Patience.HangGuard, cancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{Patience.Message(what)} Received: {string.Join(" | ", Messages.Select(Describe))}");
        }
        finally
        {
            lock (_messages)
            {
                _waiters.RemoveAll(w => w.Signal == signal);
            }
        }
    }

    /// <summary>Waits for a notification of <paramref name="method"/> at or after position <paramref name="from"/> whose params match; returns them.</summary>
    public async Task<JsonObject> WaitForNotificationAsync(string method, Func<JsonObject, bool> match, string what, CancellationToken cancellationToken, int from = 0, TimeSpan? timeout = null)
    {
        await UntilAsync(messages => Find(messages) is not null, what, cancellationToken, timeout);
        return Find(Messages)!;

        JsonObject? Find(IReadOnlyList<JsonRpcMessage> messages) => messages.Skip(from)
            .OfType<JsonRpcNotification>()
            .Where(n => n.Method == method)
            .Select(n => (n.Params as JsonObject) ?? [])
            .FirstOrDefault(match);
    }

    /// <summary>Waits until at least <paramref name="count"/> notifications of <paramref name="method"/> arrived from position <paramref name="from"/>.</summary>
    public Task WaitForNotificationCountAsync(string method, int count, string what, CancellationToken cancellationToken, int from = 0, TimeSpan? timeout = null) =>
        UntilAsync(messages => messages.Skip(from).OfType<JsonRpcNotification>().Count(n => n.Method == method) >= count, what, cancellationToken, timeout);

    /// <summary>The position of the response (or error) to the request with <paramref name="id"/> in arrival order, or -1.</summary>
    public int IndexOfResponse(RequestId id)
    {
        IReadOnlyList<JsonRpcMessage> messages = Messages;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is JsonRpcResponse or JsonRpcError && ((JsonRpcMessageWithId)messages[i]).Id.Equals(id))
            {
                return i;
            }
        }

        return -1;
    }

    public static string Describe(JsonRpcMessage message) => message switch
    {
        JsonRpcNotification n => $"{n.Method} {n.Params?.ToJsonString()}",
        JsonRpcRequest r => $"request {r.Method} #{r.Id}",
        JsonRpcResponse r => $"response #{r.Id}",
        JsonRpcError e => $"error #{e.Id} {e.Error.Message}",
        _ => message.GetType().Name,
    };
}

/// <summary>Wraps a client transport so that a <see cref="WireLog"/> sees every incoming message before the SDK client does.</summary>
internal sealed class RecordingClientTransport(IClientTransport inner, WireLog wire) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
        new RecordingTransport(await inner.ConnectAsync(cancellationToken), wire);

    private sealed class RecordingTransport : ITransport
    {
        private readonly ITransport _inner;
        private readonly WireLog _wire;
        private readonly Channel<JsonRpcMessage> _toClient = Channel.CreateUnbounded<JsonRpcMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly Task _pump;

        public RecordingTransport(ITransport inner, WireLog wire)
        {
            _inner = inner;
            _wire = wire;
            _pump = Task.Run(PumpAsync);
        }

        public string? SessionId => _inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => _toClient.Reader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) => _inner.SendMessageAsync(message, cancellationToken);

        private async Task PumpAsync()
        {
            try
            {
                await foreach (JsonRpcMessage message in _inner.MessageReader.ReadAllAsync())
                {
                    _wire.Record(message);
                    _toClient.Writer.TryWrite(message);
                }

                _toClient.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _toClient.Writer.TryComplete(ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _inner.DisposeAsync();
            await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
