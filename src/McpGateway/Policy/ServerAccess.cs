using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>
/// One agent's compiled access to one server: the server-step decision and the tool, prompt and resource rules that
/// apply to it, so that a decision is a lookup or two plus a scan of this server's wildcards.
/// </summary>
internal sealed class ServerAccess
{
    private ServerAccess(PolicyDecision serverDecision, ItemAccess tools, ItemAccess prompts, ItemAccess resources)
    {
        ServerDecision = serverDecision;
        Tools = tools;
        Prompts = prompts;
        Resources = resources;
    }

    public PolicyDecision ServerDecision { get; }

    public ItemAccess Tools { get; }

    public ItemAccess Prompts { get; }

    public ItemAccess Resources { get; }

    public static ServerAccess Compile(AgentRulesConfig agent, PatternSet serverDeny, PatternSet serverAllow, string server)
    {
        PolicyDecision serverDecision;
        if (serverDeny.TryMatch(server, out RulePattern denied))
        {
            serverDecision = new PolicyDecision(DecisionKind.ServerDenied, agent.Name, server, ItemKind.Server, null, denied);
        }
        else if (serverAllow.TryMatch(server, out RulePattern allowed))
        {
            serverDecision = new PolicyDecision(DecisionKind.ServerAllowed, agent.Name, server, ItemKind.Server, null, allowed);
        }
        else
        {
            // Name the list that was searched even when it is empty or absent, so the reason says where to add the server.
            string source = agent.Allow.ServersSource.Length > 0 ? agent.Allow.ServersSource
                : agent.SourcePath.Length > 0 ? JsonPath.Property(JsonPath.Property(agent.SourcePath, "allow"), "servers")
                : string.Empty;
            serverDecision = new PolicyDecision(DecisionKind.ServerNotAllowed, agent.Name, server, ItemKind.Server, null, new RulePattern(string.Empty, source));
        }

        ItemAccess tools = ItemAccess.Compile(ItemKind.Tool, agent, server, withheldBy: null, grantPath: null);

        // Least privilege: an agent given only some of a server's tools does not also get its prompts and resources
        // unless the rules grant them.
        string? restrictedBy = tools.RestrictedBy;
        ItemAccess prompts = ItemAccess.Compile(ItemKind.Prompt, agent, server, restrictedBy, GrantPath(agent, "prompts"));
        ItemAccess resources = ItemAccess.Compile(ItemKind.Resource, agent, server, restrictedBy, GrantPath(agent, "resources"));
        return new ServerAccess(serverDecision, tools, prompts, resources);
    }

    public PolicyDecision DecideTool(string tool) => Tools.Decide(ServerDecision, tool);

    public PolicyDecision DecidePrompt(string prompt) => Prompts.Decide(ServerDecision, prompt);

    public PolicyDecision DecideResource(string uri) => Resources.Decide(ServerDecision, uri);

    public ItemAccess Items(ItemKind kind) => kind switch
    {
        ItemKind.Tool => Tools,
        ItemKind.Prompt => Prompts,
        ItemKind.Resource => Resources,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "servers have no item rules"),
    };

    // Where the user writes the missing grant: "$.agents.a.allow.prompts", or "$.access_rules.a.prompts".
    private static string GrantPath(AgentRulesConfig agent, string key) =>
        agent.Allow.SourcePath.Length > 0 ? JsonPath.Property(agent.Allow.SourcePath, key)
        : agent.SourcePath.Length > 0 ? JsonPath.Property(JsonPath.Property(agent.SourcePath, "allow"), key)
        : "allow." + key;
}
