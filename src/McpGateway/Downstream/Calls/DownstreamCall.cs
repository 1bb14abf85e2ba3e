using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// One request the gateway forwarded that is in flight on a downstream server: who sent it, and the progress token the
/// gateway gave it downstream (agents choose their tokens freely, so two agents' tokens can be equal). Progress for it
/// is sent to the agent in the order the server sent it, and <see cref="FlushAsync"/> lets the final result wait for
/// progress that arrived before it.
/// </summary>
internal sealed class DownstreamCall : IDisposable
{
    private static long s_nextToken;
    private static readonly AsyncLocal<DownstreamCall?> s_current = new();

    private readonly DownstreamServer _server;
    private readonly object _sendLock = new();
    private Task _lastSend = Task.CompletedTask;
    private readonly DownstreamCall? _outer;

    public DownstreamCall(DownstreamServer server, IUpstream upstream, JsonNode? upstreamProgressToken)
    {
        _server = server;
        Upstream = upstream;
        UpstreamProgressToken = upstreamProgressToken?.DeepClone();
        Id = Interlocked.Increment(ref s_nextToken);
        if (upstreamProgressToken is not null)
        {
            GatewayProgressToken = "mcp-gateway-" + Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        _outer = s_current.Value;
        s_current.Value = this;
        server.Register(this);
    }

    /// <summary>The call whose async flow this is: the SDK resolves 2026-07-28 input requests inline, in the caller's flow.</summary>
    public static DownstreamCall? Current => s_current.Value;

    public long Id { get; }

    public IUpstream Upstream { get; }

    public JsonNode? UpstreamProgressToken { get; }

    public string? GatewayProgressToken { get; }

    /// <summary>Queues a progress notification for the agent, after every earlier one of this call.</summary>
    public void EnqueueProgress(JsonObject parameters)
    {
        parameters["progressToken"] = UpstreamProgressToken?.DeepClone();
        lock (_sendLock)
        {
            _lastSend = SendAfterAsync(_lastSend, NotificationMethods.ProgressNotification, parameters);
        }
    }

    /// <summary>Queues any notification for the agent in order with this call's progress.</summary>
    public void EnqueueNotification(string method, JsonObject parameters)
    {
        lock (_sendLock)
        {
            _lastSend = SendAfterAsync(_lastSend, method, parameters);
        }
    }

    /// <summary>Completes when every notification queued so far has been handed to the agent's transport.</summary>
    public Task FlushAsync()
    {
        lock (_sendLock)
        {
            return _lastSend;
        }
    }

    private async Task SendAfterAsync(Task previous, string method, JsonObject parameters)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await Upstream.SendNotificationAsync(method, parameters, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The agent went away; the call's own result will fail to reach it too.
        }
    }

    /// <summary>Rewrites the request's <c>_meta.progressToken</c> to the gateway's token for this call.</summary>
    public void ApplyProgressToken(JsonObject parameters)
    {
        if (GatewayProgressToken is not null && parameters["_meta"] is JsonObject meta)
        {
            meta["progressToken"] = GatewayProgressToken;
        }
    }

    public static JsonNode? ReadProgressToken(JsonObject parameters) =>
        parameters["_meta"] is JsonObject meta && meta["progressToken"] is JsonValue token &&
        token.GetValueKind() is JsonValueKind.String or JsonValueKind.Number ? token : null;

    public void Dispose()
    {
        _server.Unregister(this);
        s_current.Value = _outer;
    }
}
