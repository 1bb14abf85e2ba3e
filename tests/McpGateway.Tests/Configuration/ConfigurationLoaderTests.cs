using McpGateway.Configuration;
using McpGateway.Policy;

namespace McpGateway.Tests.Configuration;

/// <summary>The two files checked against each other, and loading from disk.</summary>
public sealed class ConfigurationLoaderTests : IDisposable
{
    private const string TwoServers = """{"mcpServers": {"github": {"command": "x"}, "docs-search": {"url": "https://h/mcp"}}}""";

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-loader-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ConfigLoadResult<ConfigurationSnapshot> Combine(string servers, string rules, string? defaultAgentOverride = null)
    {
        ConfigLoadResult<ServersConfig> serversResult = ConfigFixture.Servers(servers);
        ConfigLoadResult<RulesConfig> rulesResult = ConfigFixture.Rules(rules);
        var diagnostics = serversResult.Diagnostics.Concat(rulesResult.Diagnostics).ToList();
        return ConfigurationLoader.Combine(serversResult.Value, rulesResult.Value, diagnostics, defaultAgentOverride);
    }

    [Fact]
    public void Combine_RulesNameUnknownServer_WarnsWithSuggestionAndStillLoads()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"agents": {"a": {"allow": {"servers": ["github", "githb"]}}}}""");

        Assert.True(result.Succeeded);
        ConfigDiagnostic warning = ConfigFixture.SingleWarning(result.Diagnostics, "$.agents.a.allow.servers[1]", "'githb' is not a configured server");
        Assert.Equal(ConfigFixture.RulesFile, warning.File);
        Assert.Equal((1, 51), (warning.Line, warning.Column));
        Assert.Contains("did you mean 'github'?", warning.Fix, StringComparison.Ordinal);
        Assert.True(result.Value!.Policy.DecideServer("a", "github").IsAllowed);
    }

    [Fact]
    public void Combine_SeedShapeToolsKeyNamesUnknownServer_Warns()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"access_rules": {"a": {"servers": ["github"], "tools": {"github": "*", "playwright": "*"}}}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.access_rules.a.tools.playwright", "'playwright' is not a configured server");
    }

    [Fact]
    public void Combine_ResourceAndPromptServerKeysNameUnknownServers_WarnWithPositionAndSuggestion()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """
            {"agents": {"a": {"allow": {"servers": ["github"], "resources": {"githb": ["x"]}}, "deny": {"prompts": {"docs-*": ["x"], "wiki-*": ["y"]}}}}}
            """);

        Assert.True(result.Succeeded);
        Assert.Equal(["$.agents.a.allow.resources.githb", """$.agents.a.deny.prompts["wiki-*"]"""], result.Warnings.Select(w => w.JsonPath));
        ConfigDiagnostic unknown = result.Warnings.First();
        Assert.Contains("'githb' is not a configured server", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("did you mean 'github'?", unknown.Fix, StringComparison.Ordinal);
        Assert.Equal((1, 66), (unknown.Line, unknown.Column));
        Assert.Contains("the pattern 'wiki-*' matches no configured server", result.Warnings.Last().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Combine_SeedShapePromptsKeyNamesUnknownServer_Warns()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"access_rules": {"a": {"servers": ["github"], "prompts": {"playwright": "*"}, "resources": ["x://*"]}}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.access_rules.a.prompts.playwright", "'playwright' is not a configured server");
    }

    [Fact]
    public void Combine_SeedShapeAllowedServerLeftOutOfToolsMap_WarnsAboutTheImplicitGrant()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"access_rules": {"a": {"servers": ["github"], "tools": {"docs-search": ["x"]}}}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.access_rules.a.servers[0]", "all of its tools are allowed (implicit grant)");
    }

    [Fact]
    public void Combine_AgentsShapeToolRulesWithoutServers_WarnsThatNothingIsReachable()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"agents": {"a": {"allow": {"tools": {"github": ["x"]}}}}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.agents.a.allow", "has tool rules but no 'servers' list");
    }

    [Fact]
    public void Combine_PatternMatchingNoServer_Warns()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"agents": {"a": {"allow": {"servers": ["*"]}, "deny": {"servers": ["prod-*"]}}}}""");

        Assert.True(result.Succeeded);
        ConfigFixture.SingleWarning(result.Diagnostics, "$.agents.a.deny.servers[0]", "the pattern 'prod-*' matches no configured server");
    }

    [Fact]
    public void Combine_PatternsMatchingConfiguredServers_DoNotWarn()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"agents": {"a": {"allow": {"servers": ["*", "docs-*"], "tools": {"git?ub": ["x"]}}}}}""");

        Assert.True(result.Succeeded);
        Assert.Empty(result.Diagnostics);
    }

    [Fact]
    public void Combine_DefaultAgentOverrideNotInRules_IsAnError()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"agents": {"a": {"allow": {"servers": ["github"]}}}}""", "b");

        Assert.False(result.Succeeded);
        ConfigDiagnostic error = Assert.Single(result.Errors);
        Assert.Contains("'b'", error.Message, StringComparison.Ordinal);
        Assert.Contains(ConfigurationLoader.DefaultAgentVariable, error.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }

    [Fact]
    public void Combine_DefaultAgentOverrideInRules_Wins()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(
            TwoServers,
            """{"agents": {"a": {"allow": {"servers": ["github"]}}, "b": {"allow": {"servers": ["github"]}}}, "defaults": {"default_agent": "a"}}""",
            "b");

        Assert.True(result.Succeeded);
        Assert.Equal("b", result.Value!.Policy.DefaultAgent);
    }

    [Fact]
    public void Combine_OneFileInvalid_GivesNoSnapshotButKeepsEveryDiagnostic()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(
            """{"mcpServers": {"a": {}}}""",
            """{"agents": {"a": {"alow": {}}}}""");

        Assert.Null(result.Value);
        Assert.Equal(["$.mcpServers.a", "$.agents.a.alow"], result.Errors.Select(e => e.JsonPath));
    }

    [Fact]
    public void Combine_ValidFiles_CompilesPolicyAgainstConfiguredServers()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(TwoServers, """{"agents": {"a": {"allow": {"servers": ["*"]}, "deny": {"servers": ["github"]}}}}""");

        Assert.True(result.Succeeded);
        Assert.Equal(["docs-search"], result.Value!.Policy.FindAgent("a")!.AllowedServers);
    }

    [Fact]
    public void Load_FilesOnDisk_ReadsBothAndUsesEnvironmentDefaultAgent()
    {
        string servers = Write("servers.json", TwoServers);
        string rules = Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["github"]}}, "b": {"allow": {"servers": ["*"]}}}}""");

        ConfigLoadResult<ConfigurationSnapshot> result = ConfigurationLoader.Load(
            new ConfigLocation(servers, "test", []),
            new ConfigLocation(rules, "test", []),
            ConfigFixture.Environment((ConfigurationLoader.DefaultAgentVariable, "b")));

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(servers, result.Value!.Servers.SourceFile);
        Assert.Equal(rules, result.Value.Rules.SourceFile);
        Assert.Equal("b", result.Value.Policy.DefaultAgent);
    }

    [Fact]
    public void Load_MissingFiles_ReportsEachWithoutThrowing()
    {
        string missing = Path.Combine(_folder, "missing.json");

        ConfigLoadResult<ConfigurationSnapshot> result = ConfigurationLoader.Load(
            new ConfigLocation(missing, "--config", []),
            new ConfigLocation(null, "not found", ["/x/.mcp-gateway-rules.json"]),
            ConfigFixture.Environment());

        Assert.Null(result.Value);
        Assert.Collection(
            result.Errors,
            e =>
            {
                Assert.Equal(missing, e.File);
                Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
            },
            e =>
            {
                Assert.Contains("no access rules file found", e.Message, StringComparison.Ordinal);
                Assert.Contains("/x/.mcp-gateway-rules.json", e.Message, StringComparison.Ordinal);
                Assert.Contains("--rules", e.Fix, StringComparison.Ordinal);
            });
    }

    [Fact]
    public void Load_FileErrors_CarryTheRealFileName()
    {
        string servers = Write("servers.json", """{"mcpServers": {"a": {"command": "x", "url": "https://h/mcp"}}}""");
        string rules = Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["a"]}}}}""");

        ConfigLoadResult<ConfigurationSnapshot> result = ConfigurationLoader.Load(
            new ConfigLocation(servers, "test", []), new ConfigLocation(rules, "test", []), ConfigFixture.Environment());

        ConfigDiagnostic error = Assert.Single(result.Errors);
        Assert.Equal(servers, error.File);
        Assert.StartsWith(servers + ":1:", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ExampleFiles_WrittenByInit_LoadWithoutDiagnostics()
    {
        ConfigLoadResult<ConfigurationSnapshot> result = Combine(ExampleFiles.Servers, ExampleFiles.Rules);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        Assert.Equal("guest", result.Value!.Policy.DefaultAgent);
        Assert.Equal(DecisionKind.ItemDenied, result.Value.Policy.DecideTool("assistant", "everything", "get-env").Kind);
        Assert.Equal(DecisionKind.ItemImplicitGrant, result.Value.Policy.DecideResource("assistant", "everything", "demo://x").Kind);
        Assert.Equal(DecisionKind.ItemAllowed, result.Value.Policy.DecidePrompt("researcher", "everything", "simple-prompt").Kind);
        Assert.Equal(DecisionKind.ItemWithheld, result.Value.Policy.DecidePrompt("guest", "everything", "simple-prompt").Kind);
        Assert.Equal(DecisionKind.ItemWithheld, result.Value.Policy.DecideResource("guest", "everything", "demo://resource/static/document/a.md").Kind);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }
}
