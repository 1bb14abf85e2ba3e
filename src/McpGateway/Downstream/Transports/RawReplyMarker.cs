using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// A message that never goes on the wire: it carries an action through a transport's message channel so that the
/// action runs after every message read before it. <see cref="OrderedClientTransport"/> runs it instead of
/// passing it to the SDK.
/// </summary>
internal static class RawReplyMarker
{
    public const string Method = "notifications/mcp-gateway/raw-reply";
    private const string ActionKey = "mcp-gateway.action";

    public static JsonRpcNotification Create(Action action) => new()
    {
        Method = Method,
        Context = new JsonRpcMessageContext { Items = new Dictionary<string, object?> { [ActionKey] = action } },
    };

    /// <summary>Runs the marker's action when <paramref name="message"/> is a marker; returns whether it was.</summary>
    public static bool TryRun(JsonRpcMessage message)
    {
        if (message is not JsonRpcNotification { Method: Method } notification ||
            notification.Context?.Items?.TryGetValue(ActionKey, out object? value) != true || value is not Action action)
        {
            return false;
        }

        action();
        return true;
    }
}
