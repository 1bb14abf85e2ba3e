namespace McpGateway.Configuration;

/// <summary>
/// The settings file: everything that is neither a server nor a rule (how the gateway listens, who it believes,
/// authentication, limits, audit). Read through Microsoft.Extensions.Configuration from the file, then environment
/// variables (<c>MCP_GATEWAY_SECTION__KEY</c>), then the command line, each layer winning over the one before.
/// Every value has a default, so a gateway without a settings file behaves as it always did.
/// </summary>
public sealed record GatewaySettings
{
    public static GatewaySettings Default { get; } = new();

    /// <summary>The file the settings came from, or null when there was none.</summary>
    public string? SourceFile { get; init; }

    public HttpSettings Http { get; init; } = new();

    public ExposureSettings Exposure { get; init; } = new();

    public IdentitySettings Identity { get; init; } = new();

    public AuthenticationSettings Authentication { get; init; } = new();

    public LimitSettings Limits { get; init; } = new();

    public SessionSettings Sessions { get; init; } = new();

    public AuditSettings Audit { get; init; } = new();

    public LoggingSettings Logging { get; init; } = new();

    public TelemetrySettings Telemetry { get; init; } = new();

    public AdminSettings Admin { get; init; } = new();

    public HealthSettings Health { get; init; } = new();

    public RedisSettings Redis { get; init; } = new();

    public SupervisionSettings Supervision { get; init; } = new();
}

/// <summary>
/// The store that replicas share for their limits and session state: Redis, when a configuration string is given;
/// otherwise every replica counts on its own.
/// </summary>
public sealed record RedisSettings
{
    public const string DefaultKeyPrefix = "mcp-gateway:";

    /// <summary>A StackExchange.Redis configuration string (<c>host:port,password=…,ssl=true</c>). It may hold a password: never shown.</summary>
    public string? Configuration { get; init; }

    /// <summary>Put before every key the gateway writes, so that several deployments can share one Redis (and ACL key patterns can name them).</summary>
    public string KeyPrefix { get; init; } = DefaultKeyPrefix;

    public bool IsConfigured => Configuration is not null;

    // The record's generated ToString would print the configuration string, password and all.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Configuration = ").Append(Configuration is null ? "null" : "[redacted]").Append(", KeyPrefix = ").Append(KeyPrefix);
        return true;
    }
}

/// <summary>How every server that failed to start or died is reconnected (the state machine is <c>DownstreamSupervisor</c>'s).</summary>
public sealed record SupervisionSettings
{
    public static readonly TimeSpan DefaultReconnectDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultMaxReconnectDelay = TimeSpan.FromSeconds(30);
    public const int DefaultCrashLoopFailures = 5;
    public static readonly TimeSpan DefaultCrashLoopWindow = TimeSpan.FromMinutes(2);
    public static readonly TimeSpan DefaultCrashLoopRetry = TimeSpan.FromMinutes(5);

    /// <summary>The first delay before a reconnect; it doubles per failure (with jitter) up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = DefaultReconnectDelay;

    public TimeSpan MaxReconnectDelay { get; init; } = DefaultMaxReconnectDelay;

    /// <summary>This many failures within <see cref="CrashLoopWindow"/> is a crash loop: the server is retried only every <see cref="CrashLoopRetry"/>.</summary>
    public int CrashLoopFailures { get; init; } = DefaultCrashLoopFailures;

    public TimeSpan CrashLoopWindow { get; init; } = DefaultCrashLoopWindow;

    public TimeSpan CrashLoopRetry { get; init; } = DefaultCrashLoopRetry;
}

/// <summary>Who may use the operations endpoints (<c>/status</c>, <c>/admin/reload</c>, <c>/metrics</c>) once authentication is on.</summary>
public sealed record AdminSettings
{
    /// <summary>Agents whose credentials are admin credentials. Without authentication the endpoints are open (loopback, or a trusted network).</summary>
    public IReadOnlyList<string> Agents { get; init; } = [];
}

/// <summary>What <c>/readyz</c> requires.</summary>
public sealed record HealthSettings
{
    /// <summary>"required" (the servers marked <c>required</c> are ready), "all" (every enabled server is), or "any" (one is, or none is configured).</summary>
    public string ReadyWhen { get; init; } = "required";
}

/// <summary>The Streamable HTTP endpoint.</summary>
public sealed record HttpSettings
{
    public const long DefaultMaxRequestBodyBytes = 4 * 1024 * 1024;

    /// <summary><c>[ADDRESS:]PORT</c> to serve HTTP on; null serves stdio.</summary>
    public string? Listen { get; init; }

