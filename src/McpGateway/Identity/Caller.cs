namespace McpGateway.Identity;

/// <summary>Where the identity of a request came from.</summary>
public enum IdentitySource
{
    /// <summary>No identity, and no default agent: the request may only use what needs none.</summary>
    None,

    /// <summary><c>serve --agent</c>: the stdio process acts as one agent.</summary>
    FixedAgent,

    /// <summary>An API key (HTTP).</summary>
    ApiKey,

    /// <summary>A JWT bearer token (HTTP).</summary>
    Jwt,

    /// <summary>The session was bound to an agent by an earlier request.</summary>
    Session,

    /// <summary>The self-asserted HTTP header.</summary>
    Header,

    /// <summary>The self-asserted tool argument.</summary>
    Argument,

    /// <summary>The configured default agent.</summary>
    DefaultAgent,
}

/// <summary>Why a request gets no identity.</summary>
public enum IdentityRefusal
{
    /// <summary>It has one.</summary>
    None,

    /// <summary>Nothing names an agent and there is no default agent: not an attack, the caller must say who it is.</summary>
    Missing,

    /// <summary>The header and the argument name different agents.</summary>
    Conflict,

    /// <summary>A self-asserted name contradicts the identity already established (credential, fixed agent or session).</summary>
    Impersonation,

    /// <summary>The session was created by another credential (or by one, and this request has none).</summary>
    NotSessionOwner,

    /// <summary>The credential is valid but maps to no agent.</summary>
    NoAgentForCredential,

    /// <summary>A self-asserted name, where the gateway accepts none (authentication is configured).</summary>
    SelfAssertedOff,
}

/// <summary>An authenticated principal on HTTP: the agent its credential maps to, and which credential it was.</summary>
/// <param name="Agent">The agent, or null when the credential maps to none.</param>
/// <param name="CredentialId">The key id, or the token's issuer and subject: safe to log and audit, never a secret.</param>
/// <param name="UserId">What a session is bound to: requests of another credential cannot use it.</param>
public sealed record AuthenticatedCaller(string? Agent, IdentitySource Source, string CredentialId, string UserId);

/// <summary>What one request says about who sends it (before the session is consulted).</summary>
public readonly record struct IdentityClaims(AuthenticatedCaller? Principal, string? HeaderAgent, string? ArgumentAgent)
{
    public static IdentityClaims None => default;

    public IdentityClaims WithArgument(string? argumentAgent) => this with { ArgumentAgent = argumentAgent };
}

/// <summary>What a session established: the agent it is bound to and the credential that owns it.</summary>
/// <param name="CanBind">False for requests served statelessly: nothing outlives them.</param>
public readonly record struct SessionIdentity(string? BoundAgent, string? Owner, bool CanBind);

/// <summary>Who a request acts as, or why it acts as nobody.</summary>
/// <param name="ClaimedAgent">The self-asserted name the request carried, if any (for the audit of refusals).</param>
/// <param name="EstablishedAgent">For an impersonation refusal: the agent the request really is.</param>
public readonly record struct Caller(
    string? Agent,
    IdentitySource Source,
    string? CredentialId = null,
    IdentityRefusal Refusal = IdentityRefusal.None,
    string? Message = null,
    bool BindsSession = false,
    string? ClaimedAgent = null,
    string? EstablishedAgent = null)
{
    public bool IsKnown => Agent is not null;

    /// <summary>True when the request was refused for what it claimed (an attempt worth auditing), not merely unnamed.</summary>
    public bool IsRefused => Refusal is not (IdentityRefusal.None or IdentityRefusal.Missing);

    /// <summary>The source as the audit log and logs name it.</summary>
    public string SourceName => Source switch
    {
        IdentitySource.FixedAgent => "stdio-agent",
        IdentitySource.ApiKey => "api-key",
        IdentitySource.Jwt => "jwt",
        IdentitySource.Session => "session",
        IdentitySource.Header => "header",
        IdentitySource.Argument => "argument",
        IdentitySource.DefaultAgent => "default-agent",
        _ => "none",
    };
}
