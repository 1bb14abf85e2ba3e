using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>
/// One agent's compiled rules for one kind of item (tools, prompts or resources) on one server: the lists whose
/// server key matches, merged in file order, and what an item that no entry names gets.
/// </summary>
internal sealed class ItemAccess
{
    private readonly PatternSet _deny;
    private readonly PatternSet _allow;
    private readonly string _allowListSource;
    private readonly string? _grantPath;
    private readonly bool _allowsEverything;

    private ItemAccess(ItemKind kind, PatternSet deny, PatternSet allow, string? allowListSource, bool allowsEverything, string? withheldBy, string? grantPath)
    {
        Kind = kind;
        _deny = deny;
        _allow = allow;
        HasAllowList = allowListSource is not null;
        _allowListSource = allowListSource ?? string.Empty;
        _allowsEverything = allowsEverything;
        WithheldBy = HasAllowList ? null : withheldBy;
        _grantPath = grantPath;
    }

    public ItemKind Kind { get; }

    /// <summary>An allow list of this kind applies to the server, so only what it names is allowed.</summary>
    public bool HasAllowList { get; }

    /// <summary>
    /// For prompts and resources without an allow list of their own: the tools allow list that restricts the server,
    /// which withholds them instead of granting them implicitly. Null when the implicit grant applies.
    /// </summary>
    public string? WithheldBy { get; }

    /// <summary>
    /// For the tools' access: the tools allow list that restricts this server, that is, an allow list applies and none
    /// of its entries is "*" (a list that allows every tool restricts nothing). Null otherwise.
    /// </summary>
    public string? RestrictedBy => Kind == ItemKind.Tool && HasAllowList && !_allowsEverything ? _allowListSource : null;

    /// <param name="withheldBy">For prompts and resources: the tools allow list restricting this server, or null.</param>
    /// <param name="grantPath">Where a reason tells the user to add entries of this kind.</param>
    public static ItemAccess Compile(ItemKind kind, AgentRulesConfig agent, string server, string? withheldBy, string? grantPath)
    {
        var denyPatterns = new List<RulePattern>();
        var allowPatterns = new List<RulePattern>();
        string? allowSource = null;
        foreach (ItemRuleConfig rule in agent.Deny.RulesFor(kind) ?? [])
        {
            if (Glob.IsMatch(rule.Server.Pattern, server))
            {
                denyPatterns.AddRange(rule.Patterns);
            }
        }

        foreach (ItemRuleConfig rule in agent.Allow.RulesFor(kind) ?? [])
        {
            if (Glob.IsMatch(rule.Server.Pattern, server))
            {
                allowPatterns.AddRange(rule.Patterns);
                allowSource ??= rule.Server.Source;
            }
        }

        return new ItemAccess(
            kind,
            PatternSet.Create(denyPatterns),
            PatternSet.Create(allowPatterns),
            allowSource,
            allowPatterns.Exists(p => p.Pattern == "*"),
            withheldBy,
            grantPath);
    }

    /// <summary>
    /// The item steps after the server step, in order: explicit deny, wildcard deny, explicit allow, wildcard allow,
    /// then implicit grant when no allow list of this kind applies (and, for prompts and resources, the server's tools
    /// are not restricted), otherwise deny.
    /// </summary>
    public PolicyDecision Decide(in PolicyDecision server, string name)
    {
        if (!server.IsAllowed)
        {
            // Item rules for a server the agent may not use grant nothing.
            return server.WithItem(Kind, name);
        }

        if (_deny.TryMatchExact(name, out RulePattern rule))
        {
            return new PolicyDecision(DecisionKind.ItemDenied, server.Agent, server.Server, Kind, name, rule);
        }

        if (_deny.TryMatchWildcard(name, out rule))
        {
            return new PolicyDecision(DecisionKind.ItemDeniedByPattern, server.Agent, server.Server, Kind, name, rule);
        }

        if (_allow.TryMatchExact(name, out rule))
        {
            return new PolicyDecision(DecisionKind.ItemAllowed, server.Agent, server.Server, Kind, name, rule);
        }

        if (_allow.TryMatchWildcard(name, out rule))
        {
            return new PolicyDecision(DecisionKind.ItemAllowedByPattern, server.Agent, server.Server, Kind, name, rule);
        }

        if (HasAllowList)
        {
            return new PolicyDecision(DecisionKind.ItemNotAllowed, server.Agent, server.Server, Kind, name, new RulePattern(string.Empty, _allowListSource));
        }

        if (WithheldBy is not null)
        {
            return new PolicyDecision(DecisionKind.ItemWithheld, server.Agent, server.Server, Kind, name, new RulePattern(string.Empty, WithheldBy), _grantPath);
        }

        return new PolicyDecision(DecisionKind.ItemImplicitGrant, server.Agent, server.Server, Kind, name, server.Rule);
    }
}
