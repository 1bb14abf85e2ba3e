using System.Collections.Frozen;
using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>One agent's rules, compiled against the configured servers so that a decision is a hash lookup or two.</summary>
public sealed class AgentPolicy
{
    private readonly AgentRulesConfig _rules;
    private readonly PatternSet _serverDeny;
    private readonly PatternSet _serverAllow;
    private readonly FrozenDictionary<string, ServerAccess> _byServer;

    internal AgentPolicy(AgentRulesConfig rules, IEnumerable<string> configuredServers)
    {
        _rules = rules;
        _serverDeny = new PatternSet(rules.Deny.Servers ?? []);
        _serverAllow = new PatternSet(rules.Allow.Servers ?? []);
        var byServer = new Dictionary<string, ServerAccess>(StringComparer.Ordinal);
        var allowed = new List<string>();
        foreach (string server in configuredServers)
        {
            if (byServer.ContainsKey(server))
            {
                continue;
            }

            ServerAccess access = ServerAccess.Compile(rules, _serverDeny, _serverAllow, server);
            byServer[server] = access;
            if (access.ServerDecision.IsAllowed)
            {
                allowed.Add(server);
            }
        }

        _byServer = byServer.ToFrozenDictionary(StringComparer.Ordinal);
        AllowedServers = allowed;
    }

    public string Name => _rules.Name;

    /// <summary>Configured servers this agent may use, in configuration order.</summary>
    public IReadOnlyList<string> AllowedServers { get; }

    public AgentRulesConfig Rules => _rules;

    public PolicyDecision DecideServer(string server) => Access(server).ServerDecision;

    public PolicyDecision DecideTool(string server, string tool) => Access(server).DecideTool(tool);

    /// <summary>May this agent get or use <paramref name="prompt"/> (the prompt's own name on <paramref name="server"/>)?</summary>
    public PolicyDecision DecidePrompt(string server, string prompt) => Access(server).DecidePrompt(prompt);

    /// <summary>May this agent read or see <paramref name="uri"/>: a resource URI, or a resource template's uriTemplate text?</summary>
    public PolicyDecision DecideResource(string server, string uri) => Access(server).DecideResource(uri);

    /// <summary>The compiled rules of one kind for one server, for <c>mcp-gateway check</c> to describe.</summary>
    internal ItemAccess ItemRules(string server, ItemKind kind) => Access(server).Items(kind);

    // Servers outside the configuration (asked about by `check`) are compiled on demand; the gateway only asks about configured ones.
    private ServerAccess Access(string server) =>
        _byServer.TryGetValue(server, out ServerAccess? access) ? access : ServerAccess.Compile(_rules, _serverDeny, _serverAllow, server);
}
