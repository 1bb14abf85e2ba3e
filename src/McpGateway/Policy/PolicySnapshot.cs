using System.Collections.Frozen;
using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>How the agent for a request was determined.</summary>
public enum AgentSource
{
    /// <summary>The caller named itself (argument, header, fixed stdio agent or authenticated principal).</summary>
    Explicit,

    /// <summary>The caller gave no identity and the default agent applied.</summary>
    DefaultAgent,
}

/// <summary>
/// The compiled access rules: immutable, shared by every request, swapped whole on reload. Deny by default:
/// an agent that is not in the rules gets nothing, whatever <c>deny_on_missing_agent</c> says.
/// </summary>
public sealed class PolicySnapshot
{
    /// <summary>The agent used for callers without identity when the rules name none and an agent of this name exists.</summary>
    public const string ConventionalDefaultAgent = "default";

    private readonly FrozenDictionary<string, AgentPolicy> _agents;

    private PolicySnapshot(FrozenDictionary<string, AgentPolicy> agents, string? defaultAgent, RulesConfig rules)
    {
        _agents = agents;
        DefaultAgent = defaultAgent;
        Rules = rules;
    }

    public static PolicySnapshot Empty { get; } = Compile(RulesConfig.Empty, []);

    public RulesConfig Rules { get; }

    /// <summary>The agent whose rules apply to callers that give no identity, or null when such callers are refused.</summary>
    public string? DefaultAgent { get; }

    public IEnumerable<AgentPolicy> Agents => _agents.Values;

    /// <summary>Compiles <paramref name="rules"/> against the configured server names.</summary>
    /// <param name="defaultAgentOverride">From <c>--default-agent</c> or <c>GATEWAY_DEFAULT_AGENT</c>; wins over the file.</param>
    public static PolicySnapshot Compile(RulesConfig rules, IEnumerable<string> configuredServers, string? defaultAgentOverride = null)
    {
        string[] servers = [.. configuredServers];
        var agents = new Dictionary<string, AgentPolicy>(StringComparer.Ordinal);
        foreach (AgentRulesConfig agent in rules.Agents)
        {
            agents[agent.Name] = new AgentPolicy(agent, servers);
        }

        string? defaultAgent = !string.IsNullOrEmpty(defaultAgentOverride)
            ? defaultAgentOverride
            : rules.Defaults.DefaultAgent ?? (agents.ContainsKey(ConventionalDefaultAgent) ? ConventionalDefaultAgent : null);
        return new PolicySnapshot(agents.ToFrozenDictionary(StringComparer.Ordinal), defaultAgent, rules);
    }

    /// <summary>The compiled rules of <paramref name="agent"/>, or null for an agent that is not in the rules.</summary>
    public AgentPolicy? FindAgent(string agent) => _agents.GetValueOrDefault(agent);

    /// <summary>
    /// The agent a request acts as: the one it names, else the default agent, else null (the caller must then
    /// refuse the request and say how to give an identity).
    /// </summary>
    public (string? Agent, AgentSource Source) ResolveAgent(string? claimed) =>
        !string.IsNullOrEmpty(claimed) ? (claimed, AgentSource.Explicit) : (DefaultAgent, AgentSource.DefaultAgent);

    public PolicyDecision DecideServer(string agent, string server) =>
        _agents.TryGetValue(agent, out AgentPolicy? policy)
            ? policy.DecideServer(server)
            : new PolicyDecision(DecisionKind.UnknownAgent, agent, server, ItemKind.Server, null, default);

    public PolicyDecision DecideTool(string agent, string server, string tool) =>
        _agents.TryGetValue(agent, out AgentPolicy? policy)
            ? policy.DecideTool(server, tool)
            : new PolicyDecision(DecisionKind.UnknownAgent, agent, server, ItemKind.Tool, tool, default);

    public PolicyDecision DecidePrompt(string agent, string server, string prompt) =>
        _agents.TryGetValue(agent, out AgentPolicy? policy)
            ? policy.DecidePrompt(server, prompt)
            : new PolicyDecision(DecisionKind.UnknownAgent, agent, server, ItemKind.Prompt, prompt, default);

    /// <summary>Decides a resource URI or a resource template's uriTemplate text.</summary>
    public PolicyDecision DecideResource(string agent, string server, string uri) =>
        _agents.TryGetValue(agent, out AgentPolicy? policy)
            ? policy.DecideResource(server, uri)
            : new PolicyDecision(DecisionKind.UnknownAgent, agent, server, ItemKind.Resource, uri, default);
}
