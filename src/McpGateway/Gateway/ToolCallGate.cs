using McpGateway.Downstream;
using McpGateway.Identity;
using McpGateway.Policy;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>What the gateway does with one tool call.</summary>
internal enum ToolCallVerdict
{
    /// <summary>Forward it.</summary>
    Allowed,

    /// <summary>The caller named no agent and there is no default agent.</summary>
    NoIdentity,

    /// <summary>No such tool for this agent: it does not exist, is not listed in this mode, or the rules hide it (one answer for all three).</summary>
    UnknownTool,

    /// <summary><c>execute_tool</c>: no such server for this agent (missing, disabled or hidden).</summary>
    UnknownServer,

    /// <summary>Allowed, but the agent's call budget is spent for now.</summary>
    RateLimited,
}

/// <summary>
/// The decision about one tool call: who calls (identity), where it goes (route), whether the rules allow it (policy),
/// and whether the agent's budget admits it. Made by <see cref="ToolCallGate"/> for every path, so the SDK path, the
/// fast path and <c>execute_tool</c> cannot decide differently, and the audit records the same facts for each.
/// </summary>
internal readonly record struct ToolCallDecision(
    ToolCallVerdict Verdict,
    Caller Caller,
    string Name,
    ToolRoute? Route,
    PolicyDecision Policy,
    TimeSpan RetryAfter = default,
    string? LimitedBy = null)
{
    public bool IsAllowed => Verdict == ToolCallVerdict.Allowed;

    /// <summary>The audit's word for the verdict.</summary>
    public string DecisionName => Verdict switch
    {
        ToolCallVerdict.Allowed => "allowed",
        ToolCallVerdict.RateLimited => "rate-limited",
        ToolCallVerdict.NoIdentity => "no-identity",
        _ => Route is null && Policy.Agent is null ? "unknown" : "denied",
    };

    /// <summary>What the audit says decided: the rule's reason, or why there was no rule to ask.</summary>
    public string? Rule => Verdict switch
    {
        ToolCallVerdict.NoIdentity => Caller.Message,
        ToolCallVerdict.RateLimited => LimitedBy,
        _ when Policy.Agent is not null => Policy.Reason,
        _ => Route is null ? "no such tool" : null,
    };
}

/// <summary>Decides tool calls: see <see cref="ToolCallDecision"/>.</summary>
internal sealed class ToolCallGate(CallRateLimiter initial)
{
    private volatile CallRateLimiter _limiter = initial;

    /// <summary>
    /// New rate limits (a reload): this replica's budgets start afresh under them; in a shared store, the counts of a
    /// window of the same length go on (other replicas count in them too).
    /// </summary>
    public void Apply(Configuration.RateLimitSettings settings)
    {
        CallRateLimiter previous = _limiter;
        _limiter = new CallRateLimiter(settings, previous.Shared);
        if (!ReferenceEquals(previous, CallRateLimiter.Unlimited))
        {
            previous.Dispose();
        }
    }

    /// <summary>A call by exposed name (<c>tools/call</c>): only listed tools are callable, so in discovery mode nothing downstream is.</summary>
    public ToolCallDecision Decide(GatewayState state, in Caller caller, string exposedName)
    {
        if (caller.Agent is not { } agent)
        {
            return new ToolCallDecision(ToolCallVerdict.NoIdentity, caller, exposedName, null, default);
        }

        if (state.Mode != ExposureMode.Proxy || !state.Catalog.TryRoute(exposedName, out ToolRoute route))
        {
            return new ToolCallDecision(ToolCallVerdict.UnknownTool, caller, exposedName, null, default);
        }

        PolicyDecision policy = state.Policy.DecideTool(agent, route.Server.Name, route.Tool.Name);
        return new ToolCallDecision(policy.IsAllowed ? ToolCallVerdict.Allowed : ToolCallVerdict.UnknownTool, caller, exposedName, route, policy);
    }

    /// <summary>A call by server and tool (<c>execute_tool</c>), in either mode.</summary>
    public ToolCallDecision Decide(GatewayState state, in Caller caller, string server, string tool)
    {
        string name = server + "/" + tool;
        if (caller.Agent is not { } agent)
        {
            return new ToolCallDecision(ToolCallVerdict.NoIdentity, caller, name, null, default);
        }

        PolicyDecision serverDecision = state.Policy.DecideServer(agent, server);
        if (!serverDecision.IsAllowed || state.Config.Servers.Find(server) is not { Enabled: true })
        {
            return new ToolCallDecision(ToolCallVerdict.UnknownServer, caller, name, null, serverDecision);
        }

        if (!state.Catalog.TryRoute(server, tool, out ToolRoute route))
        {
            return new ToolCallDecision(ToolCallVerdict.UnknownTool, caller, name, null, default);
        }

        PolicyDecision policy = state.Policy.DecideTool(agent, server, tool);
        return new ToolCallDecision(policy.IsAllowed ? ToolCallVerdict.Allowed : ToolCallVerdict.UnknownTool, caller, name, route, policy);
    }

    /// <summary>
    /// Takes an allowed call out of the agent's budget; an over-budget call becomes <see cref="ToolCallVerdict.RateLimited"/>.
    /// Completes at once unless a shared store is asked.
    /// </summary>
    public ValueTask<ToolCallDecision> AdmitAsync(ToolCallDecision decision)
    {
        CallRateLimiter limiter = _limiter;
        if (!decision.IsAllowed || !limiter.IsLimited)
        {
            return ValueTask.FromResult(decision);
        }

        ValueTask<RateDecision> rate = limiter.AcquireAsync(decision.Caller.Agent!, decision.Route!.Server.Name, decision.Route.Tool.Name);
        return rate.IsCompletedSuccessfully ? ValueTask.FromResult(Apply(decision, rate.Result)) : AdmitLaterAsync(decision, rate);

        static async ValueTask<ToolCallDecision> AdmitLaterAsync(ToolCallDecision decision, ValueTask<RateDecision> rate) => Apply(decision, await rate);

        static ToolCallDecision Apply(in ToolCallDecision decision, RateDecision rate) =>
            rate.Allowed ? decision : decision with { Verdict = ToolCallVerdict.RateLimited, RetryAfter = rate.RetryAfter, LimitedBy = rate.LimitedBy };
    }

    /// <summary>The protocol error a refused <c>tools/call</c> gets (the fast path writes the same code and message).</summary>
    public static McpProtocolException Refusal(in ToolCallDecision decision) => decision.Verdict switch
    {
        ToolCallVerdict.NoIdentity => new McpProtocolException(decision.Caller.Message!, McpErrorCode.InvalidParams),
        ToolCallVerdict.RateLimited => CallRateLimiter.Refusal(decision.Caller.Agent!, decision.RetryAfter, decision.LimitedBy),
        _ => new McpProtocolException(UnknownToolMessage(decision.Name), McpErrorCode.InvalidParams),
    };

    public static string UnknownToolMessage(string exposedName) => $"Unknown tool: '{exposedName}'";
}
