using System.Collections.Concurrent;
using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// Wraps a test client's transport and counts, per request id, the responses that arrived on the wire: what the SDK
/// client does with a second response to the same id (drops it) would otherwise hide it from the test.
/// </summary>
internal sealed class ChaosWire(IClientTransport inner) : IClientTransport
{
    private readonly ConcurrentDictionary<string, int> _responses = new(StringComparer.Ordinal);

    public string Name => inner.Name;

    private int _calls;

    /// <summary>How many <c>tools/call</c> requests were sent.</summary>
    public int CallsSent => Volatile.Read(ref _calls);

    /// <summary>Request ids whose count of responses is not exactly one, with the count.</summary>
    public IReadOnlyList<string> NotAnsweredOnce => [.. _responses.Where(r => r.Value != 1).Select(r => $"{r.Key}×{r.Value}")];

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
        new Counting(await inner.ConnectAsync(cancellationToken), this);

    private void OnSent(JsonRpcMessage message)
    {
        if (message is JsonRpcRequest request)
        {
            if (request.Method == RequestMethods.ToolsCall)
            {
                Interlocked.Increment(ref _calls);
            }

            _responses.TryAdd(request.Id.ToString(), 0);
        }
    }

    private void OnReceived(JsonRpcMessage message)
    {
        RequestId? id = message switch
        {
            JsonRpcResponse response => response.Id,
            JsonRpcError error => error.Id,
            _ => null,
        };
        if (id is { } answered)
        {
            // A response to an id never sent counts too (as a first response to nothing, which is not once).
            _responses.AddOrUpdate(answered.ToString(), -1, (_, count) => count + 1);
        }
    }

    private sealed class Counting : ITransport
    {
        private readonly ITransport _inner;
        private readonly ChaosWire _owner;
        private readonly Channel<JsonRpcMessage> _received = Channel.CreateUnbounded<JsonRpcMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly Task _pump;

        public Counting(ITransport inner, ChaosWire owner)
        {
            _inner = inner;
            _owner = owner;
            _pump = Task.Run(PumpAsync);
        }

        public string? SessionId => _inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader => _received.Reader;

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            _owner.OnSent(message);
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
                        _owner.OnReceived(message);
                        _received.Writer.TryWrite(message);
                    }
                }

                _received.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _received.Writer.TryComplete(ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _inner.DisposeAsync();
            await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
