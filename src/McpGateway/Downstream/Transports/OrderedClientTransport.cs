using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>Handles the messages of a downstream server that the gateway forwards itself.</summary>
internal interface IDownstreamMessageHandler
{
    /// <summary>
    /// Called for every message the server sends, in the order it sent them, before the SDK client sees it.
    /// Returns true when the gateway took the message (the SDK never sees it). Must not block.
    /// </summary>
    bool TryHandle(JsonRpcMessage message, ITransport transport);
}

/// <summary>
/// Wraps the SDK's client transport so the gateway sees a downstream server's messages in wire order. The SDK client
/// dispatches incoming messages concurrently, so a progress notification can be handled after the response that
/// followed it, and its typed handlers for server-to-client requests get neither the raw JSON nor any hint of which
/// call caused them. Reading the channel here keeps order (progress reaches the agent before the result) and keeps
/// requests raw (they are routed to the agent session whose call caused them). It is also where the 2026-07-28 hop is
/// adjusted below the SDK (<see cref="ModernHopMessages"/>): the agent's capabilities out, input_required results in.
/// </summary>
internal sealed class OrderedClientTransport(IClientTransport inner, IDownstreamMessageHandler handler) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default)
    {
        ITransport transport = await inner.ConnectAsync(cancellationToken);
        return new OrderedTransport(transport, handler);
    }

    private sealed class OrderedTransport : ITransport
    {
        private readonly ITransport _inner;
        private readonly IDownstreamMessageHandler _handler;
        private readonly Channel<JsonRpcMessage> _toSdk = Channel.CreateUnbounded<JsonRpcMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly Task _pump;

        public OrderedTransport(ITransport inner, IDownstreamMessageHandler handler)
        {
            _inner = inner;
            _handler = handler;
            _pump = Task.Run(PumpAsync);
        }

        public string? SessionId => _inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => _toSdk.Reader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            ModernHopMessages.ApplyAgentCapabilities(message);
            return _inner.SendMessageAsync(message, cancellationToken);
        }

        private async Task PumpAsync()
        {
            ChannelReader<JsonRpcMessage> reader = _inner.MessageReader;
            try
            {
                while (await reader.WaitToReadAsync())
                {
                    while (reader.TryRead(out JsonRpcMessage? message))
                    {
                        if (!RawReplyMarker.TryRun(message) && !_handler.TryHandle(message, _inner))
                        {
                            ModernHopMessages.HideInputRequired(message);
                            _toSdk.Writer.TryWrite(message);
                        }
                    }
                }

                _toSdk.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                // The SDK reads the completion exception for the reason a connection ended (exit code, stderr tail).
                _toSdk.Writer.TryComplete(ex is ChannelClosedException { InnerException: { } cause } ? cause : ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _inner.DisposeAsync();
            await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
