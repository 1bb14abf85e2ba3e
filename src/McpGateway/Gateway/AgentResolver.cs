using McpGateway.Identity;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>
/// The gateway's side of identity: asks the one <see cref="CallerResolver"/> who a request acts as, turns a refusal
/// into the protocol error the agent gets (after auditing it: a refused claim is an impersonation attempt), and binds
/// a session to the first agent that names itself.
/// </summary>
internal sealed partial class AgentResolver(CallerResolver resolver, SessionRegistry sessions, ILogger<AgentResolver> logger)
{
    public CallerResolver Resolver => resolver;

    /// <summary>The request's caller (with no agent and a message when it gave none); throws when the request's claims are refused.</summary>
    public Caller Identify(GatewayState state, GatewayRequest request, string? argumentAgent = null)
    {
        Caller caller = Resolve(state, request, argumentAgent);
        if (caller.IsRefused)
        {
            throw Refusal(caller);
        }

        return caller;
    }

    /// <summary>Like <see cref="Identify"/>, but a refusal is returned (and marked for the request's audit record) for the caller to answer in its own way.</summary>
    public Caller Resolve(GatewayState state, GatewayRequest request, string? argumentAgent = null)
    {
        Caller caller = resolver.Resolve(request.Claims.WithArgument(argumentAgent), request.Session.Identity, state.Policy);
        if (caller.IsRefused)
        {
            request.Audit.Caller = caller;
            request.Audit.Deny("refused", caller.Refusal + ": " + caller.Message + (caller.ClaimedAgent is { } claimed ? $" (claimed '{claimed}')" : string.Empty));
            LogIdentityRefused(logger, caller.EstablishedAgent ?? caller.CredentialId ?? "(none)", caller.ClaimedAgent ?? "(none)", caller.Refusal);
        }

        return caller;
    }

    /// <summary>The protocol error for a refused identity.</summary>
    public static McpProtocolException Refusal(in Caller caller) =>
        new(caller.Message!, caller.Refusal == IdentityRefusal.NotSessionOwner ? McpErrorCode.InvalidRequest : McpErrorCode.InvalidParams);

    /// <summary>The agent a session acts as when a request names none: fixed, bound, or the default agent.</summary>
    public string? SessionAgent(GatewayState state, GatewaySession session) =>
        resolver.Resolve(IdentityClaims.None, session.Identity with { Owner = null }, state.Policy).Agent;

    /// <summary>A session binds to the first agent that names itself and is in the rules; its lists then change.</summary>
    public void Bind(GatewaySession session, in Caller caller)
    {
        if (caller.BindsSession && session.TryBind(caller.Agent!))
        {
            LogBound(logger, caller.Agent!, caller.Source);
            _ = sessions.NotifyListsChangedAsync(session);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a request of '{Established}' that named agent '{Claimed}': {Refusal}.")]
    private static partial void LogIdentityRefused(ILogger logger, string established, string claimed, IdentityRefusal refusal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session bound to agent '{Agent}' (from {Source}).")]
    private static partial void LogBound(ILogger logger, string agent, IdentitySource source);
}
