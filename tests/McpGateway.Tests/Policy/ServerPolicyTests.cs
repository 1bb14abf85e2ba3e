using McpGateway.Policy;

namespace McpGateway.Tests.Policy;

/// <summary>The server step of DESIGN §3: deny beats allow, globs, unknown agents and case sensitivity.</summary>
public sealed class ServerPolicyTests
{
    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["web", "db"]}}}""", "$.access_rules.a.servers[1]")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["web", "db"]}}}}""", "$.agents.a.allow.servers[1]")]
    public void DecideServer_ServerInAllowList_Allows(string json, string rulePath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision decision = policy.DecideServer("a", "db");

        Assert.True(decision.IsAllowed);
        PolicyFixture.AssertDecision(decision, DecisionKind.ServerAllowed, rulePath);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["web"]}}}""", "$.access_rules.a.servers")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["web"]}}}}""", "$.agents.a.allow.servers")]
    public void DecideServer_ServerMissingFromAllowList_Denies(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision decision = policy.DecideServer("a", "db");

        Assert.False(decision.IsAllowed);
        PolicyFixture.AssertDecision(decision, DecisionKind.ServerNotAllowed, listPath);
    }

    [Fact]
    public void DecideServer_AllowAllButDenyOne_DeniesOnlyThatServer()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["*"]}, "deny": {"servers": ["production_db"]}}}}
            """);

        PolicyDecision production = policy.DecideServer("a", "production_db");
        PolicyDecision staging = policy.DecideServer("a", "staging_db");

        Assert.False(production.IsAllowed);
        PolicyFixture.AssertDecision(production, DecisionKind.ServerDenied, "$.agents.a.deny.servers[0]");
        Assert.True(staging.IsAllowed);
        PolicyFixture.AssertDecision(staging, DecisionKind.ServerAllowed, "$.agents.a.allow.servers[0]");
    }

    [Fact]
    public void DecideServer_DenyAllServers_DeniesEverythingWhateverIsAllowed()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {
              "allow": {"servers": ["db", "web"], "tools": {"db": ["query"]}},
              "deny": {"servers": ["*"]}
            }}}
            """);

        foreach (string server in PolicyFixture.Servers)
        {
            PolicyFixture.AssertDecision(policy.DecideServer("a", server), DecisionKind.ServerDenied, "$.agents.a.deny.servers[0]");
        }

        PolicyDecision tool = policy.DecideTool("a", "db", "query");
        Assert.False(tool.IsAllowed);
        PolicyFixture.AssertDecision(tool, DecisionKind.ServerDenied, "$.agents.a.deny.servers[0]");
        Assert.Empty(policy.FindAgent("a")!.AllowedServers);
    }

    [Fact]
    public void DecideServer_ExplicitDenyOfExplicitlyAllowedServer_Denies()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db", "web"]}, "deny": {"servers": ["db"]}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideServer("a", "db"), DecisionKind.ServerDenied, "$.agents.a.deny.servers[0]");
        PolicyFixture.AssertDecision(policy.DecideServer("a", "web"), DecisionKind.ServerAllowed, "$.agents.a.allow.servers[1]");
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db-*"]}}}""", "$.access_rules.a.servers")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db-*"]}}}}""", "$.agents.a.allow.servers")]
    public void DecideServer_StarPattern_MatchesByGlob(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecideServer("a", "db-main"), DecisionKind.ServerAllowed, listPath + "[0]");
        PolicyFixture.AssertDecision(policy.DecideServer("a", "db"), DecisionKind.ServerNotAllowed, listPath);
        PolicyFixture.AssertDecision(policy.DecideServer("a", "staging_db"), DecisionKind.ServerNotAllowed, listPath);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db?"]}}}""", "$.access_rules.a.servers")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db?"]}}}}""", "$.agents.a.allow.servers")]
    public void DecideServer_QuestionMarkPattern_MatchesExactlyOneCharacter(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecideServer("a", "db1"), DecisionKind.ServerAllowed, listPath + "[0]");
        PolicyFixture.AssertDecision(policy.DecideServer("a", "db12"), DecisionKind.ServerNotAllowed, listPath);
        PolicyFixture.AssertDecision(policy.DecideServer("a", "db"), DecisionKind.ServerNotAllowed, listPath);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["*"], "tools": "*"}}, "defaults": {"deny_on_missing_agent": false}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["*"]}}}, "defaults": {"deny_on_missing_agent": false}}""")]
    public void Decide_UnknownAgentWithDenyOnMissingAgentFalse_DeniesEverything(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        Assert.Null(policy.FindAgent("stranger"));
        foreach (string server in PolicyFixture.Servers)
        {
            PolicyDecision serverDecision = policy.DecideServer("stranger", server);
            PolicyDecision toolDecision = policy.DecideTool("stranger", server, "anything");
            Assert.False(serverDecision.IsAllowed);
            Assert.Equal(DecisionKind.UnknownAgent, serverDecision.Kind);
            Assert.False(toolDecision.IsAllowed);
            Assert.Equal(DecisionKind.UnknownAgent, toolDecision.Kind);
            Assert.Contains("'stranger' is not in the access rules", toolDecision.Reason, StringComparison.Ordinal);
        }

        // The known agent still gets everything, so the denial above is about the name only.
        Assert.True(policy.DecideTool("a", "db", "anything").IsAllowed);
    }

    [Fact]
    public void Decide_EmptyRules_DeniesEveryone()
    {
        PolicyDecision decision = PolicySnapshot.Empty.DecideTool("anyone", "db", "query");

        Assert.False(decision.IsAllowed);
        Assert.Equal(DecisionKind.UnknownAgent, decision.Kind);
    }

    [Theory]
    [InlineData("""{"access_rules": {"researcher": {"servers": ["db"]}}}""")]
    [InlineData("""{"agents": {"researcher": {"allow": {"servers": ["db"]}}}}""")]
    public void Decide_AgentNameDiffersOnlyInCase_IsUnknownAgent(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        Assert.True(policy.DecideServer("researcher", "db").IsAllowed);
        Assert.Equal(DecisionKind.UnknownAgent, policy.DecideServer("Researcher", "db").Kind);
        Assert.Equal(DecisionKind.UnknownAgent, policy.DecideTool("RESEARCHER", "db", "query").Kind);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"]}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}}""")]
    public void DecideServer_ServerNameDiffersOnlyInCase_Denies(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json, ["db", "DB", "Db"]);

        Assert.True(policy.DecideServer("a", "db").IsAllowed);
        Assert.Equal(DecisionKind.ServerNotAllowed, policy.DecideServer("a", "DB").Kind);
        Assert.Equal(DecisionKind.ServerNotAllowed, policy.DecideTool("a", "Db", "query").Kind);
        Assert.Equal(["db"], policy.FindAgent("a")!.AllowedServers);
    }

    [Fact]
    public void DecideServer_DenyPatternDiffersOnlyInCase_DoesNotDeny()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["*"]}, "deny": {"servers": ["PRODUCTION_*"]}}}}
            """);

        Assert.True(policy.DecideServer("a", "production_db").IsAllowed);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db", "cache", "web"]}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["*"]}, "deny": {"servers": ["staging_db"]}}}}""")]
    public void AllowedServers_ListsAllowedConfiguredServersInConfigurationOrder(string json)
    {
        string[] configured = ["web", "staging_db", "cache", "db", "web"];
        PolicySnapshot policy = PolicyFixture.Compile(json, configured);

        AgentPolicy agent = policy.FindAgent("a")!;

        Assert.Equal(["web", "cache", "db"], agent.AllowedServers);
    }

    [Fact]
    public void AllowedServers_ServersNamedInRulesButNotConfigured_AreNotListed()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""{"agents": {"a": {"allow": {"servers": ["db", "ghost"]}}}}""", ["web", "db"]);

        Assert.Equal(["db"], policy.FindAgent("a")!.AllowedServers);
    }
}
