using System.Threading.Channels;
using McpGateway.Downstream;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// The wrapper that shows the gateway a server's messages in wire order, over a transport the test writes to message
/// by message: the gateway's handler is offered each message first, the SDK gets the rest in order, actions carried by
/// markers run in their place, and the end of the connection reaches the SDK with its cause.
/// </summary>
public sealed class OrderedClientTransportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Messages_AreOfferedToTheGatewayInWireOrder_AndTheRestReachTheSdkInOrder()
    {
        var server = new ScriptedTransport();
        var handler = new TakingHandler("notifications/taken");
        ITransport transport = await new OrderedClientTransport(new ScriptedClientTransport(server), handler).ConnectAsync(Ct);

        server.Write(Notification("notifications/taken"), new JsonRpcResponse { Id = new RequestId(1), Result = null }, Notification("notifications/taken"), Notification("notifications/other"));
        server.Complete();
        List<JsonRpcMessage> toSdk = await ReadAllAsync(transport);

        Assert.Equal(["notifications/taken", "1", "notifications/taken", "notifications/other"], handler.Offered);
        Assert.Equal(["1", "notifications/other"], toSdk.Select(Describe));
        await transport.DisposeAsync();
    }

    [Fact]
    public async Task Marker_RunsItsActionAfterEveryMessageBeforeIt_AndNeverReachesTheSdk()
    {
        var server = new ScriptedTransport();
        var handler = new TakingHandler("none");
        ITransport transport = await new OrderedClientTransport(new ScriptedClientTransport(server), handler).ConnectAsync(Ct);

        server.Write(Notification("notifications/first"), Notification("notifications/second"));
        server.Write(RawReplyMarker.Create(() => handler.Note("the marker's action")));
        server.Write(Notification("notifications/third"));
        server.Complete();
        List<JsonRpcMessage> toSdk = await ReadAllAsync(transport);

        Assert.Equal(["notifications/first", "notifications/second", "the marker's action", "notifications/third"], handler.Offered);
        Assert.Equal(["notifications/first", "notifications/second", "notifications/third"], toSdk.Select(Describe));
        await transport.DisposeAsync();
    }

    [Fact]
    public async Task ConnectionThatEndsWithAnError_EndsTheSdksChannelWithThatError()
    {
        var server = new ScriptedTransport();
        ITransport transport = await new OrderedClientTransport(new ScriptedClientTransport(server), new TakingHandler("none")).ConnectAsync(Ct);
        var closed = new ClientTransportClosedException(new StdioClientCompletionDetails { ExitCode = 3 });

        server.Complete(closed);
        ClientTransportClosedException error = await Assert.ThrowsAsync<ClientTransportClosedException>(() => ReadAllAsync(transport));

        Assert.Same(closed, error);
        await transport.DisposeAsync();
    }

    [Fact]
    public async Task Send_GoesToTheServer()
    {
        var server = new ScriptedTransport();
        ITransport transport = await new OrderedClientTransport(new ScriptedClientTransport(server), new TakingHandler("none")).ConnectAsync(Ct);

        await transport.SendMessageAsync(Notification("notifications/initialized"), Ct);

        Assert.Equal(["notifications/initialized"], server.Sent.Select(Describe));
        await transport.DisposeAsync();
        Assert.True(server.Disposed);
    }

    private static JsonRpcNotification Notification(string method) => new() { Method = method };

    private static string Describe(JsonRpcMessage message) => message switch
    {
        JsonRpcNotification notification => notification.Method,
        JsonRpcMessageWithId withId => withId.Id.ToString(),
        _ => "?",
    };

    private static async Task<List<JsonRpcMessage>> ReadAllAsync(ITransport transport)
    {
        var messages = new List<JsonRpcMessage>();
        await foreach (JsonRpcMessage message in transport.MessageReader.ReadAllAsync(Ct))
        {
            messages.Add(message);
        }

        return messages;
    }

    /// <summary>Takes the notifications with one method; records everything it was offered, in order.</summary>
    private sealed class TakingHandler(string method) : IDownstreamMessageHandler
    {
        private readonly List<string> _offered = [];

        public IReadOnlyList<string> Offered
        {
            get
            {
                lock (_offered)
                {
                    return [.. _offered];
                }
            }
        }

        public bool TryHandle(JsonRpcMessage message, ITransport transport)
        {
            Note(Describe(message));
            return message is JsonRpcNotification notification && notification.Method == method;
        }

        public void Note(string what)
        {
            lock (_offered)
            {
                _offered.Add(what);
            }
        }
    }

    private sealed class ScriptedClientTransport(ITransport transport) : IClientTransport
    {
        public string Name => "scripted";

        public Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) => Task.FromResult(transport);
    }

    /// <summary>A server's side the test writes to message by message, and ends when it likes.</summary>
    private sealed class ScriptedTransport : ITransport
    {
        private readonly Channel<JsonRpcMessage> _incoming = Channel.CreateUnbounded<JsonRpcMessage>();
        private readonly List<JsonRpcMessage> _sent = [];

        public string? SessionId => null;

        public ChannelReader<JsonRpcMessage> MessageReader => _incoming.Reader;

        public IReadOnlyList<JsonRpcMessage> Sent
        {
            get
            {
                lock (_sent)
                {
                    return [.. _sent];
                }
            }
        }

        public bool Disposed { get; private set; }

        public void Write(params JsonRpcMessage[] messages)
        {
            foreach (JsonRpcMessage message in messages)
            {
                _incoming.Writer.TryWrite(message);
            }
        }

        public void Complete(Exception? error = null) => _incoming.Writer.TryComplete(error);

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            lock (_sent)
            {
                _sent.Add(message);
            }

            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            _incoming.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }
}
