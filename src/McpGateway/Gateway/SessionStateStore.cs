namespace McpGateway.Gateway;

/// <summary>
/// What a stateful session changes after it started (the log level it asked for, the resources it subscribed to,
/// under the URIs it knows them by), kept where another replica can find it when the session moves there.
/// </summary>
/// <param name="LogLevel">The least severe log level the agent set with logging/setLevel; null when it never set one.</param>
/// <param name="Subscriptions">The gateway URIs of the resources the session subscribed to.</param>
internal sealed record SharedSessionState(string? LogLevel, IReadOnlyList<string> Subscriptions)
{
    public static SharedSessionState Empty { get; } = new(null, []);
}

/// <summary>
/// Where the mutable state of stateful sessions is kept between requests. Per replica by default
/// (<see cref="InMemorySessionStateStore"/>); shared through Redis when one is configured, so a session resumed on
/// another replica keeps its log level and subscriptions. Keys are session fingerprints, never session ids.
/// </summary>
internal interface ISessionStateStore
{
    /// <summary>True when every replica sees the same state (a shared store), false when it is this replica's own.</summary>
    bool IsShared { get; }

    ValueTask<SharedSessionState?> GetAsync(string sessionKey, CancellationToken cancellationToken);

    /// <summary>Stores the state; it expires <paramref name="timeToLive"/> after the last write (an abandoned session leaves nothing behind).</summary>
    ValueTask SetAsync(string sessionKey, SharedSessionState state, TimeSpan timeToLive, CancellationToken cancellationToken);

    ValueTask RemoveAsync(string sessionKey, CancellationToken cancellationToken);
}

/// <summary>This replica's own session state: what a single gateway needs, and what a session leaves behind when it moves.</summary>
internal sealed class InMemorySessionStateStore(TimeProvider time) : ISessionStateStore
{
    private const int PruneEvery = 1024;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (SharedSessionState State, DateTimeOffset Expires)> _states = new();
    private long _writes;

    public bool IsShared => false;

    public ValueTask<SharedSessionState?> GetAsync(string sessionKey, CancellationToken cancellationToken)
    {
        if (_states.TryGetValue(sessionKey, out var entry))
        {
            if (entry.Expires > time.GetUtcNow())
            {
                return ValueTask.FromResult<SharedSessionState?>(entry.State);
            }

            _states.TryRemove(KeyValuePair.Create(sessionKey, entry));
        }

        return ValueTask.FromResult<SharedSessionState?>(null);
    }

    public ValueTask SetAsync(string sessionKey, SharedSessionState state, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        _states[sessionKey] = (state, now + timeToLive);

        // Abandoned sessions are never read again: now and then, what has expired goes.
        if (Interlocked.Increment(ref _writes) % PruneEvery == 0)
        {
            foreach (KeyValuePair<string, (SharedSessionState State, DateTimeOffset Expires)> entry in _states)
            {
                if (entry.Value.Expires <= now)
                {
                    _states.TryRemove(entry);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveAsync(string sessionKey, CancellationToken cancellationToken)
    {
        _states.TryRemove(sessionKey, out _);
        return ValueTask.CompletedTask;
    }
}
