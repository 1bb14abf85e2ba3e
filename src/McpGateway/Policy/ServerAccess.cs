using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>One agent's compiled access to one server: the server-step decision and the tool rules that apply to it.</summary>
internal sealed class ServerAccess
{
    private readonly PatternSet _deny;
    private readonly PatternSet _allow;
    private readonly bool _hasAllowList;
    private readonly string _allowListSource;

    private ServerAccess(PolicyDecision serverDecision, PatternSet deny, PatternSet allow, bool hasAllowList, string allowListSource)
    {
        ServerDecision = serverDecision;
        _deny = deny;
        _allow = allow;
        _hasAllowList = hasAllowList;
        _allowListSource = allowListSource;
    }

    public PolicyDecision ServerDecision { get; }

    public static ServerAccess Compile(AgentRulesConfig agent, PatternSet serverDeny, PatternSet serverAllow, string server)
    {
        PolicyDecision serverDecision;
        if (serverDeny.TryMatch(server, out RulePattern denied))
        {
            serverDecision = new PolicyDecision(DecisionKind.ServerDenied, agent.Name, server, null, denied);
        }
        else if (serverAllow.TryMatch(server, out RulePattern allowed))
        {
            serverDecision = new PolicyDecision(DecisionKind.ServerAllowed, agent.Name, server, null, allowed);
        }
        else
        {
            // Name the list that was searched even when it is empty or absent, so the reason says where to add the server.
            string source = agent.Allow.ServersSource.Length > 0 ? agent.Allow.ServersSource
                : agent.SourcePath.Length > 0 ? JsonPath.Property(JsonPath.Property(agent.SourcePath, "allow"), "servers")
                : string.Empty;
            serverDecision = new PolicyDecision(DecisionKind.ServerNotAllowed, agent.Name, server, null, new RulePattern(string.Empty, source));
        }

        // Tool lists whose server key (a name or a glob) matches this server, merged in file order.
        var denyPatterns = new List<RulePattern>();
        var allowPatterns = new List<RulePattern>();
        string? allowSource = null;
        foreach (ToolRuleConfig rule in agent.Deny.Tools)
        {
            if (Glob.IsMatch(rule.Server.Pattern, server))
            {
                denyPatterns.AddRange(rule.Tools);
            }
        }

        foreach (ToolRuleConfig rule in agent.Allow.Tools)
        {
            if (Glob.IsMatch(rule.Server.Pattern, server))
            {
                allowPatterns.AddRange(rule.Tools);
                allowSource ??= rule.Server.Source;
            }
        }

        return new ServerAccess(serverDecision, new PatternSet(denyPatterns), new PatternSet(allowPatterns), allowSource is not null, allowSource ?? string.Empty);
    }

    /// <summary>The tool steps, in order: explicit deny, wildcard deny, explicit allow, wildcard allow, implicit grant, deny.</summary>
    public PolicyDecision DecideTool(string tool)
    {
        PolicyDecision server = ServerDecision;
        if (!server.IsAllowed)
        {
            // Tool rules for a server the agent may not use grant nothing.
            return server.WithTool(tool);
        }

        if (_deny.TryMatchExact(tool, out RulePattern rule))
        {
            return new PolicyDecision(DecisionKind.ToolDenied, server.Agent, server.Server, tool, rule);
        }

        if (_deny.TryMatchWildcard(tool, out rule))
        {
            return new PolicyDecision(DecisionKind.ToolDeniedByPattern, server.Agent, server.Server, tool, rule);
        }

        if (_allow.TryMatchExact(tool, out rule))
        {
            return new PolicyDecision(DecisionKind.ToolAllowed, server.Agent, server.Server, tool, rule);
        }

        if (_allow.TryMatchWildcard(tool, out rule))
        {
            return new PolicyDecision(DecisionKind.ToolAllowedByPattern, server.Agent, server.Server, tool, rule);
        }

        if (!_hasAllowList)
        {
            return new PolicyDecision(DecisionKind.ToolImplicitGrant, server.Agent, server.Server, tool, server.Rule);
        }

        return new PolicyDecision(DecisionKind.ToolNotAllowed, server.Agent, server.Server, tool, new RulePattern(string.Empty, _allowListSource));
    }
}
