using McpGateway.Configuration;
using McpGateway.Policy;
using McpGateway.Tests.Hosting;

namespace McpGateway.Tests.Policy;

/// <summary>The seed guide's <c>access_rules</c> shape: every form its <c>tools</c> value can take.</summary>
public sealed class SeedShapePolicyTests
{
    [Fact]
    public void ParseRules_AccessRulesKey_ReportsTheSeedShape()
    {
        RulesConfig rules = PolicyFixture.Parse("""{"access_rules": {"a": {"servers": ["db"]}}}""");

        Assert.Equal(RulesShape.AccessRules, rules.Shape);
        Assert.Equal("a", Assert.Single(rules.Agents).Name);
    }

    [Fact]
    public void DecideTool_ToolsStar_AllowsEveryToolOfEveryAllowedServerOnly()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""{"access_rules": {"a": {"servers": ["db", "web"], "tools": "*"}}}""");

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_table"), DecisionKind.ItemAllowedByPattern, "$.access_rules.a.tools");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "fetch"), DecisionKind.ItemAllowedByPattern, "$.access_rules.a.tools");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "cache", "get"), DecisionKind.ServerNotAllowed, "$.access_rules.a.servers");
    }

    [Fact]
    public void DecideTool_ToolsMapServerStar_AllowsEveryToolOfThatServer()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"access_rules": {"a": {"servers": ["db", "web"], "tools": {"db": "*", "web": ["fetch"]}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_table"), DecisionKind.ItemAllowedByPattern, "$.access_rules.a.tools.db");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "fetch"), DecisionKind.ItemAllowed, "$.access_rules.a.tools.web[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "post"), DecisionKind.ItemNotAllowed, "$.access_rules.a.tools.web");
    }

    [Fact]
    public void DecideTool_ToolsMapServerList_AllowsListedToolsOfThatServer()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"access_rules": {"a": {"servers": ["web"], "tools": {"web": ["navigate", "screenshot"]}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "screenshot"), DecisionKind.ItemAllowed, "$.access_rules.a.tools.web[1]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "click"), DecisionKind.ItemNotAllowed, "$.access_rules.a.tools.web");
    }

    [Fact]
    public void DecideTool_ToolsArray_AppliesToEveryAllowedServer()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""{"access_rules": {"a": {"servers": ["db", "web"], "tools": ["ping", "get_*"]}}}""");

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "ping"), DecisionKind.ItemAllowed, "$.access_rules.a.tools[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "ping"), DecisionKind.ItemAllowed, "$.access_rules.a.tools[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "get_page"), DecisionKind.ItemAllowedByPattern, "$.access_rules.a.tools[1]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_table"), DecisionKind.ItemNotAllowed, "$.access_rules.a.tools");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "cache", "ping"), DecisionKind.ServerNotAllowed, "$.access_rules.a.servers");
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": []}}}""")]
    [InlineData("""{"access_rules": {"a": {"servers": [], "tools": "*"}}}""")]
    [InlineData("""{"access_rules": {"a": {"servers": [], "tools": {"db": "*"}}}}""")]
    [InlineData("""{"access_rules": {"a": {"tools": "*"}}}""")]
    public void Decide_NoServersListed_GetsNothing(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        Assert.Empty(policy.FindAgent("a")!.AllowedServers);
        foreach (string server in PolicyFixture.Servers)
        {
            PolicyFixture.AssertDecision(policy.DecideServer("a", server), DecisionKind.ServerNotAllowed, "$.access_rules.a.servers");
            PolicyFixture.AssertDecision(policy.DecideTool("a", server, "query"), DecisionKind.ServerNotAllowed, "$.access_rules.a.servers");
        }
    }

    [Fact]
    public void Decide_ExampleAccessRulesFile_MatchesTheSeedGuide()
    {
        PolicySnapshot policy = PolicyFixture.Compile(
            File.ReadAllText(Path.Combine(RepositoryRoot.Path, "examples", "access_rules.json")),
            ["everything", "memory", "filesystem"]);

        Assert.Empty(policy.FindAgent("main_orchestrator")!.AllowedServers);
        Assert.Equal(["everything", "memory"], policy.FindAgent("researcher_agent")!.AllowedServers);
        Assert.True(policy.DecideTool("researcher_agent", "memory", "read_graph").IsAllowed);
        Assert.False(policy.DecideTool("researcher_agent", "filesystem", "read_text_file").IsAllowed);
        Assert.True(policy.DecideTool("frontend_agent", "everything", "echo").IsAllowed);
        Assert.True(policy.DecideTool("frontend_agent", "filesystem", "list_directory").IsAllowed);
        Assert.False(policy.DecideTool("frontend_agent", "filesystem", "write_file").IsAllowed);
        Assert.True(policy.DecideResource("frontend_agent", "everything", "demo://resource/static/document/a.md").IsAllowed);
        Assert.Equal(DecisionKind.ItemNotAllowed, policy.DecideResource("frontend_agent", "filesystem", "file:///etc/hosts").Kind);
        Assert.True(policy.DecidePrompt("frontend_agent", "everything", "simple-prompt").IsAllowed);
        Assert.Equal(DecisionKind.ItemWithheld, policy.DecidePrompt("frontend_agent", "filesystem", "any").Kind);
        Assert.Equal(DecisionKind.ItemImplicitGrant, policy.DecidePrompt("researcher_agent", "memory", "any").Kind);
    }
}
