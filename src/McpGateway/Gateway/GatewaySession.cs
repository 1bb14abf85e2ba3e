using ModelContextProtocol.Server;

namespace McpGateway.Gateway;

/// <summary>
/// What the gateway remembers about one agent connection: a stdio process, a stateful HTTP session, or (stateless)
/// a single request. A session binds to the first known agent that names itself and never changes agent afterwards.
/// </summary>
internal sealed class GatewaySession(bool stateless)
{
    private string? _boundAgent;

    /// <summary>Stateless sessions last one request: they never bind and receive no notifications.</summary>
    public bool IsStateless { get; } = stateless;

    public string? BoundAgent => Volatile.Read(ref _boundAgent);

    /// <summary>The Mcp-Session-Id of a stateful HTTP session.</summary>
    public string? SessionId { get; set; }

    /// <summary>The SDK server of this session, once it runs; used to send list-changed notifications.</summary>
    public McpServer? Server { get; set; }

    /// <summary>The state version whose tool list this session last saw, to skip needless list-changed notices.</summary>
    public long ListedVersion { get; set; } = -1;

    /// <summary>Set when this is a 2026-07-28 agent's <c>subscriptions/listen</c> stream rather than a connection.</summary>
    public ListenStream? Listen { get; init; }

    /// <summary>The least severe log level the agent asked for with logging/setLevel; null when it never asked.</summary>
    public string? LogLevel { get; set; }

    /// <summary>True when a <c>notifications/message</c> with these params is at or above the agent's level (or it set none).</summary>
    public bool WantsLog(System.Text.Json.Nodes.JsonNode? parameters) =>
        LogLevel is null || LogLevels.Rank(SessionUpstream.LevelOf(parameters)) >= LogLevels.Rank(LogLevel);

    /// <summary>Binds the session to <paramref name="agent"/>; true only for the call that bound it.</summary>
    public bool TryBind(string agent) =>
        !IsStateless && Interlocked.CompareExchange(ref _boundAgent, agent, null) is null;
}
