using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using System.Threading.Channels;
using McpGateway.Configuration;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Tests.Downstream;

/// <summary>What one connection attempt to an in-memory server meets.</summary>
internal enum Attempt
{
    /// <summary>A server that answers (an SDK server over pipes).</summary>
    Serve,

    /// <summary>The transport cannot connect at all (a command that is not there, a refused port).</summary>
    Refuse,

    /// <summary>A transport that connects to nobody: the handshake is never answered.</summary>
    Hang,
}

/// <summary>
/// The gateway's transport factory, running downstream servers in memory: every connection attempt gets what the test
/// planned (<see cref="Then"/>, else <see cref="Default"/>): a fresh SDK server over System.IO.Pipelines pipes, a
/// refusal, or silence. The test can then make the server answer, hang or die (<see cref="InMemoryServer.Die"/>).
/// </summary>
internal sealed class InMemoryDownstream : IDownstreamTransportFactory, IAsyncDisposable
{
    private readonly ConcurrentQueue<Attempt> _plan = new();
    private readonly Channel<InMemoryServer> _served = Channel.CreateUnbounded<InMemoryServer>();
    private readonly ConcurrentQueue<IAsyncDisposable> _owned = new();
    private readonly ConcurrentDictionary<string, int> _attemptsByServer = new(StringComparer.Ordinal);
    private int _attempts;

    public static ServerConfig Config(string name = "mem") => new() { Name = name, Transport = ServerTransport.Stdio, Command = "in-memory" };

    /// <summary>What attempts meet once the planned ones are used up.</summary>
    public Attempt Default { get; set; } = Attempt.Serve;

    /// <summary>What the servers' <c>work</c> tool does; by default it answers at once with the text "done".</summary>
    public Func<InMemoryServer, CallToolRequestParams, CancellationToken, ValueTask<CallToolResult>> Work { get; set; } =
        (_, _, _) => ValueTask.FromResult(new CallToolResult { Content = [new TextContentBlock { Text = "done" }] });

    /// <summary>How many connection attempts the gateway has made.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>How many connection attempts the gateway has made to the server of this name.</summary>
    public int AttemptsFor(string server) => _attemptsByServer.GetValueOrDefault(server);

    /// <summary>Plans the next attempts, in order.</summary>
    public void Then(params Attempt[] attempts)
    {
        foreach (Attempt attempt in attempts)
        {
            _plan.Enqueue(attempt);
        }
    }

    /// <summary>The next server an attempt was served by (already made, or still to come).</summary>
    public ValueTask<InMemoryServer> NextServerAsync(CancellationToken cancellationToken) => _served.Reader.ReadAsync(cancellationToken);

    public IClientTransport Create(ServerConfig config, DownstreamOptions options, ILoggerFactory loggerFactory)
    {
        Interlocked.Increment(ref _attempts);
        _attemptsByServer.AddOrUpdate(config.Name, 1, (_, n) => n + 1);
        switch (_plan.TryDequeue(out Attempt planned) ? planned : Default)
        {
            case Attempt.Refuse:
                return new RefusingTransport(config.Name);
            case Attempt.Hang:
                var toNobody = new Pipe();
                var fromNobody = new Pipe();
                return new StreamClientTransport(toNobody.Writer.AsStream(), fromNobody.Reader.AsStream(), NullLoggerFactory.Instance);
            default:
                var server = new InMemoryServer(config.Name, Work);
                _owned.Enqueue(server);
                _served.Writer.TryWrite(server);
                return server.ClientTransport;
        }
    }

    /// <summary>Opens a connection the way the gateway's server does, for tests of the supervisor on its own.</summary>
    public Task<DownstreamConnection> ConnectAsync(ServerConfig config, CancellationToken cancellationToken) =>
        DownstreamConnection.OpenAsync(
            config,
            this,
            new DownstreamOptions(),
            NoMessages.Instance,
            new McpClientOptions { InitializationTimeout = Timeout.InfiniteTimeSpan },
            NullLoggerFactory.Instance,
            NullLogger.Instance,
            cancellationToken);

    public async ValueTask DisposeAsync()
    {
        while (_owned.TryDequeue(out IAsyncDisposable? owned))
        {
            await owned.DisposeAsync();
        }
    }

    private sealed class RefusingTransport(string name) : IClientTransport
    {
        public string Name => name;

        public Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
            Task.FromException<ITransport>(new IOException("connection refused"));
    }

    /// <summary>Takes none of a server's messages: the SDK client handles them all.</summary>
    private sealed class NoMessages : IDownstreamMessageHandler
    {
        public static NoMessages Instance { get; } = new();

