using McpGateway.Policy;
using McpGateway.Tests.Hosting;

namespace McpGateway.Tests.Policy;

/// <summary>
/// Prompts and resources (DESIGN §3): the tool steps (explicit deny, pattern deny, explicit allow, pattern allow), then
/// least privilege: without a list of their own they are granted only when the server's tools are not restricted by an
/// allow list, and withheld otherwise. Every step in both rules-file shapes.
/// </summary>
public sealed class PromptResourcePolicyTests
{
    // db: tools restricted, its own resource and prompt lists. web: tools "*" (not restricted). cache: no tool list.
    // db-main: an empty tool list (allows no tool, so it restricts). staging_db: not allowed at all.
    private const string AgentsRules = """
        {"agents": {"a": {
          "allow": {
            "servers": ["db", "web", "cache", "db-main"],
            "tools": {"db": ["query"], "web": "*", "db-main": []},
            "resources": {"db": ["file:///data/report.csv", "file:///data/*", "db://schema/{table}"], "cache": ["cache://keys/*"]},
            "prompts": {"db": ["summarize", "review_*"]}
          },
          "deny": {
            "resources": {"db": ["file:///data/secrets/*", "file:///data/report.csv"], "*": ["*://admin/*"]},
            "prompts": {"db": ["review_secret"], "*": ["admin_*"]}
          }
        }}}
        """;

    private const string SeedRules = """
        {"access_rules": {
          "a": {
            "servers": ["db", "web", "cache", "db-main"],
            "tools": {"db": ["query"], "web": "*", "db-main": [], "cache": "*"},
            "resources": {"db": ["file:///data/report.csv", "file:///data/*", "db://schema/{table}"], "cache": "*"},
            "prompts": {"db": ["summarize", "review_*"]}
          },
          "b": {"servers": ["db", "web"], "tools": ["query"], "resources": ["file:///*"], "prompts": "*"},
          "c": {"servers": ["db"], "tools": "*"},
          "d": {"servers": ["db"], "tools": ["query"]}
        }}
        """;

