using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary><c>mcp-gateway validate</c>: exit 0 only when both files can be used, and every problem printed at once.</summary>
public sealed class ValidateCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private static string Example(string name) => Path.Combine(RepositoryRoot.Path, "examples", name);

    [Theory]
    [InlineData("rules.json", "agents", "default agent: guest")]
    [InlineData("access_rules.json", "access_rules", "default agent: none")]
    public async Task Validate_ExampleFiles_Succeeds(string rules, string shape, string defaultAgent)
    {
        CliResult result = await _cli.RunAsync("validate", "--config", Example("servers.json"), "--rules", Example(rules));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Contains("valid: 3 server(s) (3 enabled)", result.Output, StringComparison.Ordinal);
        Assert.Contains($"({shape} shape)", result.Output, StringComparison.Ordinal);
        Assert.Contains(defaultAgent, result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("error", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WithRedis_SaysWhereLimitsAreShared_WithoutThePassword()
    {
        string settings = _cli.Write("settings.json", """{"redis": {"configuration": "redis-a:6380,redis-b,password=very-secret-pass", "keyPrefix": "gw:"}}""");
        string badSettings = _cli.Write("bad-settings.json", """{"redis": {"configuration": "redis-a:6380,password=very-secret-pass,sll=true"}}""");

        CliResult result = await _cli.RunAsync("validate", "--config", Example("servers.json"), "--rules", Example("rules.json"), "--settings", settings);
        CliResult bad = await _cli.RunAsync("validate", "--config", Example("servers.json"), "--rules", Example("rules.json"), "--settings", badSettings);
        CliResult without = await _cli.RunAsync("validate", "--config", Example("servers.json"), "--rules", Example("rules.json"));

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Contains("limits: shared through Redis at redis-a:6380, redis-b:6379 (keys under 'gw:')", result.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidConfiguration, bad.ExitCode);
        Assert.Contains("$.redis.configuration: has an unknown option or a bad value for option 'sll'.", bad.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("very-secret-pass", result.Output + result.Error + bad.Output + bad.Error, StringComparison.Ordinal);
        Assert.Contains("limits: counted by each replica (no Redis configured)", without.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_SaysWhetherSessionsCanMoveBetweenReplicas_WithoutPrintingAKey()
    {
        string key = McpGateway.Configuration.SessionKey.Generate();
        string withKeys = _cli.Write("with-keys.json", $$$"""{"sessions": {"keys": ["{{{key}}}"], "maxAgeSeconds": 7200}}""");
        string without = _cli.Write("without.json", "{}");

        CliResult keyed = await _cli.RunAsync("validate", "--config", Example("servers.json"), "--rules", Example("rules.json"), "--settings", withKeys);
        CliResult unkeyed = await _cli.RunAsync("validate", "--config", Example("servers.json"), "--rules", Example("rules.json"), "--settings", without);

        Assert.True(keyed.ExitCode == ExitCodes.Success, keyed.Error);
        Assert.Contains("session keys: 1 (replicas with the same keys resume each other's sessions; ids expire after 7200 s)", keyed.Output, StringComparison.Ordinal);
        Assert.Contains("session keys: none (each process makes its own", unkeyed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(key, keyed.Output + keyed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_SeveralMistakesInBothFiles_ExitsOneAndPrintsEveryOneWithItsPath()
    {
        string servers = _cli.Write("servers.json", """
            {
              "mcpServers": {
                "both": {"command": "node", "url": "https://h/mcp"},
                "ftp": {"url": "ftp://h/mcp"},
                "slow": {"command": "node", "callTimeoutMs": -1}
              }
            }
            """);
        string rules = _cli.Write("rules.json", """
            {
              "agents": {
                "a": {"alow": {"servers": ["both"]}}
              },
              "defaults": {"default_agent": "b"}
            }
            """);

        CliResult result = await _cli.RunAsync("validate", "--config", servers, "--rules", rules);

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Empty(result.Output);
        string[] expected =
        [
            $"{servers}:3:5: error: $.mcpServers.both: has both 'command' and 'url'.",
            $"{servers}:4:13: error: $.mcpServers.ftp.url: 'ftp://h/mcp' is not an absolute http:// or https:// URL.",
            $"{servers}:5:33: error: $.mcpServers.slow.callTimeoutMs: -1 is out of range.",
            $"{rules}:3:11: error: $.agents.a.alow: 'alow' is not a known agent property. Fix: did you mean 'allow'?",
            $"{rules}:5:16: error: $.defaults.default_agent: 'b' is not an agent in this file",
        ];
        foreach (string line in expected)
        {
            Assert.Contains(line, result.Error, StringComparison.Ordinal);
        }

        // Without "allow" the agent can use nothing, which is worth a warning of its own.
        Assert.Contains($"{rules}:3:5: warning: $.agents.a: agent 'a' has no 'allow' section", result.Error, StringComparison.Ordinal);
        Assert.Contains("invalid: 5 error(s), 1 warning(s).", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WarningsOnly_SucceedsAndCountsThem()
    {
        string servers = _cli.Write("servers.json", """{"mcpServers": {"db": {"command": "node", "descripton": "x"}}}""");
        string rules = _cli.Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["db", "dc"]}}}}""");

        CliResult result = await _cli.RunAsync("validate", "--config", servers, "--rules", rules);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("warning: $.mcpServers.db.descripton", result.Error, StringComparison.Ordinal);
        Assert.Contains($"{rules}:1:47: warning: $.agents.a.allow.servers[1]: 'dc' is not a configured server", result.Error, StringComparison.Ordinal);
        Assert.Contains("2 warning(s), printed above.", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_NoFlags_FindsFilesInCurrentDirectory()
    {
        _cli.Write("mcp-gateway.servers.json", """{"mcpServers": {"db": {"command": "node"}}}""");
        _cli.Write("mcp-gateway.rules.json", """{"access_rules": {"a": {"servers": ["db"]}}}""");

        CliResult result = await _cli.RunAsync("validate");

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Contains(Path.Combine(_cli.Folder, "mcp-gateway.servers.json"), result.Output, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_cli.Folder, "mcp-gateway.rules.json"), result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_VariablesNameTheFiles_UsesThem()
    {
        _cli.Variables["GATEWAY_MCP_CONFIG"] = _cli.Write("conf/servers.json", """{"mcpServers": {"db": {"command": "node"}}}""");
        _cli.Variables["GATEWAY_RULES"] = _cli.Write("conf/rules.json", """{"agents": {"a": {"allow": {"servers": ["db"]}}}}""");

        CliResult result = await _cli.RunAsync("validate");

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        Assert.Contains(Path.Combine(_cli.Folder, "conf", "rules.json"), result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_NoFilesAnywhere_ExitsOneAndSaysWhereItLooked()
    {
        CliResult result = await _cli.RunAsync("validate");

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Contains("no servers file found", result.Error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_cli.Folder, "mcp-gateway.servers.json"), result.Error, StringComparison.Ordinal);
        Assert.Contains("no access rules file found", result.Error, StringComparison.Ordinal);
        Assert.Contains("mcp-gateway init", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_FlagNamesMissingFile_ExitsOne()
    {
        _cli.Write("mcp-gateway.servers.json", """{"mcpServers": {"db": {"command": "node"}}}""");
        _cli.Write("mcp-gateway.rules.json", """{"agents": {"a": {"allow": {"servers": ["db"]}}}}""");

        CliResult result = await _cli.RunAsync("validate", "--config", "missing.json");

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Contains($"{Path.Combine(_cli.Folder, "missing.json")}: error: the file does not exist.", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_DefaultAgentFlagNotInRules_ExitsOne()
    {
        string servers = _cli.Write("servers.json", """{"mcpServers": {"db": {"command": "node"}}}""");
        string rules = _cli.Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["db"]}}}}""");

        CliResult result = await _cli.RunAsync("validate", "--config", servers, "--rules", rules, "--default-agent", "nobody");

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Contains("'nobody'", result.Error, StringComparison.Ordinal);
    }
}
