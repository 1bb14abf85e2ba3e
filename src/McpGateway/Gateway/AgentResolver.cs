using McpGateway.Identity;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>Who a request acts as, and binding a session to the first agent that names itself.</summary>
internal sealed partial class AgentResolver(GatewayOptions options, SessionRegistry sessions, ILogger<AgentResolver> logger)
{
    /// <summary>The request's agent, or null (with the reason) when it has none; refuses conflicting claims.</summary>
    public AgentIdentity Identify(GatewayState state, GatewaySession session, string? headerAgent, string? argumentAgent)
    {
        AgentIdentity identity = AgentIdentityResolver.Resolve(
            options,
            state.Policy,
            session.BoundAgent,
            options.AllowAgentHeader ? headerAgent : null,
            argumentAgent);
        if (identity.Error is not null && identity.Source == IdentitySource.None && (headerAgent is not null || argumentAgent is not null))
        {
            // Two different names at once, or a name that differs from the session's: refused, never guessed.
            LogIdentityRefused(logger, session.BoundAgent ?? options.FixedAgent ?? "(none)", argumentAgent ?? headerAgent ?? "(none)");
            throw new McpProtocolException(identity.Error, McpErrorCode.InvalidParams);
        }

        return identity;
    }

    /// <summary>The agent a session acts as when a request names none: fixed, bound, or the default agent.</summary>
    public string? SessionAgent(GatewayState state, GatewaySession session) =>
        options.FixedAgent ?? session.BoundAgent ?? state.Policy.DefaultAgent;

    /// <summary>A session binds to the first agent that names itself and is in the rules; its lists then change.</summary>
    public void Bind(GatewaySession session, GatewayState state, AgentIdentity identity)
    {
        if (identity.IsSelfAsserted && state.Policy.FindAgent(identity.Agent!) is not null && session.TryBind(identity.Agent!))
        {
            LogBound(logger, identity.Agent!, identity.Source);
            _ = sessions.NotifyListsChangedAsync(session);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a request from a session of agent {Bound} that named agent '{Claimed}'.")]
    private static partial void LogIdentityRefused(ILogger logger, string bound, string claimed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session bound to agent '{Agent}' (from {Source}).")]
    private static partial void LogBound(ILogger logger, string agent, IdentitySource source);
}
