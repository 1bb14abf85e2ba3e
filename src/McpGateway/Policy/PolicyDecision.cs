using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>Which step of the policy decided.</summary>
public enum DecisionKind
{
    /// <summary>The agent is not in the rules: it gets nothing.</summary>
    UnknownAgent,

    /// <summary>A deny.servers entry matched.</summary>
    ServerDenied,

    /// <summary>No allow.servers entry matched.</summary>
    ServerNotAllowed,

    /// <summary>An allow.servers entry matched (server-level decision).</summary>
    ServerAllowed,

    /// <summary>A deny.tools entry naming the tool exactly matched.</summary>
    ToolDenied,

    /// <summary>A deny.tools pattern matched.</summary>
    ToolDeniedByPattern,

    /// <summary>An allow.tools entry naming the tool exactly matched.</summary>
    ToolAllowed,

    /// <summary>An allow.tools pattern matched.</summary>
    ToolAllowedByPattern,

    /// <summary>The server is allowed and no allow.tools list restricts it.</summary>
    ToolImplicitGrant,

    /// <summary>An allow.tools list exists for the server and nothing in it matched.</summary>
    ToolNotAllowed,
}

/// <summary>
/// The answer to "may this agent use this server (and tool)?", with the rule that decided.
/// A struct of references: making one does not allocate; <see cref="Reason"/> formats text only when asked.
/// </summary>
public readonly struct PolicyDecision
{
    internal PolicyDecision(DecisionKind kind, string agent, string server, string? tool, RulePattern rule)
    {
        Kind = kind;
        Agent = agent;
        Server = server;
        Tool = tool;
        Rule = rule;
    }

    public bool IsAllowed => Kind is DecisionKind.ServerAllowed or DecisionKind.ToolAllowed or DecisionKind.ToolAllowedByPattern or DecisionKind.ToolImplicitGrant;

    public DecisionKind Kind { get; }

    public string Agent { get; }

    public string Server { get; }

    public string? Tool { get; }

    /// <summary>The entry that decided; for "nothing matched" decisions, <see cref="RulePattern.Source"/> names the list searched.</summary>
    public RulePattern Rule { get; }

    internal PolicyDecision WithTool(string tool) => new(Kind, Agent, Server, tool, Rule);

    /// <summary>A sentence naming the rule that decided, for logs, audit and <c>mcp-gateway check</c>.</summary>
    public string Reason => Kind switch
    {
        DecisionKind.UnknownAgent =>
            $"denied: agent '{Agent}' is not in the access rules, and unknown agents get nothing",
        DecisionKind.ServerDenied =>
            $"denied: server '{Server}' is denied to agent '{Agent}' by {Rule}",
        DecisionKind.ServerNotAllowed when Rule.Source.Length == 0 =>
            $"denied: agent '{Agent}' has no allowed servers",
        DecisionKind.ServerNotAllowed =>
            $"denied: server '{Server}' matches no entry of {Rule.Source}",
        DecisionKind.ServerAllowed =>
            $"allowed: server '{Server}' is allowed to agent '{Agent}' by {Rule}",
        DecisionKind.ToolDenied =>
            $"denied: tool '{Tool}' of server '{Server}' is denied to agent '{Agent}' by {Rule}",
        DecisionKind.ToolDeniedByPattern =>
            $"denied: tool '{Tool}' of server '{Server}' is denied to agent '{Agent}' by the pattern at {Rule}",
        DecisionKind.ToolAllowed =>
            $"allowed: tool '{Tool}' of server '{Server}' is listed for agent '{Agent}' at {Rule}",
        DecisionKind.ToolAllowedByPattern =>
            $"allowed: tool '{Tool}' of server '{Server}' matches the pattern at {Rule}",
        DecisionKind.ToolImplicitGrant =>
            $"allowed: agent '{Agent}' may use server '{Server}' ({Rule}) and no tool list restricts it",
        DecisionKind.ToolNotAllowed =>
            $"denied: tool '{Tool}' of server '{Server}' matches no entry of {Rule.Source}",
        _ => Kind.ToString(),
    };

    public override string ToString() => Reason;
}
