using McpGateway.Policy;

namespace McpGateway.Tests.Policy;

/// <summary>
/// The tool steps of DESIGN §3, in order: explicit deny, wildcard deny, explicit allow, wildcard allow, implicit grant,
/// otherwise deny. Each case runs in both rules-file shapes where the shape can express it.
/// </summary>
public sealed class ToolPolicyTests
{
    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"]}}}""", "$.access_rules.a.servers[0]")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}}""", "$.agents.a.allow.servers[0]")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"web": ["get"]}}}}}""", "$.agents.a.allow.servers[0]")]
    public void DecideTool_ServerAllowedWithoutToolList_GrantsImplicitly(string json, string serverRulePath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision decision = policy.DecideTool("a", "db", "drop_table");

        Assert.True(decision.IsAllowed);
        Assert.Equal("drop_table", decision.Tool);
        PolicyFixture.AssertDecision(decision, DecisionKind.ItemImplicitGrant, serverRulePath);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": ["list_users", "get_user"]}}}}""", "$.access_rules.a.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["list_users", "get_user"]}}}}}""", "$.agents.a.allow.tools.db")]
    public void DecideTool_ExplicitAllowList_AllowsListedToolsOnly(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision listed = policy.DecideTool("a", "db", "get_user");
        PolicyDecision unlisted = policy.DecideTool("a", "db", "drop_table");

        Assert.True(listed.IsAllowed);
        PolicyFixture.AssertDecision(listed, DecisionKind.ItemAllowed, listPath + "[1]");
        Assert.False(unlisted.IsAllowed);
        PolicyFixture.AssertDecision(unlisted, DecisionKind.ItemNotAllowed, listPath);
    }

    [Fact]
    public void DecideTool_WildcardDenyBeatsExplicitAllow_Denies()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {
              "allow": {"servers": ["db"], "tools": {"db": ["delete_user", "get_user"]}},
              "deny": {"tools": {"db": ["delete_*"]}}
            }}}
            """);

        PolicyDecision delete = policy.DecideTool("a", "db", "delete_user");
        PolicyDecision get = policy.DecideTool("a", "db", "get_user");

        Assert.False(delete.IsAllowed);
        PolicyFixture.AssertDecision(delete, DecisionKind.ItemDeniedByPattern, "$.agents.a.deny.tools.db[0]");
        Assert.True(get.IsAllowed);
        PolicyFixture.AssertDecision(get, DecisionKind.ItemAllowed, "$.agents.a.allow.tools.db[1]");
    }

    [Fact]
    public void DecideTool_ExplicitDenyBeatsWildcardAllow_Denies()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {
              "allow": {"servers": ["db"], "tools": {"db": ["*"]}},
              "deny": {"tools": {"db": ["drop_table"]}}
            }}}
            """);

        PolicyDecision drop = policy.DecideTool("a", "db", "drop_table");
        PolicyDecision query = policy.DecideTool("a", "db", "query");

        Assert.False(drop.IsAllowed);
        PolicyFixture.AssertDecision(drop, DecisionKind.ItemDenied, "$.agents.a.deny.tools.db[0]");
        Assert.True(query.IsAllowed);
        PolicyFixture.AssertDecision(query, DecisionKind.ItemAllowedByPattern, "$.agents.a.allow.tools.db[0]");
    }

    [Fact]
    public void DecideTool_ExplicitDenyBeatsExplicitAllow_Denies()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {
              "allow": {"servers": ["db"], "tools": {"db": ["drop_table"]}},
              "deny": {"tools": {"db": ["drop_table"]}}
            }}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_table"), DecisionKind.ItemDenied, "$.agents.a.deny.tools.db[0]");
    }

    [Fact]
    public void DecideTool_ExactAndWildcardDenyBothMatch_CitesTheExactEntry()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"tools": {"db": ["delete_*", "delete_user"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "delete_user"), DecisionKind.ItemDenied, "$.agents.a.deny.tools.db[1]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "delete_item"), DecisionKind.ItemDeniedByPattern, "$.agents.a.deny.tools.db[0]");
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": ["get_*", "get_user"]}}}}""", "$.access_rules.a.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["get_*", "get_user"]}}}}}""", "$.agents.a.allow.tools.db")]
    public void DecideTool_ExactAndWildcardAllowBothMatch_CitesTheExactEntry(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "get_user"), DecisionKind.ItemAllowed, listPath + "[1]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "get_item"), DecisionKind.ItemAllowedByPattern, listPath + "[0]");
    }

    [Fact]
    public void DecideTool_DenyListWithoutAllowList_DeniesMatchesAndGrantsTheRest()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"tools": {"db": ["drop_*"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_table"), DecisionKind.ItemDeniedByPattern, "$.agents.a.deny.tools.db[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "query"), DecisionKind.ItemImplicitGrant, "$.agents.a.allow.servers[0]");
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": ["*_query"]}}}}""", "$.access_rules.a.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["*_query"]}}}}}""", "$.agents.a.allow.tools.db")]
    public void DecideTool_SuffixWildcard_MatchesOnlyNamesWithTheSuffix(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "read_query"), DecisionKind.ItemAllowedByPattern, listPath + "[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "_query"), DecisionKind.ItemAllowedByPattern, listPath + "[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "query"), DecisionKind.ItemNotAllowed, listPath);
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "read_query_all"), DecisionKind.ItemNotAllowed, listPath);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": ["get_v?"]}}}}""", "$.access_rules.a.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["get_v?"]}}}}}""", "$.agents.a.allow.tools.db")]
    public void DecideTool_QuestionMarkPattern_MatchesExactlyOneCharacter(string json, string listPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "get_v2"), DecisionKind.ItemAllowedByPattern, listPath + "[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "get_v"), DecisionKind.ItemNotAllowed, listPath);
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "get_v10"), DecisionKind.ItemNotAllowed, listPath);
    }

    [Fact]
    public void DecideTool_QuestionMarkDenyPattern_DeniesExactlyOneCharacter()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"tools": {"db": ["drop_?"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_x"), DecisionKind.ItemDeniedByPattern, "$.agents.a.deny.tools.db[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "drop_xy"), DecisionKind.ItemImplicitGrant, "$.agents.a.allow.servers[0]");
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["web"], "tools": {"db": ["query"]}}}}""", "$.access_rules.a.servers")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["web"], "tools": {"db": ["query"]}}}}}""", "$.agents.a.allow.servers")]
    [InlineData("""{"agents": {"a": {"allow": {"tools": {"db": ["query"]}}}}}""", "$.agents.a.allow.servers")]
    public void DecideTool_ToolRulesForServerNotAllowed_GrantNothing(string json, string serverListPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision decision = policy.DecideTool("a", "db", "query");

        Assert.False(decision.IsAllowed);
        Assert.Equal("query", decision.Tool);
        PolicyFixture.AssertDecision(decision, DecisionKind.ServerNotAllowed, serverListPath);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["*"], "tools": {"db-*": ["read_*"]}}}}""", "$.access_rules.a")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["*"], "tools": {"db-*": ["read_*"]}}}}}""", "$.agents.a.allow")]
    public void DecideTool_ToolsKeyIsAGlob_AppliesToEveryMatchingServer(string json, string allowPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db-main", "read_rows"), DecisionKind.ItemAllowedByPattern, allowPath + """.tools["db-*"][0]""");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db-main", "write_rows"), DecisionKind.ItemNotAllowed, allowPath + """.tools["db-*"]""");
        // "db" does not match "db-*": no tool list restricts it.
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "write_rows"), DecisionKind.ItemImplicitGrant, allowPath + ".servers[0]");
    }

    [Fact]
    public void DecideTool_DenyToolsKeyIsStar_DeniesOnEveryServer()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["*"]}, "deny": {"tools": {"*": ["delete_*"]}}}}}
            """);

        foreach (string server in PolicyFixture.Servers)
        {
            PolicyFixture.AssertDecision(policy.DecideTool("a", server, "delete_user"), DecisionKind.ItemDeniedByPattern, """$.agents.a.deny.tools["*"][0]""");
            Assert.True(policy.DecideTool("a", server, "get_user").IsAllowed);
        }
    }

    [Fact]
    public void DecideTool_SeveralToolListsMatchOneServer_AreMerged()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["*"], "tools": {"*": ["ping"], "db": ["query"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "ping"), DecisionKind.ItemAllowed, """$.agents.a.allow.tools["*"][0]""");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "db", "query"), DecisionKind.ItemAllowed, "$.agents.a.allow.tools.db[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "web", "query"), DecisionKind.ItemNotAllowed, """$.agents.a.allow.tools["*"]""");
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": ["get_user"]}}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["get_user"]}}}}}""")]
    public void DecideTool_AllowedToolNameDiffersOnlyInCase_Denies(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        Assert.True(policy.DecideTool("a", "db", "get_user").IsAllowed);
        Assert.Equal(DecisionKind.ItemNotAllowed, policy.DecideTool("a", "db", "Get_User").Kind);
        Assert.Equal(DecisionKind.ItemNotAllowed, policy.DecideTool("a", "db", "GET_USER").Kind);
    }

    [Fact]
    public void DecideTool_DeniedToolNameDiffersOnlyInCase_IsNotDenied()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"tools": {"db": ["delete_user", "drop_*"]}}}}}
            """);

        Assert.Equal(DecisionKind.ItemImplicitGrant, policy.DecideTool("a", "db", "Delete_User").Kind);
        Assert.Equal(DecisionKind.ItemImplicitGrant, policy.DecideTool("a", "db", "DROP_table").Kind);
    }

    [Fact]
    public void DecideTool_ToolsKeyDiffersFromServerOnlyInCase_DoesNotApply()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"tools": {"DB": ["query"]}}}}}
            """);

        Assert.Equal(DecisionKind.ItemImplicitGrant, policy.DecideTool("a", "db", "query").Kind);
    }

    [Fact]
    public void DecideTool_ServerOutsideTheConfiguration_IsDecidedByTheRulesAlone()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["*"], "tools": {"ghost": ["read"]}}}}}
            """, ["db"]);

        PolicyFixture.AssertDecision(policy.DecideTool("a", "ghost", "read"), DecisionKind.ItemAllowed, "$.agents.a.allow.tools.ghost[0]");
        PolicyFixture.AssertDecision(policy.DecideTool("a", "ghost", "write"), DecisionKind.ItemNotAllowed, "$.agents.a.allow.tools.ghost");
    }

    [Theory]
    [InlineData("db", "drop_table", "denied: tool 'drop_table' of server 'db' is denied to agent 'a' by $.agents.a.deny.tools.db[0] ('drop_table')")]
    [InlineData("db", "delete_user", "denied: tool 'delete_user' of server 'db' is denied to agent 'a' by the pattern at $.agents.a.deny.tools.db[1] ('delete_*')")]
    [InlineData("db", "get_user", "allowed: tool 'get_user' of server 'db' is listed for agent 'a' at $.agents.a.allow.tools.db[0] ('get_user')")]
    [InlineData("db", "list_users", "allowed: tool 'list_users' of server 'db' matches the pattern at $.agents.a.allow.tools.db[1] ('list_*')")]
    [InlineData("db", "query", "denied: tool 'query' of server 'db' matches no entry of $.agents.a.allow.tools.db")]
    [InlineData("web", "fetch", "allowed: agent 'a' may use server 'web' ($.agents.a.allow.servers[1] ('web')) and no tool list restricts it")]
    public void Reason_ToolDecisions_KeepTheirWording(string server, string tool, string reason)
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {
              "allow": {"servers": ["db", "web"], "tools": {"db": ["get_user", "list_*"]}},
              "deny": {"tools": {"db": ["drop_table", "delete_*"]}}
            }}}
            """);

        PolicyDecision decision = policy.DecideTool("a", server, tool);

        Assert.Equal(reason, decision.Reason);
        Assert.Equal(ItemKind.Tool, decision.Item);
        Assert.Equal(tool, decision.ItemName);
        Assert.Equal(tool, decision.Tool);
    }

    [Fact]
    public void DecideServer_ServerDecision_HasNoItem()
    {
        PolicyDecision decision = PolicyFixture.Compile("""{"agents": {"a": {"allow": {"servers": ["db"]}}}}""").DecideServer("a", "db");

        Assert.Equal(ItemKind.Server, decision.Item);
        Assert.Null(decision.ItemName);
        Assert.Null(decision.Tool);
    }
}
