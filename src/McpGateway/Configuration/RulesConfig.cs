namespace McpGateway.Configuration;

/// <summary>Which of the two accepted rules-file shapes a file used.</summary>
public enum RulesShape
{
    /// <summary><c>{"access_rules": {"agent": {"servers": [...], "tools": ...}}}</c> (the seed guide).</summary>
    AccessRules,

    /// <summary><c>{"agents": {"agent": {"allow": {...}, "deny": {...}}}, "defaults": {...}}</c>.</summary>
    Agents,
}

/// <summary>A server, tool, prompt or resource pattern as written, with the JSON path it came from so decisions can name their rule.</summary>
public readonly record struct RulePattern(string Pattern, string Source)
{
    /// <summary>True when the pattern holds <c>*</c> or <c>?</c>.</summary>
    public bool IsWildcard => Pattern.AsSpan().IndexOfAny('*', '?') >= 0;

    public override string ToString() => $"{Source} ('{Pattern}')";
}

/// <summary>
/// Tool, prompt or resource patterns that apply to the servers matching <see cref="Server"/> (a name or a glob).
/// One type for the three kinds because the file writes them the same way and the policy decides them with the same steps.
/// </summary>
public sealed record ItemRuleConfig(RulePattern Server, IReadOnlyList<RulePattern> Patterns);

/// <summary>One side (allow or deny) of an agent's rules.</summary>
public sealed record AccessListConfig
{
    public static AccessListConfig Empty { get; } = new();

    /// <summary>Server patterns; null when the file did not give the list.</summary>
    public IReadOnlyList<RulePattern>? Servers { get; init; }

    /// <summary>Tool patterns per server, matched against the tool's own name on its server.</summary>
    public IReadOnlyList<ItemRuleConfig> Tools { get; init; } = [];

    /// <summary>Resource patterns per server, matched against the resource URI (or a template's uriTemplate text).</summary>
    public IReadOnlyList<ItemRuleConfig> Resources { get; init; } = [];

    /// <summary>Prompt patterns per server, matched against the prompt's own name on its server.</summary>
    public IReadOnlyList<ItemRuleConfig> Prompts { get; init; } = [];

    /// <summary>The JSON path of this list's <c>servers</c> entry, for reasons that name a missing match.</summary>
    public string ServersSource { get; init; } = string.Empty;

    /// <summary>
    /// The JSON path of the object holding this list's keys (<c>$.agents.a.allow</c>, or the agent itself in the
    /// access_rules shape), so a reason can say where to add an entry.
    /// </summary>
    public string SourcePath { get; init; } = string.Empty;

    /// <summary>The rules of one kind of item; null for <see cref="Policy.ItemKind.Server"/>, whose rules are <see cref="Servers"/>.</summary>
    public IReadOnlyList<ItemRuleConfig>? RulesFor(Policy.ItemKind kind) => kind switch
    {
        Policy.ItemKind.Tool => Tools,
        Policy.ItemKind.Prompt => Prompts,
        Policy.ItemKind.Resource => Resources,
        _ => null,
    };
}

/// <summary>The rules of one agent, normalised from either shape.</summary>
public sealed record AgentRulesConfig
{
    public required string Name { get; init; }

    public AccessListConfig Allow { get; init; } = AccessListConfig.Empty;

    public AccessListConfig Deny { get; init; } = AccessListConfig.Empty;

    public string SourcePath { get; init; } = string.Empty;
}

/// <summary>The <c>defaults</c> section.</summary>
public sealed record RulesDefaultsConfig
{
    /// <summary>
    /// Accepted for compatibility with the seed-origin project. Unknown agents are denied whatever this says:
    /// the gateway never gives an unknown agent access.
    /// </summary>
    public bool DenyOnMissingAgent { get; init; } = true;

    /// <summary>The agent whose rules apply to callers that give no identity.</summary>
    public string? DefaultAgent { get; init; }
}

/// <summary>The whole access-rules file.</summary>
public sealed record RulesConfig
{
    public string? SourceFile { get; init; }

    /// <summary>Where each JSON path is in the file, for diagnostics made after parsing (checks against the servers file).</summary>
    internal JsonPositionMap? Positions { get; init; }

    /// <summary>Whether the value at a JSON path came from the environment (then messages must not echo it).</summary>
    internal Func<string, bool>? IsSubstituted { get; init; }

    public RulesShape Shape { get; init; } = RulesShape.Agents;

    public IReadOnlyList<AgentRulesConfig> Agents { get; init; } = [];

    public RulesDefaultsConfig Defaults { get; init; } = new();

    public static RulesConfig Empty { get; } = new();
}
