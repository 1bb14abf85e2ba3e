using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>Mistakes in the access-rules file. Unknown keys are errors here: a misspelt "deny" must never grant silently.</summary>
public sealed class RulesValidationTests
{
    [Fact]
    public void ParseRules_MalformedJson_ReportsLineAndColumn()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {
              "agents": {
                "a": {"allow": {"servers": ["db" "web"]}}
              }
            }
            """);

        ConfigDiagnostic error = Assert.Single(result.Diagnostics);
        Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
        Assert.Equal(ConfigFixture.RulesFile, error.File);
        Assert.Equal(3, error.Line);
        Assert.Equal(38, error.Column);
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }

    [Fact]
    public void ParseRules_UnknownAgentKey_IsAnErrorWithSuggestion()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""{"agents": {"a": {"allow": {"servers": ["*"]}, "dney": {"servers": ["db"]}, "denny": {}}}}""");

        Assert.False(result.Succeeded);
        Assert.Null(result.Value);
        Assert.Collection(
            result.Errors,
            e => ConfigFixture.AssertDiagnostic(e, "$.agents.a.dney", "'dney' is not a known agent property"),
            e =>
            {
                ConfigFixture.AssertDiagnostic(e, "$.agents.a.denny", "'denny' is not a known agent property");
                Assert.Equal("did you mean 'deny'?", e.Fix);
            });
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"server": ["db"]}}}}""", "$.agents.a.allow.server", "did you mean 'servers'?")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}, "default": {}}""", "$.default", "did you mean 'defaults'?")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}, "defaults": {"default_agnet": "a"}}""", "$.defaults.default_agnet", "did you mean 'default_agent'?")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tool": "*"}}}""", "$.access_rules.a.tool", "did you mean 'tools'?")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resource": {}}}}}""", "$.agents.a.allow.resource", "did you mean 'resources'?")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"promts": {}}}}}""", "$.agents.a.deny.promts", "did you mean 'prompts'?")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "prompt": "*"}}}""", "$.access_rules.a.prompt", "did you mean 'prompts'?")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "resourses": ["x"]}}}""", "$.access_rules.a.resourses", "did you mean 'resources'?")]
    public void ParseRules_MisspeltKey_IsAnErrorWithSuggestion(string json, string path, string fix)
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules(json);

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, path, "is not a known");
        Assert.Equal(fix, error.Fix);
    }

    [Fact]
    public void ParseRules_UnrelatedUnknownKey_ListsKnownProperties()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""{"agents": {"a": {"allow": {"servers": ["db"]}, "priority": 3}}}""");

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.agents.a.priority", "'priority' is not a known agent property");
        Assert.Contains("'allow'", error.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseRules_DefaultAgentNotDefined_IsAnErrorWithSuggestion()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"agents": {"guest": {"allow": {"servers": ["db"]}}}, "defaults": {"default_agent": "Guest"}}
            """);

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.defaults.default_agent", "'Guest' is not an agent in this file");
        Assert.Equal("did you mean 'guest'?", error.Fix);
    }

    [Fact]
    public void ParseRules_DefaultAgentDefinedInSeedShape_IsAccepted()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"access_rules": {"guest": {"servers": ["db"]}}, "defaults": {"default_agent": "guest"}}
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal("guest", result.Value!.Defaults.DefaultAgent);
    }

    [Fact]
    public void ParseRules_BothShapes_IsAnError()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"access_rules": {"a": {"servers": ["db"]}}, "agents": {"b": {"allow": {"servers": ["db"]}}}}
            """);

        ConfigFixture.SingleError(result.Diagnostics, "$", "both 'access_rules' and 'agents'");
        Assert.Null(result.Value);
    }

    [Fact]
    public void ParseRules_NeitherShape_IsAnError()
    {
        ConfigFixture.SingleError(ConfigFixture.Rules("""{"defaults": {}}""").Diagnostics, "$", "no 'agents' or 'access_rules' object");
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"servers": "db"}}}}""", "$.agents.a.allow.servers", "a single string here must be \"*\", not 'db'")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": {"db": true}}}}}""", "$.agents.a.allow.servers", "expected an array but found an object")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db", 7]}}}}""", "$.agents.a.allow.servers[1]", "expected a string but found a number")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db", ""]}}}}""", "$.agents.a.allow.servers[1]", "must not be empty")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": [" db"]}}}}""", "$.agents.a.allow.servers[0]", "leading or trailing spaces")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": ["x"]}}}}""", "$.agents.a.allow.tools", "expected an object but found an array")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": "x"}}}}}""", "$.agents.a.allow.tools.db", "a single string here must be \"*\"")]
    [InlineData("""{"agents": {"a": {"allow": ["db"]}}}""", "$.agents.a.allow", "expected an object but found an array")]
    [InlineData("""{"agents": {"a": true}}""", "$.agents.a", "expected an object but found true/false")]
    [InlineData("""{"agents": ["a"]}""", "$.agents", "expected an object but found an array")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": 5}}}""", "$.access_rules.a.tools", "found a number")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "tools": "all"}}}""", "$.access_rules.a.tools", "a single string here must be \"*\", not 'all'")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}, "defaults": {"deny_on_missing_agent": "no"}}""", "$.defaults.deny_on_missing_agent", "expected true or false")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}, "defaults": {"default_agent": 1}}""", "$.defaults.default_agent", "expected a string but found a number")]
    [InlineData("""{"agents": {" ": {"allow": {"servers": ["db"]}}}}""", """$.agents[" "]""", "visible characters")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": ["x"]}}}}""", "$.agents.a.allow.resources", "expected an object but found an array")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"prompts": "*"}}}}""", "$.agents.a.deny.prompts", "expected an object but found a string")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "prompts": {"db": "summarize"}}}}}""", "$.agents.a.allow.prompts.db", "a single string here must be \"*\", not 'summarize'")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": {"uri": "x"}}}}}}""", "$.agents.a.allow.resources.db", "expected an array but found an object")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}, "deny": {"resources": {"db": [" file:///x"]}}}}}""", "$.agents.a.deny.resources.db[0]", "leading or trailing spaces")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "prompts": {"db": ["ok", "review "]}}}}}""", "$.agents.a.allow.prompts.db[1]", "leading or trailing spaces")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": [7]}}}}}""", "$.agents.a.allow.resources.db[0]", "expected a string but found a number")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": {"db": [""]}}}}}""", "$.agents.a.allow.resources.db[0]", "must not be empty")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "prompts": {"": ["x"]}}}}}""", """$.agents.a.allow.prompts[""]""", "the server key is empty")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "resources": 5}}}""", "$.access_rules.a.resources", "found a number")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "prompts": "all"}}}""", "$.access_rules.a.prompts", "a single string here must be \"*\", not 'all'")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "resources": ["file:///x", " file:///y"]}}}""", "$.access_rules.a.resources[1]", "leading or trailing spaces")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "prompts": {"db": ["review", 3]}}}}""", "$.access_rules.a.prompts.db[1]", "expected a string but found a number")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "resources": {"db": "file:///x"}}}}""", "$.access_rules.a.resources.db", "a single string here must be \"*\"")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "prompts": null}}}""", "$.access_rules.a.prompts", "expected \"*\", an array or an object")]
    public void ParseRules_WrongShapeOfValue_IsAnErrorAtItsPath(string json, string path, string messageFragment)
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules(json);

        Assert.Null(result.Value);
        ConfigFixture.SingleError(result.Diagnostics, path, messageFragment);
    }

    [Fact]
    public void ParseRules_DuplicateAgent_IsAnError()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"agents": {
              "a": {"allow": {"servers": ["db"]}},
              "a": {"allow": {"servers": ["*"]}}
            }}
            """);

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.agents.a", "appears more than once");
        Assert.Equal(3, error.Line);
        Assert.Equal(3, error.Column);
    }

    [Fact]
    public void ParseRules_DenyOnMissingAgentFalse_IsAcceptedWithAWarning()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"agents": {"a": {"allow": {"servers": ["db"]}}}, "defaults": {"deny_on_missing_agent": false}}
            """);

        Assert.True(result.Succeeded);
        Assert.False(result.Value!.Defaults.DenyOnMissingAgent);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.defaults.deny_on_missing_agent", "still denied everything");
    }

    [Fact]
    public void ParseRules_AgentWithoutAllow_IsAcceptedWithAWarning()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""{"agents": {"a": {"deny": {"servers": ["db"]}}}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.agents.a", "has no 'allow' section");
    }

    [Fact]
    public void ParseRules_GatewayToolInSeedToolsList_IsAWarning()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"access_rules": {"main_orchestrator": {"servers": [], "tools": ["list_servers", "get_server_tools"]}}}
            """);

        Assert.True(result.Succeeded);
        Assert.Equal(
            ["$.access_rules.main_orchestrator.tools[0]", "$.access_rules.main_orchestrator.tools[1]"],
            result.Warnings.Select(w => w.JsonPath));
    }

    [Fact]
    public void ParseRules_CommentsAndTrailingCommas_AreAccepted()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {
              // who may use what
              "agents": {
                "a": {
                  "description": "an agent", /* inline */
                  "allow": {"servers": ["db",],},
                },
              },
            }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(RulesShape.Agents, result.Value!.Shape);
        Assert.Equal("$.agents.a", result.Value.Agents[0].SourcePath);
    }

    [Fact]
    public void ParseRules_SixMistakes_ReportsAllSixInOnePass()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {
              "agents": {
                "a": {"alow": {"servers": ["db"]}},
                "b": {"allow": {"servers": "db"}},
                "c": {"allow": {"servers": ["db"], "tools": {"db": [3]}}},
                "d": {"allow": {"servers": ["db"]}, "deny": {"servers": [" web"]}},
                "e": "everything"
              },
              "defaults": {"default_agent": "nobody"}
            }
            """);

        Assert.Null(result.Value);
        Assert.Equal(
            [
                "$.agents.a.alow",
                "$.agents.b.allow.servers",
                "$.agents.c.allow.tools.db[0]",
                "$.agents.d.deny.servers[0]",
                "$.agents.e",
                "$.defaults.default_agent",
            ],
            result.Errors.Select(e => e.JsonPath));
        Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Fix)));
        Assert.Equal([3, 4, 5, 6, 7, 9], result.Errors.Select(e => e.Line ?? 0));
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "resources": ["x"]}}}}""", "$.agents.a.allow.resources", "file:///docs/*")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "prompts": {"db": 1}}}}}""", "$.agents.a.allow.prompts.db", "prompt names")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "resources": 5}}}""", "$.access_rules.a.resources", "an array of resource URI patterns")]
    [InlineData("""{"access_rules": {"a": {"servers": ["db"], "prompts": "all"}}}""", "$.access_rules.a.prompts", "[\"all\"]")]
    public void ParseRules_BadResourceOrPromptValue_FixShowsWhatToWrite(string json, string path, string fixFragment)
    {
        ConfigDiagnostic error = Assert.Single(ConfigFixture.Rules(json).Errors);

        Assert.Equal(path, error.JsonPath);
        Assert.Contains(fixFragment, error.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseRules_ResourcesAndPromptsInAgentsShape_AreReadWithTheirPaths()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"agents": {"a": {
              "allow": {"servers": ["db"], "resources": {"db": ["file:///docs/*", "memory://graph"]}, "prompts": {"db": "*"}},
              "deny": {"prompts": {"*": ["admin_*"]}}
            }}}
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        AgentRulesConfig agent = Assert.Single(result.Value!.Agents);
        ItemRuleConfig resources = Assert.Single(agent.Allow.Resources);
        Assert.Equal(new RulePattern("db", "$.agents.a.allow.resources.db"), resources.Server);
        Assert.Equal(
            [new RulePattern("file:///docs/*", "$.agents.a.allow.resources.db[0]"), new RulePattern("memory://graph", "$.agents.a.allow.resources.db[1]")],
            resources.Patterns);
        Assert.Equal([new RulePattern("*", "$.agents.a.allow.prompts.db")], Assert.Single(agent.Allow.Prompts).Patterns);
        Assert.Equal(new RulePattern("*", """$.agents.a.deny.prompts["*"]"""), Assert.Single(agent.Deny.Prompts).Server);
        Assert.Empty(agent.Deny.Resources);
        Assert.Equal("$.agents.a.allow", agent.Allow.SourcePath);
    }

    [Fact]
    public void ParseRules_ResourcesAndPromptsInAccessRulesShape_AreReadWithTheirPaths()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {"access_rules": {"a": {"servers": ["db", "web"], "resources": ["file:///docs/*"], "prompts": {"web": ["summarize"]}}}}
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        AgentRulesConfig agent = Assert.Single(result.Value!.Agents);
        ItemRuleConfig resources = Assert.Single(agent.Allow.Resources);
        Assert.Equal(new RulePattern("*", "$.access_rules.a.resources"), resources.Server);
        Assert.Equal([new RulePattern("file:///docs/*", "$.access_rules.a.resources[0]")], resources.Patterns);
        ItemRuleConfig prompts = Assert.Single(agent.Allow.Prompts);
        Assert.Equal(new RulePattern("web", "$.access_rules.a.prompts.web"), prompts.Server);
        Assert.Equal("$.access_rules.a", agent.Allow.SourcePath);
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"prompts": {"db": ["x"]}}}}}""", "has prompt rules but no 'servers' list", "these prompts stay out of reach")]
    [InlineData("""{"agents": {"a": {"allow": {"tools": {"db": ["x"]}, "resources": {"db": ["x"]}}}}}""", "has tool and resource rules but no 'servers' list", "these tools and resources stay out of reach")]
    public void ParseRules_ItemRulesWithoutServers_WarnThatNothingIsReachable(string json, string fragment, string consequence)
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules(json);

        Assert.True(result.Succeeded);
        ConfigDiagnostic warning = ConfigFixture.SingleWarning(result.Diagnostics, "$.agents.a.allow", fragment);
        Assert.Contains(consequence, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseRules_ResourceAndPromptMistakes_ReportedInOnePassWithLines()
    {
        ConfigLoadResult<RulesConfig> result = ConfigFixture.Rules("""
            {
              "agents": {
                "a": {"allow": {"servers": ["db"], "resources": {"db": [" file:///x"]}}},
                "b": {"allow": {"servers": ["db"], "prompt": {}}}
              }
            }
            """);

        Assert.Equal(["$.agents.a.allow.resources.db[0]", "$.agents.b.allow.prompt"], result.Errors.Select(e => e.JsonPath));
        Assert.Equal([3, 4], result.Errors.Select(e => e.Line ?? 0));
        Assert.All(result.Errors, e => Assert.NotNull(e.Column));
    }
}