    public bool Stateless { get; init; }

    /// <summary>Browser origins accepted besides the gateway's own.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Listen beyond loopback without authentication (only on a trusted network).</summary>
    public bool AllowUnauthenticated { get; init; }

    public long MaxRequestBodyBytes { get; init; } = DefaultMaxRequestBodyBytes;
}

/// <summary>How downstream tools are shown to agents.</summary>
public sealed record ExposureSettings
{
    /// <summary>"proxy" or "discovery".</summary>
    public string Mode { get; init; } = "proxy";

    public string Separator { get; init; } = "_";
}

/// <summary>The self-asserted identity sources (a header, a tool argument) and whether they may establish who calls.</summary>
public sealed record IdentitySettings
{
    /// <summary>
    /// Whether the header or argument may say who calls when nothing else does. Null means: yes unless
    /// authentication is configured. Whatever this says, a self-asserted name that contradicts an established
    /// identity (authenticated, fixed, or the session's) is refused.
    /// </summary>
    public bool? SelfAsserted { get; init; }

    public string Header { get; init; } = "X-Agent-Id";

    public string Argument { get; init; } = "agent_id";

    /// <summary>False ignores the header altogether.</summary>
    public bool AcceptHeader { get; init; } = true;

    /// <summary>False ignores the argument altogether and forwards an argument of that name untouched.</summary>
    public bool AcceptArgument { get; init; } = true;
}

/// <summary>Who agents are on HTTP: API keys and JWT bearer tokens.</summary>
public sealed record AuthenticationSettings
{
    /// <summary>The gateway's canonical resource URL (RFC 8707): the audience tokens must name, and the PRM document's resource.</summary>
    public Uri? Resource { get; init; }

    /// <summary>The keys file (hashes only). Null when API keys are off.</summary>
    public ApiKeySettings? ApiKeys { get; init; }

    public JwtSettings? Jwt { get; init; }

    /// <summary>Listed in the protected-resource metadata; defaults to the JWT authority or issuer.</summary>
    public IReadOnlyList<Uri> AuthorizationServers { get; init; } = [];

    public bool IsConfigured => ApiKeys is not null || Jwt is not null;
}

/// <summary>API keys: where their hashes are kept.</summary>
public sealed record ApiKeySettings
{
    public const string DefaultFileName = "mcp-gateway.keys.json";

    /// <summary>Absolute path of the keys file.</summary>
    public required string File { get; init; }

    /// <summary>True when the settings named the file (a missing file is then an empty one, warned about).</summary>
    public bool Explicit { get; init; }
}

/// <summary>JWT bearer tokens from an OAuth 2.1 / OpenID Connect authorization server.</summary>
public sealed record JwtSettings
{
    /// <summary>OIDC authority: discovery document, issuer and rotating signing keys from it.</summary>
    public Uri? Authority { get; init; }

    /// <summary>The expected issuer; required without an authority.</summary>
    public string? Issuer { get; init; }

    /// <summary>Signing keys (a JWKS document) fetched from this URL, without discovery.</summary>
    public Uri? JwksUri { get; init; }

    /// <summary>Signing keys from a JWKS file, for authorization servers that cannot be reached for discovery.</summary>
    public string? JwksFile { get; init; }

    /// <summary>Accepted audiences; defaults to the resource URL.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    /// <summary>The claim that names the agent: <c>sub</c>, <c>client_id</c>, <c>azp</c> or any other.</summary>
    public string AgentClaim { get; init; } = "sub";

    /// <summary>Claim value to agent name; when set, only values in it are agents.</summary>
    public IReadOnlyDictionary<string, string>? Agents { get; init; }

    /// <summary>Scopes every token must carry (403 insufficient_scope otherwise).</summary>
    public IReadOnlyList<string> RequiredScopes { get; init; } = [];