    private static PolicyDecision Decide(PolicySnapshot policy, string kind, string agent, string server, string item) => kind switch
    {
        "prompt" => policy.DecidePrompt(agent, server, item),
        "resource" => policy.DecideResource(agent, server, item),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    [Theory]
    // Explicit deny beats explicit allow; pattern deny beats pattern allow.
    [InlineData("resource", "db", "file:///data/report.csv", DecisionKind.ItemDenied, "$.agents.a.deny.resources.db[1]")]
    [InlineData("resource", "db", "file:///data/secrets/key.pem", DecisionKind.ItemDeniedByPattern, "$.agents.a.deny.resources.db[0]")]
    [InlineData("resource", "web", "web://admin/users", DecisionKind.ItemDeniedByPattern, """$.agents.a.deny.resources["*"][0]""")]
    // '*' matches across '/', and a template's uriTemplate text is matched as written.
    [InlineData("resource", "db", "file:///data/2026/q1/sales.csv", DecisionKind.ItemAllowedByPattern, "$.agents.a.allow.resources.db[1]")]
    [InlineData("resource", "db", "db://schema/{table}", DecisionKind.ItemAllowed, "$.agents.a.allow.resources.db[2]")]
    [InlineData("resource", "db", "db://schema/users", DecisionKind.ItemNotAllowed, "$.agents.a.allow.resources.db")]
    [InlineData("resource", "db", "FILE:///data/report.csv", DecisionKind.ItemNotAllowed, "$.agents.a.allow.resources.db")]
    [InlineData("resource", "cache", "cache://keys/a/b", DecisionKind.ItemAllowedByPattern, "$.agents.a.allow.resources.cache[0]")]
    [InlineData("resource", "cache", "cache://stats", DecisionKind.ItemNotAllowed, "$.agents.a.allow.resources.cache")]
    // No resource list: tools "*" do not restrict, so the implicit grant applies; an empty tool list restricts.
    [InlineData("resource", "web", "web://page/1", DecisionKind.ItemImplicitGrant, "$.agents.a.allow.servers[1]")]
    [InlineData("resource", "db-main", "file:///x", DecisionKind.ItemWithheld, "$.agents.a.allow.tools.db-main")]
    [InlineData("resource", "staging_db", "file:///x", DecisionKind.ServerNotAllowed, "$.agents.a.allow.servers")]
    [InlineData("prompt", "db", "review_secret", DecisionKind.ItemDenied, "$.agents.a.deny.prompts.db[0]")]
    [InlineData("prompt", "db", "admin_reset", DecisionKind.ItemDeniedByPattern, """$.agents.a.deny.prompts["*"][0]""")]
    [InlineData("prompt", "db", "summarize", DecisionKind.ItemAllowed, "$.agents.a.allow.prompts.db[0]")]
    [InlineData("prompt", "db", "review_code", DecisionKind.ItemAllowedByPattern, "$.agents.a.allow.prompts.db[1]")]
    [InlineData("prompt", "db", "Summarize", DecisionKind.ItemNotAllowed, "$.agents.a.allow.prompts.db")]
    [InlineData("prompt", "web", "anything", DecisionKind.ItemImplicitGrant, "$.agents.a.allow.servers[1]")]
    [InlineData("prompt", "web", "admin_panel", DecisionKind.ItemDeniedByPattern, """$.agents.a.deny.prompts["*"][0]""")]
    [InlineData("prompt", "cache", "anything", DecisionKind.ItemImplicitGrant, "$.agents.a.allow.servers[2]")]
    [InlineData("prompt", "db-main", "anything", DecisionKind.ItemWithheld, "$.agents.a.allow.tools.db-main")]
    [InlineData("prompt", "staging_db", "summarize", DecisionKind.ServerNotAllowed, "$.agents.a.allow.servers")]
    public void Decide_AgentsShape_TakesTheStepTheTableNames(string kind, string server, string item, DecisionKind expected, string rulePath)
    {
        PolicyDecision decision = Decide(PolicyFixture.Compile(AgentsRules), kind, "a", server, item);

        PolicyFixture.AssertDecision(decision, expected, rulePath);
        Assert.Equal(kind == "prompt" ? ItemKind.Prompt : ItemKind.Resource, decision.Item);
        Assert.Equal(item, decision.ItemName);
        Assert.Null(decision.Tool);
    }

    [Theory]
    [InlineData("resource", "a", "db", "file:///data/report.csv", DecisionKind.ItemAllowed, "$.access_rules.a.resources.db[0]")]
    [InlineData("resource", "a", "db", "file:///data/x/y.csv", DecisionKind.ItemAllowedByPattern, "$.access_rules.a.resources.db[1]")]
    [InlineData("resource", "a", "db", "db://schema/{table}", DecisionKind.ItemAllowed, "$.access_rules.a.resources.db[2]")]
    [InlineData("resource", "a", "db", "db://other", DecisionKind.ItemNotAllowed, "$.access_rules.a.resources.db")]
    [InlineData("resource", "a", "web", "web://page", DecisionKind.ItemImplicitGrant, "$.access_rules.a.servers[1]")]
    [InlineData("resource", "a", "cache", "cache://anything/at/all", DecisionKind.ItemAllowedByPattern, "$.access_rules.a.resources.cache")]
    [InlineData("resource", "a", "db-main", "file:///x", DecisionKind.ItemWithheld, "$.access_rules.a.tools.db-main")]
    [InlineData("resource", "a", "staging_db", "file:///x", DecisionKind.ServerNotAllowed, "$.access_rules.a.servers")]
    [InlineData("prompt", "a", "db", "summarize", DecisionKind.ItemAllowed, "$.access_rules.a.prompts.db[0]")]
    [InlineData("prompt", "a", "db", "review_x", DecisionKind.ItemAllowedByPattern, "$.access_rules.a.prompts.db[1]")]
    [InlineData("prompt", "a", "db", "other", DecisionKind.ItemNotAllowed, "$.access_rules.a.prompts.db")]
    [InlineData("prompt", "a", "web", "anything", DecisionKind.ItemImplicitGrant, "$.access_rules.a.servers[1]")]
    [InlineData("prompt", "a", "cache", "anything", DecisionKind.ItemImplicitGrant, "$.access_rules.a.servers[2]")]
    [InlineData("prompt", "a", "db-main", "anything", DecisionKind.ItemWithheld, "$.access_rules.a.tools.db-main")]
    // An array applies to every allowed server; "*" grants everything.
    [InlineData("resource", "b", "db", "file:///etc/hosts", DecisionKind.ItemAllowedByPattern, "$.access_rules.b.resources[0]")]
    [InlineData("resource", "b", "web", "http://example.com/", DecisionKind.ItemNotAllowed, "$.access_rules.b.resources")]
    [InlineData("prompt", "b", "web", "anything", DecisionKind.ItemAllowedByPattern, "$.access_rules.b.prompts")]
    // "tools": "*" does not restrict; "tools": [...] does, on every allowed server.
    [InlineData("prompt", "c", "db", "anything", DecisionKind.ItemImplicitGrant, "$.access_rules.c.servers[0]")]
    [InlineData("prompt", "d", "db", "anything", DecisionKind.ItemWithheld, "$.access_rules.d.tools")]
    [InlineData("resource", "d", "db", "file:///x", DecisionKind.ItemWithheld, "$.access_rules.d.tools")]
    public void Decide_AccessRulesShape_TakesTheStepTheTableNames(string kind, string agent, string server, string item, DecisionKind expected, string rulePath)
    {
        PolicyDecision decision = Decide(PolicyFixture.Compile(SeedRules), kind, agent, server, item);

        PolicyFixture.AssertDecision(decision, expected, rulePath);
        Assert.Equal(item, decision.ItemName);
    }

    [Fact]
    public void DecideResource_ToolsRestrictedByAllowList_WithholdsResources()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"guest": {"allow": {"servers": ["everything"], "tools": {"everything": ["echo"]}}}}}
            """, ["everything"]);

        PolicyDecision decision = policy.DecideResource("guest", "everything", "demo://x");

        Assert.False(decision.IsAllowed);
        Assert.Equal(DecisionKind.ItemWithheld, decision.Kind);
        Assert.Equal(
            "denied: resource 'demo://x' of server 'everything' is withheld from agent 'guest': its tools of that server are restricted by the allow list at $.agents.guest.allow.tools.everything; grant resources explicitly in $.agents.guest.allow.resources",
            decision.Reason);
    }

    [Fact]
    public void DecidePrompt_ToolsRestrictedByAllowListInAccessRulesShape_SaysWhereToGrantPrompts()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""{"access_rules": {"d": {"servers": ["db"], "tools": {"db": ["query"]}}}}""");

        PolicyDecision decision = policy.DecidePrompt("d", "db", "summarize");

        Assert.Equal(
            "denied: prompt 'summarize' of server 'db' is withheld from agent 'd': its tools of that server are restricted by the allow list at $.access_rules.d.tools.db; grant prompts explicitly in $.access_rules.d.prompts",
            decision.Reason);
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": "*"}}}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["*"]}}}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"*": ["*"], "db": ["query"]}}}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"tools": {"db": ["drop_*"]}}}}}""")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": "*"}}}""")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": "*"}}}}""")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"]}}}""")]
    public void DecideResource_ToolsNotRestrictedByAnAllowList_GrantsImplicitly(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision resource = policy.DecideResource("a", "db", "db://anything");
        PolicyDecision prompt = policy.DecidePrompt("a", "db", "anything");

        Assert.True(resource.IsAllowed);
        Assert.Equal(DecisionKind.ItemImplicitGrant, resource.Kind);
        Assert.Equal(DecisionKind.ItemImplicitGrant, prompt.Kind);
        Assert.Contains("no resource list restricts it and no allow list restricts its tools", resource.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["query"]}}}}}""", "$.agents.a.allow.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": []}}}}}""", "$.agents.a.allow.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["*"], "tools": {"d?": ["query"]}}}}}""", """$.agents.a.allow.tools["d?"]""")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": ["query"]}}}""", "$.access_rules.a.tools")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": {"db": []}}}}""", "$.access_rules.a.tools.db")]
    public void DecidePrompt_ToolsRestrictedByAllowList_WithholdsPrompts(string json, string toolsListPath)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyFixture.AssertDecision(policy.DecidePrompt("a", "db", "summarize"), DecisionKind.ItemWithheld, toolsListPath);
        PolicyFixture.AssertDecision(policy.DecideResource("a", "db", "db://x"), DecisionKind.ItemWithheld, toolsListPath);
    }

    [Fact]
    public void DecideResource_OnlyADenyListWhileToolsAreRestricted_StillWithholds()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["query"]}}, "deny": {"resources": {"db": ["db://secret"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideResource("a", "db", "db://secret"), DecisionKind.ItemDenied, "$.agents.a.deny.resources.db[0]");
        PolicyFixture.AssertDecision(policy.DecideResource("a", "db", "db://public"), DecisionKind.ItemWithheld, "$.agents.a.allow.tools.db");
    }

    [Fact]
    public void DecidePrompt_ResourcesGrantedButPromptsNot_PromptsStayWithheld()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": ["query"]}, "resources": {"db": ["*"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecideResource("a", "db", "db://x"), DecisionKind.ItemAllowedByPattern, "$.agents.a.allow.resources.db[0]");
        PolicyFixture.AssertDecision(policy.DecidePrompt("a", "db", "summarize"), DecisionKind.ItemWithheld, "$.agents.a.allow.tools.db");
    }

    [Fact]
    public void DecideResource_ToolsRestrictedOnOneServerOnly_WithholdsOnThatServerOnly()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""{"agents": {"a": {"allow": {"servers": ["db", "web"], "tools": {"db": ["query"]}}}}}""");

        Assert.Equal(DecisionKind.ItemWithheld, policy.DecideResource("a", "db", "x://y").Kind);
        Assert.Equal(DecisionKind.ItemImplicitGrant, policy.DecideResource("a", "web", "x://y").Kind);
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": ["file:///docs/*"]}}, "deny": {"resources": {"db": ["file:///docs/*"]}}}}}""", DecisionKind.ItemDeniedByPattern)]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": ["file:///docs/a.md"]}}, "deny": {"resources": {"db": ["file:///docs/*"]}}}}}""", DecisionKind.ItemDeniedByPattern)]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": ["file:///*"]}}, "deny": {"resources": {"*": ["file:///docs/a.md"]}}}}}""", DecisionKind.ItemDenied)]
    public void DecideResource_DenyAndAllowBothMatch_DenyWins(string json, DecisionKind expected)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision decision = policy.DecideResource("a", "db", "file:///docs/a.md");

        Assert.False(decision.IsAllowed);
        Assert.Equal(expected, decision.Kind);
    }

    [Fact]
    public void DecidePrompt_DenyAndAllowNameTheSamePrompt_DenyWins()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["db"], "prompts": {"db": ["summarize", "*"]}}, "deny": {"prompts": {"db": ["summarize"]}}}}}
            """);

        PolicyFixture.AssertDecision(policy.DecidePrompt("a", "db", "summarize"), DecisionKind.ItemDenied, "$.agents.a.deny.prompts.db[0]");
        PolicyFixture.AssertDecision(policy.DecidePrompt("a", "db", "review"), DecisionKind.ItemAllowedByPattern, "$.agents.a.allow.prompts.db[1]");
    }

    [Theory]
    [InlineData("file:///docs/*", "file:///docs/a/b/c.md", true)]
    [InlineData("file:///docs/*.md", "file:///docs/a/b/c.md", true)]
    [InlineData("file:///docs/*.md", "file:///docs/a/b/c.txt", false)]
    [InlineData("*://docs/*", "https://docs/x", true)]
    [InlineData("memory://graph", "memory://graph/", false)]
    [InlineData("file:///docs/?.md", "file:///docs/a.md", true)]
    [InlineData("file:///docs/?.md", "file:///docs/ab.md", false)]
    [InlineData("db://{schema}/*", "db://{schema}/{table}", true)]
    [InlineData("db://{schema}/*", "db://public/users", false)]
    public void DecideResource_UriPatterns_MatchAsGlobsAcrossSlashes(string pattern, string uri, bool allowed)
    {
        PolicySnapshot policy = PolicyFixture.Compile(
            """{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": ["PATTERN"]}}}}}""".Replace("PATTERN", pattern, StringComparison.Ordinal));

        Assert.Equal(allowed, policy.DecideResource("a", "db", uri).IsAllowed);
    }

    [Theory]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "resources": "*", "prompts": "*"}}}""")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["*"], "resources": {"*": ["*"]}, "prompts": {"*": ["*"]}}}}}""")]
    public void Decide_UnknownAgent_GetsNoPromptsOrResources(string json)
    {
        PolicySnapshot policy = PolicyFixture.Compile(json);

        PolicyDecision prompt = policy.DecidePrompt("stranger", "db", "summarize");
        PolicyDecision resource = policy.DecideResource("A", "db", "db://x");

        Assert.Equal(DecisionKind.UnknownAgent, prompt.Kind);
        Assert.Equal((ItemKind.Prompt, "summarize"), (prompt.Item, prompt.ItemName));
        Assert.Contains("'stranger' is not in the access rules", prompt.Reason, StringComparison.Ordinal);
        Assert.Equal(DecisionKind.UnknownAgent, resource.Kind);
        Assert.Equal((ItemKind.Resource, "db://x"), (resource.Item, resource.ItemName));
        Assert.True(policy.DecidePrompt("a", "db", "summarize").IsAllowed);
        Assert.Equal(DecisionKind.UnknownAgent, PolicySnapshot.Empty.DecideResource("a", "db", "db://x").Kind);
    }

    [Fact]
    public void DecidePrompt_PromptRulesForServerNotAllowed_GrantNothing()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""
            {"agents": {"a": {"allow": {"servers": ["*"], "prompts": {"*": ["*"]}, "resources": {"*": ["*"]}}, "deny": {"servers": ["db"]}}}}
            """);

        PolicyDecision prompt = policy.DecidePrompt("a", "db", "summarize");

        PolicyFixture.AssertDecision(prompt, DecisionKind.ServerDenied, "$.agents.a.deny.servers[0]");
        Assert.Equal((ItemKind.Prompt, "summarize"), (prompt.Item, prompt.ItemName));
        PolicyFixture.AssertDecision(policy.DecideResource("a", "db", "db://x"), DecisionKind.ServerDenied, "$.agents.a.deny.servers[0]");
        Assert.True(policy.DecideResource("a", "web", "db://x").IsAllowed);
    }

    [Fact]
    public void DecidePrompt_ServerKeyDiffersOnlyInCase_DoesNotApply()
    {
        PolicySnapshot policy = PolicyFixture.Compile("""{"agents": {"a": {"allow": {"servers": ["db"], "prompts": {"DB": ["summarize"]}}}}}""");

        Assert.Equal(DecisionKind.ItemImplicitGrant, policy.DecidePrompt("a", "db", "other").Kind);
    }

    [Fact]
    public void DecideResource_CompiledAgent_AnswersLikeTheSnapshot()
    {
        PolicySnapshot policy = PolicyFixture.Compile(AgentsRules);
        AgentPolicy agent = policy.FindAgent("a")!;

        Assert.Equal(policy.DecideResource("a", "db", "file:///data/x").Kind, agent.DecideResource("db", "file:///data/x").Kind);
        Assert.Equal(policy.DecidePrompt("a", "db-main", "p").Kind, agent.DecidePrompt("db-main", "p").Kind);
        // A server outside the configuration is decided by the rules alone, as for tools.
        Assert.Equal(DecisionKind.ServerNotAllowed, agent.DecideResource("ghost", "x").Kind);
    }

    [Theory]
    [InlineData("prompt", "summarize", "allowed: prompt 'summarize' of server 'db' is listed for agent 'a' at $.agents.a.allow.prompts.db[0] ('summarize')")]
    [InlineData("prompt", "review_x", "allowed: prompt 'review_x' of server 'db' matches the pattern at $.agents.a.allow.prompts.db[1] ('review_*')")]
    [InlineData("prompt", "review_secret", "denied: prompt 'review_secret' of server 'db' is denied to agent 'a' by $.agents.a.deny.prompts.db[0] ('review_secret')")]
    [InlineData("resource", "file:///data/secrets/k", "denied: resource 'file:///data/secrets/k' of server 'db' is denied to agent 'a' by the pattern at $.agents.a.deny.resources.db[0] ('file:///data/secrets/*')")]
    [InlineData("resource", "db://x", "denied: resource 'db://x' of server 'db' matches no entry of $.agents.a.allow.resources.db")]
    public void Reason_PromptAndResourceDecisions_NameTheKindAndTheRule(string kind, string item, string reason)
    {
        Assert.Equal(reason, Decide(PolicyFixture.Compile(AgentsRules), kind, "a", "db", item).Reason);
    }

    [Fact]
    public void Decide_ExampleRulesFile_GuestGetsNoResourcesOrPromptsAndResearcherGetsItsGrants()
    {
        PolicySnapshot policy = PolicyFixture.Compile(
            File.ReadAllText(Path.Combine(RepositoryRoot.Path, "examples", "rules.json")),
            ["everything", "memory", "filesystem"]);

        Assert.True(policy.DecideTool("guest", "everything", "echo").IsAllowed);
        Assert.Equal(DecisionKind.ItemWithheld, policy.DecideResource("guest", "everything", "demo://resource/static/document/architecture.md").Kind);
        Assert.Equal(DecisionKind.ItemWithheld, policy.DecideResource("guest", "everything", "demo://resource/dynamic/text/{resourceId}").Kind);
        Assert.Equal(DecisionKind.ItemWithheld, policy.DecidePrompt("guest", "everything", "simple-prompt").Kind);

        Assert.True(policy.DecidePrompt("researcher", "everything", "simple-prompt").IsAllowed);
        Assert.Equal(DecisionKind.ItemNotAllowed, policy.DecidePrompt("researcher", "everything", "args-prompt").Kind);
        Assert.True(policy.DecideResource("researcher", "everything", "demo://resource/static/document/architecture.md").IsAllowed);
        Assert.True(policy.DecideResource("researcher", "everything", "demo://resource/dynamic/text/{resourceId}").IsAllowed);
        Assert.False(policy.DecideResource("researcher", "everything", "demo://resource/dynamic/blob/{resourceId}").IsAllowed);
        Assert.Equal(DecisionKind.ItemWithheld, policy.DecideResource("researcher", "memory", "memory://graph").Kind);
    }
}
