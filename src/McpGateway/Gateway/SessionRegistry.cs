using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>Live sessions that can receive notifications (stdio and stateful HTTP).</summary>
internal sealed partial class SessionRegistry(ILogger<SessionRegistry> logger)
{
    private static readonly string[] s_listChanged =
    [
        NotificationMethods.ToolListChangedNotification,
        NotificationMethods.PromptListChangedNotification,
        NotificationMethods.ResourceListChangedNotification,
    ];

    private readonly ConcurrentDictionary<GatewaySession, byte> _sessions = new();
    private readonly ConcurrentDictionary<string, GatewaySession> _byId = new(StringComparer.Ordinal);

    public int Count => _sessions.Count;

    public ICollection<GatewaySession> Sessions => _sessions.Keys;

    /// <summary>Raised when a session ends, so what it held (subscriptions) can be released.</summary>
    public event Action<GatewaySession>? SessionEnded;

    public void Add(GatewaySession session)
    {
        _sessions.TryAdd(session, 0);
        if (session.SessionId is { } id)
        {
            _byId[id] = session;
        }
    }

    /// <summary>The live stateful HTTP session with this Mcp-Session-Id.</summary>
    public GatewaySession? Find(string sessionId) => _byId.GetValueOrDefault(sessionId);

    public void Remove(GatewaySession session)
    {
        if (session.SessionId is { } id)
        {
            _byId.TryRemove(id, out _);
        }

        if (_sessions.TryRemove(session, out _))
        {
            SessionEnded?.Invoke(session);
        }
    }

    /// <summary>Tells every live session that its tools, prompts and resources may have changed.</summary>
    public void NotifyListsChanged()
    {
        foreach (GatewaySession session in _sessions.Keys)
        {
            _ = NotifyListsChangedAsync(session);
        }
    }

    public async Task NotifyListsChangedAsync(GatewaySession session)
    {
        foreach (string method in s_listChanged)
        {
            await NotifyAsync(session, method, null);
        }
    }

    /// <summary>Sends a notification to a session's client; a session that is closing is skipped.</summary>
    public async Task NotifyAsync(GatewaySession session, string method, System.Text.Json.Nodes.JsonNode? parameters)
    {
        if (session.Server is not { } server)
        {
            return;
        }

        var notification = new JsonRpcNotification { Method = method, Params = parameters };
        if (session.Listen is { } listen)
        {
            if (!listen.Grants(method))
            {
                return;
            }

            // The stream's server is the one bound to the listen request, so this goes on that request's stream.
            notification.Params = listen.Tag(parameters);
        }
        else if (ProtocolEras.IsJuly2026OrLater(server.NegotiatedProtocolVersion))
        {
            // A 2026-07-28 client receives only what it asked for on a subscriptions/listen stream (or during its own request).
            return;
        }

        try
        {
            await server.SendMessageAsync(notification);
        }
        catch (Exception ex)
        {
            // A session that is closing cannot be told anything; it will re-list when it reconnects.
            LogNotifyFailed(logger, method, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not send {Method} to a session: {Error}")]
    private static partial void LogNotifyFailed(ILogger logger, string method, string error);
}