    public bool RequireHttpsMetadata { get; init; } = true;

    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How soon signing keys are fetched again when a token names a key the gateway does not know (rotation).</summary>
    public TimeSpan KeyRefresh { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>Admission: how many sessions, how many calls.</summary>
public sealed record LimitSettings
{
    public SessionLimitSettings Sessions { get; init; } = new();

    public RateLimitSettings Rate { get; init; } = new();
}

/// <summary>Stateful HTTP sessions. A new session over a limit is refused; an existing one is never evicted to make room.</summary>
public sealed record SessionLimitSettings
{
    public int Total { get; init; } = 10_000;

    public int PerAgent { get; init; } = 1_000;

    public int PerClientAddress { get; init; } = 1_000;

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// Stateful HTTP sessions that any replica can resume: the Mcp-Session-Id a client gets is the session's state,
/// encrypted and authenticated with <see cref="Keys"/>, so every replica given the same keys can read it.
/// </summary>
public sealed record SessionSettings
{
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromHours(24);

    /// <summary>The first encrypts new session ids; every one decrypts (rotation). Empty: a key of this process alone.</summary>
    public IReadOnlyList<SessionKey> Keys { get; init; } = [];

    /// <summary>A session id older than this is refused (404, as an unknown session), on every replica alike.</summary>
    public TimeSpan MaxAge { get; init; } = DefaultMaxAge;

    public bool Equals(SessionSettings? other) => other is not null && MaxAge == other.MaxAge && Keys.SequenceEqual(other.Keys);

    public override int GetHashCode() => HashCode.Combine(MaxAge, Keys.Count);
}

/// <summary>A 256-bit session key. A secret: it never prints, and two keys compare by their bytes.</summary>
public sealed class SessionKey : IEquatable<SessionKey>
{
    public const int Length = 32;

    private readonly byte[] _bytes;

    public SessionKey(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A session key is {Length} bytes.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    internal ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Reads a key written in base64 (or base64url); null when it is not 32 bytes of it.</summary>
    public static SessionKey? Parse(string text)
    {
        string standard = text.Trim().Replace('-', '+').Replace('_', '/');
        standard = standard.PadRight(standard.Length + ((4 - (standard.Length % 4)) % 4), '=');
        Span<byte> bytes = stackalloc byte[Length + 3];
        return Convert.TryFromBase64String(standard, bytes, out int written) && written == Length ? new SessionKey(bytes[..Length]) : null;
    }

    /// <summary>A new random key, as base64.</summary>
    public static string Generate() => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(Length));

    public bool Equals(SessionKey? other) => other is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);

    public override bool Equals(object? obj) => Equals(obj as SessionKey);

    public override int GetHashCode() => 0;

    public override string ToString() => "(session key)";
}

/// <summary>Tool calls per window per agent (0: no limit), optionally per agent and per tool; and HTTP requests per window per caller.</summary>
public sealed record RateLimitSettings
{
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Calls of servers' tools (<c>tools/call</c>, or through <c>execute_tool</c>; on every path) per window for each
    /// agent; 0 is unlimited. The gateway's own list tools, lists, prompts, resources and completions do not count:
    /// <see cref="HttpRequests"/> bounds every request.
    /// </summary>
    public int Calls { get; init; }

    /// <summary>Per-agent overrides of <see cref="Calls"/>.</summary>
    public IReadOnlyDictionary<string, int> Agents { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Per-agent limits of single tools: server pattern, tool pattern, calls per window (first match wins).</summary>
    public IReadOnlyList<ToolRateLimit> Tools { get; init; } = [];

    /// <summary>HTTP requests per window for each caller (agent, or client address when unauthenticated); 0 is unlimited.</summary>
    public int HttpRequests { get; init; }

    public bool IsLimited => Calls > 0 || Agents.Count > 0 || Tools.Count > 0;
}

/// <summary>A per-tool call limit: applies to each agent separately.</summary>
public sealed record ToolRateLimit(string Server, string Tool, int Calls, string Source);

/// <summary>The audit log: one JSON line per decision and call.</summary>
public sealed record AuditSettings
{
    /// <summary>A file path, or "-" for standard output; null when auditing is off.</summary>
    public string? File { get; init; }

    public long MaxFileBytes { get; init; } = 100L * 1024 * 1024;

    public int MaxFiles { get; init; } = 5;

    /// <summary>Record the arguments of calls (with secret-looking keys redacted).</summary>
    public bool Arguments { get; init; }

    public int BufferRecords { get; init; } = 16_384;
}

/// <summary>The gateway's own log on stderr.</summary>
public sealed record LoggingSettings
{
    /// <summary>Microsoft.Extensions.Logging level name (trace, debug, information, warning, error, critical, none).</summary>
    public string Level { get; init; } = "information";

    /// <summary>"text" (one line per message) or "json" (one JSON object per line, for log shippers).</summary>
    public string Format { get; init; } = "text";
}

/// <summary>OpenTelemetry: the Prometheus endpoint and OTLP export (configured by the standard <c>OTEL_*</c> variables).</summary>
public sealed record TelemetrySettings
{
    /// <summary>Record metrics: served at <c>/metrics</c> over HTTP, and exported by OTLP when an endpoint is set.</summary>
    public bool Metrics { get; init; } = true;

    /// <summary>Record traces and export them by OTLP. Null means: when an OTLP endpoint is set.</summary>
    public bool? Traces { get; init; }
}
