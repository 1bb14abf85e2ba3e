using McpGateway.Configuration;
using McpGateway.Policy;

namespace McpGateway.Tests.Policy;

/// <summary>Compiles a rules file written inline, failing the test if the file itself has errors.</summary>
internal static class PolicyFixture
{
    public static readonly string[] Servers = ["db", "web", "production_db", "staging_db", "db-main", "db1", "db12", "cache"];

    public static PolicySnapshot Compile(string json, IEnumerable<string>? servers = null, string? defaultAgentOverride = null) =>
        PolicySnapshot.Compile(Parse(json), servers ?? Servers, defaultAgentOverride);

    public static RulesConfig Parse(string json)
    {
        ConfigLoadResult<RulesConfig> result = ConfigurationLoader.ParseRules("rules.json", json, _ => null);
        Assert.True(result.Succeeded, string.Join(Environment.NewLine, result.Diagnostics));
        return result.Value!;
    }

    public static void AssertDecision(PolicyDecision decision, DecisionKind kind, string rulePath)
    {
        Assert.Equal(kind, decision.Kind);
        Assert.Contains(rulePath, decision.Reason, StringComparison.Ordinal);
        Assert.StartsWith(decision.IsAllowed ? "allowed:" : "denied:", decision.Reason, StringComparison.Ordinal);
    }
}