        public bool TryHandle(JsonRpcMessage message, ITransport transport) => false;
    }
}

/// <summary>
/// One downstream server in memory: an SDK <see cref="McpServer"/> with one tool, <c>work</c>, over a pair of pipes.
/// <see cref="Die"/> ends both pipes, as the death of a process ends its stdio.
/// </summary>
internal sealed class InMemoryServer : IAsyncDisposable
{
    private static readonly JsonElement s_objectSchema = JsonDocument.Parse("""{"type": "object"}""").RootElement.Clone();

    // No back-pressure: a gateway writing to a server that died must not block on a pipe nobody reads.
    private static readonly PipeOptions s_unbounded = new(pauseWriterThreshold: 0);

    private readonly Pipe _toServer = new(s_unbounded);
    private readonly Pipe _toClient = new(s_unbounded);
    private readonly McpServer _server;
    private readonly Task _running;
    private readonly Channel<CallToolRequestParams> _calls = Channel.CreateUnbounded<CallToolRequestParams>();
    private readonly TaskCompletionSource _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _callCount;
    private Task? _stopped;

    public InMemoryServer(string name, Func<InMemoryServer, CallToolRequestParams, CancellationToken, ValueTask<CallToolResult>> work)
    {
        Name = name;
        var options = new McpServerOptions
        {
            ServerInfo = new Implementation { Name = name, Version = "1.0" },
            Capabilities = new ServerCapabilities { Tools = new ToolsCapability() },
            Handlers = new McpServerHandlers
            {
                ListToolsHandler = (_, _) => ValueTask.FromResult(new ListToolsResult { Tools = [new Tool { Name = "work", InputSchema = s_objectSchema }] }),
                CallToolHandler = async (request, cancellationToken) =>
                {
                    Interlocked.Increment(ref _callCount);
                    _calls.Writer.TryWrite(request.Params!);
                    return await work(this, request.Params!, cancellationToken);
                },
            },
        };
        _server = McpServer.Create(new StreamServerTransport(_toServer.Reader.AsStream(), _toClient.Writer.AsStream(), name, NullLoggerFactory.Instance), options, NullLoggerFactory.Instance);
        _running = _server.RunAsync();
        ClientTransport = new ClosingTransport(new StreamClientTransport(_toServer.Writer.AsStream(), _toClient.Reader.AsStream(), NullLoggerFactory.Instance), this);
    }

    /// <summary>The name of the configured server this one was started for.</summary>
    public string Name { get; }

    /// <summary>The gateway's side of the pipes.</summary>
    public IClientTransport ClientTransport { get; }

    /// <summary>How many <c>tools/call</c> requests reached this server.</summary>
    public int Calls => Volatile.Read(ref _callCount);

    /// <summary>The next <c>tools/call</c> that reached the server (already, or still to come).</summary>
    public ValueTask<CallToolRequestParams> NextCallAsync(CancellationToken cancellationToken) => _calls.Reader.ReadAsync(cancellationToken);

    /// <summary>Completes when the gateway starts closing its side of the connection.</summary>
    public Task Closing => _closing.Task;

    /// <summary>
    /// Makes the gateway's closing of this connection take until the returned action is called, as closing a real one
    /// may (a process given its stop grace, an HTTP server slow to end the session).
    /// </summary>
    public Action HoldClose()
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _held = held;
        return () => held.TrySetResult();
    }

    private TaskCompletionSource? _held;

    /// <summary>The server dies: its output ends at once (what the gateway sees of a process that exits), and it stops.</summary>
    public void Die()
    {
        _toClient.Writer.Complete();
        lock (_calls)
        {
            _stopped ??= StopAsync();
        }
    }

    private async Task StopAsync()
    {
        await _server.DisposeAsync();
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        Die();
        await _stopped!.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>The gateway's side of the pipes, telling the server when the gateway closes it (and holding that when asked).</summary>
    private sealed class ClosingTransport(IClientTransport inner, InMemoryServer server) : IClientTransport
    {
        public string Name => inner.Name;

        public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) => new Session(await inner.ConnectAsync(cancellationToken), server);

        private sealed class Session(ITransport inner, InMemoryServer server) : ITransport
        {
            public string? SessionId => inner.SessionId;

            public ChannelReader<JsonRpcMessage> MessageReader => inner.MessageReader;

            public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) => inner.SendMessageAsync(message, cancellationToken);

            public async ValueTask DisposeAsync()
            {
                server._closing.TrySetResult();
                if (server._held is { } held)
                {
                    await held.Task;
                }

                await inner.DisposeAsync();
            }
        }
    }
}
