using McpGateway.Configuration;

namespace McpGateway.Policy;

/// <summary>Patterns split into exact names (hash lookup) and wildcards (scanned in file order).</summary>
internal sealed class PatternSet
{
    private readonly Dictionary<string, RulePattern> _exact;
    private readonly RulePattern[] _wildcards;

    public PatternSet(IEnumerable<RulePattern> patterns)
    {
        _exact = new Dictionary<string, RulePattern>(StringComparer.Ordinal);
        var wildcards = new List<RulePattern>();
        foreach (RulePattern pattern in patterns)
        {
            if (pattern.IsWildcard)
            {
                wildcards.Add(pattern);
            }
            else
            {
                // The first entry naming an item is the one a reason cites.
                _exact.TryAdd(pattern.Pattern, pattern);
            }
        }

        _wildcards = [.. wildcards];
    }

    public static PatternSet Empty { get; } = new([]);

    /// <summary>A set of <paramref name="patterns"/>; the shared empty set when there are none (most agents have no rules of most kinds for most servers).</summary>
    public static PatternSet Create(IReadOnlyCollection<RulePattern> patterns) => patterns.Count == 0 ? Empty : new PatternSet(patterns);

    public bool IsEmpty => _exact.Count == 0 && _wildcards.Length == 0;

    public bool TryMatchExact(string name, out RulePattern rule) => _exact.TryGetValue(name, out rule);

    public bool TryMatchWildcard(string name, out RulePattern rule)
    {
        foreach (RulePattern candidate in _wildcards)
        {
            if (Glob.IsMatch(candidate.Pattern, name))
            {
                rule = candidate;
                return true;
            }
        }

        rule = default;
        return false;
    }

    public bool TryMatch(string name, out RulePattern rule) => TryMatchExact(name, out rule) || TryMatchWildcard(name, out rule);
}
