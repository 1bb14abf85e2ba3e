using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// <c>logging/setLevel</c>: the session's level decides which log messages reach it. Each server the agent may use is
/// asked for the most verbose level any session that may use it wants, since one connection serves them all.
/// Also delivers log messages that no single call can claim to the sessions that asked for them. A session's level is
/// kept with its state (<see cref="SessionStates"/>), for a replica that resumes it.
/// </summary>
internal sealed partial class LoggingRequestHandler(
    GatewayStateProvider stateProvider,
    AgentResolver agents,
    SessionRegistry sessions,
    SessionStates states,
    ILogger<LoggingRequestHandler> logger)
{
    public async Task<JsonNode?> SetLevelAsync(GatewayRequest request, CancellationToken cancellationToken)
    {
        string? level = SessionUpstream.LevelOf(request.Params);
        if (!LogLevels.IsLevel(level))
        {
            throw new McpProtocolException("logging/setLevel needs a 'level': debug, info, notice, warning, error, critical, alert or emergency.", McpErrorCode.InvalidParams);
        }

        request.Session.LogLevel = level;
        GatewayState state = stateProvider.Current;
        Caller caller = agents.Identify(state, request);
        request.Audit.Caller = caller;
        await Task.WhenAll(AskServersAsync(state, request.Session, caller.Agent, cancellationToken), states.LogLevelChangedAsync(request.Session, cancellationToken).AsTask());
        return new JsonObject();
    }

    /// <summary>A session resumed on this replica with the level it set elsewhere: the servers it may use are asked for it, as if it had just set it.</summary>
    public Task RestoreAsync(GatewaySession session, string level, CancellationToken cancellationToken)
    {
        session.LogLevel = level;
        GatewayState state = stateProvider.Current;
        return AskServersAsync(state, session, agents.SessionAgent(state, session), cancellationToken);
    }

    /// <summary>Asks each server <paramref name="agent"/> may use for the most verbose level any session that may use it wants.</summary>
    private Task AskServersAsync(GatewayState state, GatewaySession session, string? agent, CancellationToken cancellationToken)
    {
        var updates = new List<Task>();
        foreach (DownstreamServer server in state.Servers.Values)
        {
            // A 2026-07-28 server has no logging/setLevel: it is told the level with each forwarded request.
            if (server.IsReady && server.ServerCapabilities?.Logging is not null && !ProtocolEras.IsJuly2026OrLater(server.NegotiatedProtocolVersion) && state.MayUse(agent, server))
            {
                string wanted = session.LogLevel!;
                foreach (GatewaySession other in sessions.Sessions)
                {
                    if (other.LogLevel is { } otherLevel && state.MayUse(agents.SessionAgent(state, other), server))
                    {
                        wanted = LogLevels.MoreVerbose(wanted, otherLevel)!;
                    }
                }

                updates.Add(SetServerLevelAsync(server, wanted, cancellationToken));
            }
        }

        return Task.WhenAll(updates);
    }

    /// <summary>A log message of <paramref name="server"/> no call in flight claims: to every session that asked for logs and may use the server.</summary>
    public void Broadcast(DownstreamServer server, JsonObject parameters)
    {
        GatewayState state = stateProvider.Current;
        foreach (GatewaySession session in sessions.Sessions)
        {
            if (session.LogLevel is not null && session.WantsLog(parameters) && state.MayUse(agents.SessionAgent(state, session), server))
            {
                _ = sessions.NotifyAsync(session, NotificationMethods.LoggingMessageNotification, parameters.DeepClone());
            }
        }
    }

    /// <summary>True when a session other than <paramref name="session"/> asked for logs and may use <paramref name="server"/>.</summary>
    public bool OthersAskedForLogs(DownstreamServer server, object session)
    {
        GatewayState state = stateProvider.Current;
        foreach (GatewaySession other in sessions.Sessions)
        {
            if (!ReferenceEquals(other, session) && other.LogLevel is not null && state.MayUse(agents.SessionAgent(state, other), server))
            {
                return true;
            }
        }

        return false;
    }

    private async Task SetServerLevelAsync(DownstreamServer server, string level, CancellationToken cancellationToken)
    {
        try
        {
            await server.SendRequestAsync(RequestMethods.LoggingSetLevel, new JsonObject { ["level"] = level }, server.CallTimeout, cancellationToken);
        }
        catch (McpException ex)
        {
            // A server that cannot change its level still works; the session's own level filters what reaches it.
            LogSetLevelFailed(logger, server.Name, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Server '{Server}' did not take the log level: {Error}")]
    private static partial void LogSetLevelFailed(ILogger logger, string server, string error);
}
