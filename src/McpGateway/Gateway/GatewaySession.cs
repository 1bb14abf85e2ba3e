using System.Security.Cryptography;
using System.Text;
using McpGateway.Identity;
using McpGateway.Identity.Sessions;
using ModelContextProtocol.Server;

namespace McpGateway.Gateway;

/// <summary>
/// What the gateway remembers about one agent connection: a stdio process, a stateful HTTP session, or (stateless)
/// a single request. A session binds to one agent (at creation for an authenticated caller, else to the first known
/// agent that names itself) and never changes agent afterwards; an authenticated session belongs to the credential
/// that created it.
/// </summary>
internal sealed class GatewaySession(bool stateless)
{
    private string? _boundAgent;
    private string? _sessionId;

    /// <summary>Stateless sessions last one request: they never bind and receive no notifications.</summary>
    public bool IsStateless { get; } = stateless;

    public string? BoundAgent => Volatile.Read(ref _boundAgent);

    /// <summary>The user id of the credential that created the session (see <see cref="GatewayClaims.UserId"/>); null when unauthenticated.</summary>
    public string? Owner { get; init; }

    /// <summary>The address of the client that created the session.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>What the session established, as the identity resolver reads it.</summary>
    public SessionIdentity Identity => new(BoundAgent, Owner, !IsStateless);

    /// <summary>The Mcp-Session-Id of a stateful HTTP session. A secret: never log or audit it, use <see cref="Fingerprint"/>.</summary>
    public string? SessionId
    {
        get => _sessionId;
        set
        {
            _sessionId = value;
            Fingerprint = value is null ? null : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..12];
            StateKey = value is null ? null : StateKeyOf(value);
        }
    }

    /// <summary>A short hash of the session id: the same session is recognisable in the audit and logs, and its id cannot be read back.</summary>
    public string? Fingerprint { get; private set; }

    /// <summary>
    /// Where the session's state is kept in the <see cref="ISessionStateStore"/>: another hash of the session id, longer
    /// than the fingerprint (no two sessions share it) and not the one the audit shows.
    /// </summary>
    public string? StateKey { get; private set; }

    /// <summary>The <see cref="StateKey"/> of the session with this (SDK) session id.</summary>
    public static string StateKeyOf(string sessionId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("mcp-gateway session state\n" + sessionId)))[..32];

    /// <summary>What the session's Mcp-Session-Id carries (stateful HTTP only): set when the id is issued, or read from it when the session resumes here.</summary>
    public SessionTicket? Ticket { get; set; }

    /// <summary>True for a session that started on another replica (or before a restart) and was resumed here from its id.</summary>
    public bool Resumed { get; init; }

    /// <summary>The slot this session holds under the session limits; released when the session ends.</summary>
    public IDisposable? Admission { get; set; }

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
