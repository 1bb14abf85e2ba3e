using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>What a decision is about: a server, or one tool, prompt or resource of a server.</summary>
public enum ItemKind
{
    Server,
    Tool,
    Prompt,
    Resource,
}

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

    /// <summary>A deny entry (tools, prompts or resources) naming the item exactly matched.</summary>
    ItemDenied,

    /// <summary>A deny pattern matched the item.</summary>
    ItemDeniedByPattern,

    /// <summary>An allow entry naming the item exactly matched.</summary>
    ItemAllowed,

    /// <summary>An allow pattern matched the item.</summary>
    ItemAllowedByPattern,

    /// <summary>
    /// The server is allowed and no allow list of the item's kind restricts it (for prompts and resources, the
    /// server's tools are not restricted by an allow list either).
    /// </summary>
    ItemImplicitGrant,

    /// <summary>An allow list of the item's kind exists for the server and nothing in it matched.</summary>
    ItemNotAllowed,

    /// <summary>
    /// A prompt or resource of a server whose tools the agent has only through an allow list, and no list of that
    /// kind grants it: least privilege withholds what the rules do not grant.
    /// </summary>
    ItemWithheld,
}

/// <summary>
/// The answer to "may this agent use this server (or this tool, prompt or resource of it)?", with the rule that decided.
/// A struct of references: making one does not allocate; <see cref="Reason"/> formats text only when asked.
/// </summary>
public readonly struct PolicyDecision
{
    private readonly string? _grantPath;

    internal PolicyDecision(DecisionKind kind, string agent, string server, ItemKind item, string? itemName, RulePattern rule, string? grantPath = null)
    {
        Kind = kind;
        Agent = agent;
        Server = server;
        Item = item;
        ItemName = itemName;
        Rule = rule;
        _grantPath = grantPath;
    }

    public bool IsAllowed => Kind is DecisionKind.ServerAllowed or DecisionKind.ItemAllowed or DecisionKind.ItemAllowedByPattern or DecisionKind.ItemImplicitGrant;

    public DecisionKind Kind { get; }

    public string Agent { get; }

    public string Server { get; }

    /// <summary>What was asked about; a tool decision that the server step decided is still <see cref="ItemKind.Tool"/>.</summary>
    public ItemKind Item { get; }

    /// <summary>The tool or prompt name, or the resource URI (or template), as asked; null for server decisions.</summary>
    public string? ItemName { get; }

    /// <summary>The tool's name for tool decisions, else null (callers that only know tools read this).</summary>
    public string? Tool => Item == ItemKind.Tool ? ItemName : null;

    /// <summary>The entry that decided; for "nothing matched" and "withheld" decisions, <see cref="RulePattern.Source"/> names the list searched.</summary>
    public RulePattern Rule { get; }

    internal PolicyDecision WithItem(ItemKind item, string name) => new(Kind, Agent, Server, item, name, Rule);

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
        DecisionKind.ItemDenied =>
            $"denied: {Word(Item)} '{ItemName}' of server '{Server}' is denied to agent '{Agent}' by {Rule}",
        DecisionKind.ItemDeniedByPattern =>
            $"denied: {Word(Item)} '{ItemName}' of server '{Server}' is denied to agent '{Agent}' by the pattern at {Rule}",
        DecisionKind.ItemAllowed =>
            $"allowed: {Word(Item)} '{ItemName}' of server '{Server}' is listed for agent '{Agent}' at {Rule}",
        DecisionKind.ItemAllowedByPattern =>
            $"allowed: {Word(Item)} '{ItemName}' of server '{Server}' matches the pattern at {Rule}",
        DecisionKind.ItemImplicitGrant when Item == ItemKind.Tool =>
            $"allowed: agent '{Agent}' may use server '{Server}' ({Rule}) and no tool list restricts it",
        DecisionKind.ItemImplicitGrant =>
            $"allowed: agent '{Agent}' may use server '{Server}' ({Rule}), no {Word(Item)} list restricts it and no allow list restricts its tools",
        DecisionKind.ItemNotAllowed =>
            $"denied: {Word(Item)} '{ItemName}' of server '{Server}' matches no entry of {Rule.Source}",
        DecisionKind.ItemWithheld =>
            $"denied: {Word(Item)} '{ItemName}' of server '{Server}' is withheld from agent '{Agent}': its tools of that server are restricted by the allow list at {Rule.Source}; grant {Word(Item)}s explicitly in {_grantPath}",
        _ => Kind.ToString(),
    };

    public override string ToString() => Reason;

    private static string Word(ItemKind item) => item switch
    {
        ItemKind.Tool => "tool",
        ItemKind.Prompt => "prompt",
        ItemKind.Resource => "resource",
        _ => "server",
    };
}
