using Microsoft.Extensions.Logging;

namespace McpGateway.Gateway;

/// <summary>
/// Brings back, on the replica that resumes a session, what the session changed after it started: its log level
/// (the servers are asked for it again) and its subscriptions (made again here). Runs before the session takes its
/// first message, so the request that resumed it is already served with them. Only a shared session store has
/// them; with this replica's own store, a session that moved here starts without them.
/// </summary>
internal sealed partial class SessionResumption(SessionStates states, LoggingRequestHandler logging, ResourcesRequestHandler resources, ILogger<SessionResumption> logger)
{
    public async Task RestoreAsync(GatewaySession session, CancellationToken cancellationToken)
    {
        SharedSessionState? state = await states.LoadAsync(session, cancellationToken);
        LogResumed(logger, session.Fingerprint, session.BoundAgent ?? "(not bound yet)", state is not null);
        if (state is null)
        {
            return;
        }

        try
        {
            if (LogLevels.IsLevel(state.LogLevel))
            {
                await logging.RestoreAsync(session, state.LogLevel!, cancellationToken);
            }

            if (state.Subscriptions.Count > 0)
            {
                await resources.RestoreAsync(session, state.Subscriptions, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRestoreFailed(logger, session.Fingerprint, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Resumed session {Fingerprint} of agent {Agent} on this replica (state found: {StateFound}).")]
    private static partial void LogResumed(ILogger logger, string? fingerprint, string agent, bool stateFound);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resumed session {Fingerprint} without all of its state: {Error}")]
    private static partial void LogRestoreFailed(ILogger logger, string? fingerprint, string error);
}
