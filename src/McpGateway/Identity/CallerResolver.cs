using McpGateway.Policy;

namespace McpGateway.Identity;

/// <summary>The identity sources a gateway accepts, from the settings and the command line.</summary>
public sealed record IdentityOptions
{
    /// <summary>The agent a stdio gateway process acts as (<c>serve --agent</c>); nothing can override it.</summary>
    public string? FixedAgent { get; init; }

    public string HeaderName { get; init; } = "X-Agent-Id";

    public string ArgumentName { get; init; } = "agent_id";

    /// <summary>Read the header at all.</summary>
    public bool AcceptHeader { get; init; } = true;

    /// <summary>Read (and strip) the argument at all.</summary>
    public bool AcceptArgument { get; init; } = true;

    /// <summary>
    /// Whether a self-asserted name may establish who calls when nothing else does. Off once authentication is
    /// configured (unless the operator turns it on): then a name may only repeat the authenticated agent.
    /// </summary>
    public bool SelfAssertedEstablishes { get; init; } = true;
}

/// <summary>
/// Decides who a request acts as: the one place every path asks (SDK handlers, the fast path, stdio, multi
/// round-trip retries, the gateway's own tools, session admission). Order: the fixed agent of a stdio process; the
/// authenticated principal; the agent the session is bound to; a self-asserted header or argument, when it may
/// establish identity; the default agent. A self-asserted name may only repeat an established identity, never change
/// it; a session is used only by the credential that created it.
/// </summary>
public sealed class CallerResolver(IdentityOptions options)
{
    public IdentityOptions Options { get; } = options;

    public Caller Resolve(in IdentityClaims claims, in SessionIdentity session, PolicySnapshot policy)
    {
        string? header = Options.AcceptHeader ? Nonempty(claims.HeaderAgent) : null;
        string? argument = Options.AcceptArgument ? Nonempty(claims.ArgumentAgent) : null;
        if (header is not null && argument is not null && !string.Equals(header, argument, StringComparison.Ordinal))
        {
            return Refuse(IdentityRefusal.Conflict, $"The {Options.HeaderName} header and the '{Options.ArgumentName}' argument name different agents.", argument);
        }

        string? claimed = header ?? argument;
        IdentitySource claimedSource = header is not null ? IdentitySource.Header : IdentitySource.Argument;

        AuthenticatedCaller? principal = claims.Principal;
        if (session.Owner is { } owner && !string.Equals(owner, principal?.UserId, StringComparison.Ordinal))
        {
            return Refuse(IdentityRefusal.NotSessionOwner, "This session belongs to another credential.", claimed);
        }

        if (Options.FixedAgent is { } fixedAgent)
        {
            return Established(fixedAgent, IdentitySource.FixedAgent, null, claimed, "This gateway process");
        }

        if (principal is not null)
        {
            return principal.Agent is { } agent
                ? Established(agent, principal.Source, principal.CredentialId, claimed, "This credential")
                : Refuse(IdentityRefusal.NoAgentForCredential, "The credential is valid but names no agent of this gateway.", claimed) with { CredentialId = principal.CredentialId, Source = principal.Source };
        }

        if (session.BoundAgent is { } bound)
        {
            return Established(bound, IdentitySource.Session, null, claimed, "This session");
        }

        if (claimed is not null)
        {
            if (!Options.SelfAssertedEstablishes)
            {
                return Refuse(IdentityRefusal.SelfAssertedOff, $"This gateway does not accept self-asserted identity (the {Options.HeaderName} header or the '{Options.ArgumentName}' argument): connect with an API key or a token.", claimed);
            }

            bool binds = session.CanBind && policy.FindAgent(claimed) is not null;
            return new Caller(claimed, claimedSource, BindsSession: binds, ClaimedAgent: claimed);
        }

        return policy.DefaultAgent is { } defaultAgent
            ? new Caller(defaultAgent, IdentitySource.DefaultAgent)
            : new Caller(null, IdentitySource.None, Refusal: IdentityRefusal.Missing, Message: MissingIdentityMessage());
    }

    /// <summary>What to tell a caller that named no agent, on a gateway without a default agent.</summary>
    public string MissingIdentityMessage()
    {
        bool argument = Options.AcceptArgument && Options.SelfAssertedEstablishes;
        bool header = Options.AcceptHeader && Options.SelfAssertedEstablishes;
        string how = (argument, header) switch
        {
            (true, true) => $"pass the '{Options.ArgumentName}' argument with your agent name (or send the {Options.HeaderName} header)",
            (true, false) => $"pass the '{Options.ArgumentName}' argument with your agent name",
            (false, true) => $"send the {Options.HeaderName} header with your agent name",
            _ => "connect with an identity the gateway is configured to accept",
        };
        return $"No agent identity: {how}. This gateway has no default agent.";
    }

    private static Caller Established(string agent, IdentitySource source, string? credential, string? claimed, string what) =>
        claimed is null || string.Equals(claimed, agent, StringComparison.Ordinal)
            ? new Caller(agent, source, credential, ClaimedAgent: claimed)
            : new Caller(null, source, credential, IdentityRefusal.Impersonation, $"{what} acts as agent '{agent}' and cannot act as agent '{claimed}'.", ClaimedAgent: claimed, EstablishedAgent: agent);

    private static Caller Refuse(IdentityRefusal refusal, string message, string? claimed) =>
        new(null, IdentitySource.None, Refusal: refusal, Message: message, ClaimedAgent: claimed);

    private static string? Nonempty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
