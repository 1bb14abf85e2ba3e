using McpGateway.Identity.Sessions;
using Microsoft.Extensions.Logging;

namespace McpGateway.Gateway;

/// <summary>
/// Keeps what a stateful HTTP session changes after it started (its log level, its subscriptions) in the
/// <see cref="ISessionStateStore"/>, under the session's <see cref="GatewaySession.StateKey"/>, for a replica that
/// resumes the session to read back. Each change is applied to the stored state rather than replacing it with this
/// replica's view, so a session that has been served by several replicas keeps all it asked for; and the end of a
/// session its client ended, so that its id resumes it nowhere. Stdio and stateless sessions have no id, and nothing
/// is kept for them. A store that fails costs the state, never the request.
/// </summary>
internal sealed partial class SessionStates(ISessionStateStore store, SessionTokens tokens, TimeProvider time, ILogger<SessionStates> logger)
{
    public bool IsShared => store.IsShared;

    /// <summary>The session set its log level.</summary>
    public ValueTask LogLevelChangedAsync(GatewaySession session, CancellationToken cancellationToken) =>
        UpdateAsync(session, state => state with { LogLevel = session.LogLevel }, cancellationToken);

    /// <summary>The session subscribed to (or unsubscribed from) a resource, by the URI it knows it by.</summary>
    public ValueTask SubscriptionChangedAsync(GatewaySession session, string uri, bool subscribed, CancellationToken cancellationToken) =>
        UpdateAsync(
            session,
            state => state with
            {
                Subscriptions = subscribed
                    ? (state.Subscriptions.Contains(uri, StringComparer.Ordinal) ? state.Subscriptions : [.. state.Subscriptions, uri])
                    : [.. state.Subscriptions.Where(s => !string.Equals(s, uri, StringComparison.Ordinal))],
            },
            cancellationToken);

    /// <summary>
    /// The client ended the session (DELETE): its id must not resume it anywhere any more. Kept as a mark in the store
    /// until the id expires; with a per-replica store, the replica that took the DELETE remembers it.
    /// </summary>
    public async ValueTask EndedAsync(SessionTicket ticket, CancellationToken cancellationToken)
    {
        TimeSpan timeToLive = tokens.ExpiresAt(ticket) - time.GetUtcNow();
        string key = EndedKey(ticket.SessionId);
        try
        {
            if (timeToLive > TimeSpan.Zero)
            {
                await store.SetAsync(key, SharedSessionState.Empty, timeToLive, cancellationToken);
            }

            await store.RemoveAsync(GatewaySession.StateKeyOf(ticket.SessionId), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(logger, "mark the end", null, ex.Message);
        }
    }

    /// <summary>True when the client ended the session with this (SDK) id: it is not resumed.</summary>
    public async ValueTask<bool> HasEndedAsync(string sessionId, CancellationToken cancellationToken)
    {
        try
        {
            return await store.GetAsync(EndedKey(sessionId), cancellationToken) is not null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(logger, "read the end", null, ex.Message);
            return false;
        }
    }

    /// <summary>What the session changed before it came to this replica; null when nothing is known.</summary>
    public async ValueTask<SharedSessionState?> LoadAsync(GatewaySession session, CancellationToken cancellationToken)
    {
        if (session.StateKey is not { } key)
        {
            return null;
        }

        try
        {
            return await store.GetAsync(key, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(logger, "read the state", session.Fingerprint, ex.Message);
            return null;
        }
    }

    private static string EndedKey(string sessionId) => GatewaySession.StateKeyOf(sessionId) + ":ended";

    private async ValueTask UpdateAsync(GatewaySession session, Func<SharedSessionState, SharedSessionState> change, CancellationToken cancellationToken)
    {
        if (session.StateKey is not { } key || session.Ticket is not { } ticket)
        {
            return;
        }

        // Nothing outlives the session id: once it expires, no replica can resume the session.
        TimeSpan timeToLive = tokens.ExpiresAt(ticket) - time.GetUtcNow();
        if (timeToLive <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            SharedSessionState current = await store.GetAsync(key, cancellationToken) ?? SharedSessionState.Empty;
            await store.SetAsync(key, change(current), timeToLive, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogStoreFailed(logger, "write the state", session.Fingerprint, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Operation} of session {Fingerprint} in the session store: {Error}. A replica that resumes the session will not know it.")]
    private static partial void LogStoreFailed(ILogger logger, string operation, string? fingerprint, string error);
}
