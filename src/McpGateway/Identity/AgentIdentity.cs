using McpGateway.Gateway;
using McpGateway.Policy;

namespace McpGateway.Identity;

/// <summary>Where the identity of a request came from.</summary>
public enum IdentitySource
{
    /// <summary>No identity, and no default agent: the request may only use what needs none.</summary>
    None,

    /// <summary><c>serve --agent</c>: the process acts as one agent.</summary>
    FixedAgent,

    /// <summary>The session was bound to an agent by an earlier request.</summary>
    Session,

    /// <summary>The self-asserted HTTP header.</summary>
    Header,

    /// <summary>The self-asserted tool argument.</summary>
    Argument,

    /// <summary>The configured default agent.</summary>
    DefaultAgent,
}

/// <summary>The agent a request acts as, or why it has none.</summary>
public readonly record struct AgentIdentity(string? Agent, IdentitySource Source, string? Error = null)
{
    public bool IsKnown => Agent is not null;

    /// <summary>True when the caller named itself in this request (header or argument): such a name may bind the session.</summary>
    public bool IsSelfAsserted => Source is IdentitySource.Header or IdentitySource.Argument;
}

/// <summary>
/// Decides who a request acts as. Order: the fixed agent of a stdio process; the agent the session is bound to;
/// the header or argument of this request; the default agent. A request that names a different agent than the one
/// it is bound to, or that names two different agents at once, is refused.
/// </summary>
public static class AgentIdentityResolver
{
    public static AgentIdentity Resolve(GatewayOptions options, PolicySnapshot policy, string? boundAgent, string? headerAgent, string? argumentAgent)
    {
        string? claimed = null;
        IdentitySource claimedSource = IdentitySource.None;
        if (!string.IsNullOrEmpty(headerAgent))
        {
            (claimed, claimedSource) = (headerAgent, IdentitySource.Header);
        }

        if (!string.IsNullOrEmpty(argumentAgent))
        {
            if (claimed is not null && !string.Equals(claimed, argumentAgent, StringComparison.Ordinal))
            {
                return Refused($"The {options.AgentHeader} header and the '{options.AgentArgument}' argument name different agents.");
            }

            claimed ??= argumentAgent;
            if (claimedSource == IdentitySource.None)
            {
                claimedSource = IdentitySource.Argument;
            }
        }

        string? established = options.FixedAgent ?? boundAgent;
        if (established is not null)
        {
            if (claimed is not null && !string.Equals(claimed, established, StringComparison.Ordinal))
            {
                return Refused($"This session acts as agent '{established}' and cannot act as another agent.");
            }

            return new AgentIdentity(established, options.FixedAgent is not null ? IdentitySource.FixedAgent : IdentitySource.Session);
        }

        if (claimed is not null)
        {
            return new AgentIdentity(claimed, claimedSource);
        }

        return policy.DefaultAgent is { } defaultAgent
            ? new AgentIdentity(defaultAgent, IdentitySource.DefaultAgent)
            : new AgentIdentity(null, IdentitySource.None, MissingIdentityMessage(options));
    }

    public static string MissingIdentityMessage(GatewayOptions options)
    {
        string how = (options.AllowAgentArgument, options.AllowAgentHeader) switch
        {
            (true, true) => $"pass the '{options.AgentArgument}' argument with your agent name (or send the {options.AgentHeader} header)",
            (true, false) => $"pass the '{options.AgentArgument}' argument with your agent name",
            (false, true) => $"send the {options.AgentHeader} header with your agent name",
            _ => "connect with an identity the gateway is configured to accept",
        };
        return $"No agent identity: {how}. This gateway has no default agent.";
    }

    private static AgentIdentity Refused(string message) => new(null, IdentitySource.None, message);
}
