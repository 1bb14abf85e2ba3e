using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>Live sessions that can receive notifications (stdio and stateful HTTP).</summary>
internal sealed partial class SessionRegistry(ILogger<SessionRegistry> logger)
{
    private readonly ConcurrentDictionary<GatewaySession, byte> _sessions = new();

    public int Count => _sessions.Count;

    public void Add(GatewaySession session) => _sessions.TryAdd(session, 0);

    public void Remove(GatewaySession session) => _sessions.TryRemove(session, out _);

    /// <summary>Tells every live session that its tool list may have changed.</summary>
    public void NotifyToolsChanged()
    {
        foreach (GatewaySession session in _sessions.Keys)
        {
            _ = NotifyToolsChangedAsync(session);
        }
    }

    public async Task NotifyToolsChangedAsync(GatewaySession session)
    {
        if (session.Server is not { } server)
        {
            return;
        }

        try
        {
            await server.SendNotificationAsync(NotificationMethods.ToolListChangedNotification);
        }
        catch (Exception ex)
        {
            // A session that is closing cannot be told anything; it will re-list when it reconnects.
            LogNotifyFailed(logger, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not send tools/list_changed to a session: {Error}")]
    private static partial void LogNotifyFailed(ILogger logger, string error);
}
