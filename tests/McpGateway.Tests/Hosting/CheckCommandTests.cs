using System.Text.Json;
using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary><c>mcp-gateway check</c>: what an agent may use and why, as text or JSON, with exit codes for scripts.</summary>
public sealed class CheckCommandTests : IDisposable
{
    private const string AgentsRules = """
        {"agents": {"a": {"allow": {"servers": ["db", "web"], "tools": {"db": ["get_user", "list_*"]}}}}}
        """;

    private const string SeedRules = """
        {"access_rules": {"a": {"servers": ["db", "web"], "tools": {"db": ["get_user", "list_*"], "web": "*"}}}}
        """;

    private static readonly string[] s_decisionKeys = ["agent", "server", "tool", "allowed", "reason"];

    private readonly CliHarness _cli = new();
    private readonly string _servers;

    public CheckCommandTests()
    {
        _servers = _cli.Write("servers.json", """
            {"mcpServers": {"db": {"command": "node"}, "web": {"url": "https://h/mcp"}, "cache": {"command": "redis-mcp", "enabled": false}}}
            """);
    }

    public void Dispose() => _cli.Dispose();

    private Task<CliResult> CheckAsync(string rules, params string[] args) =>
        _cli.RunAsync(["check", "--config", _servers, "--rules", _cli.Write("rules.json", rules), .. args]);

    private static JsonElement SingleDecision(string output, string agent, string server, string? tool, bool allowed)
    {
        using JsonDocument document = JsonDocument.Parse(output);
        JsonElement decision = document.RootElement.Clone();
        AssertDecision(decision, agent, server, tool, allowed);
        return decision;
    }

    private static void AssertDecision(JsonElement decision, string agent, string server, string? tool, bool allowed)
    {
        Assert.Equal(JsonValueKind.Object, decision.ValueKind);
        Assert.Equal(s_decisionKeys, decision.EnumerateObject().Select(p => p.Name));
        Assert.Equal(agent, decision.GetProperty("agent").GetString());
        Assert.Equal(server, decision.GetProperty("server").GetString());
        Assert.Equal(tool, decision.GetProperty("tool").GetString());
        Assert.Equal(allowed, decision.GetProperty("allowed").GetBoolean());
        Assert.StartsWith(allowed ? "allowed:" : "denied:", decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AgentsRules, "$.agents.a.allow.tools.db[0]")]
    [InlineData(SeedRules, "$.access_rules.a.tools.db[0]")]
    public async Task CheckJson_AllowedTool_PrintsOneObjectAndExitsZero(string rules, string rulePath)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "db", "--tool", "get_user", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        JsonElement decision = SingleDecision(result.Output, "a", "db", "get_user", allowed: true);
        Assert.Contains(rulePath, decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AgentsRules, "$.agents.a.allow.tools.db")]
    [InlineData(SeedRules, "$.access_rules.a.tools.db")]
    public async Task CheckJson_ToolNotInAllowList_PrintsDeniedAndExitsThree(string rules, string listPath)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "db", "--tool", "drop_table", "--json");

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        JsonElement decision = SingleDecision(result.Output, "a", "db", "drop_table", allowed: false);
        Assert.Contains(listPath, decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AgentsRules)]
    [InlineData(SeedRules)]
    public async Task CheckJson_ToolPattern_IsAllowed(string rules)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "db", "--tool", "list_tables", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        SingleDecision(result.Output, "a", "db", "list_tables", allowed: true);
    }

    [Theory]
    [InlineData(AgentsRules)]
    [InlineData(SeedRules)]
    public async Task CheckJson_ToolOfServerNotAllowed_IsDenied(string rules)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "cache", "--tool", "get", "--json");

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        SingleDecision(result.Output, "a", "cache", "get", allowed: false);
    }

    [Theory]
    [InlineData(AgentsRules)]
    [InlineData(SeedRules)]
    public async Task CheckJson_UnknownAgent_IsDenied(string rules)
    {
        CliResult result = await CheckAsync(rules, "--agent", "A", "--server", "web", "--tool", "fetch", "--json");

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        JsonElement decision = SingleDecision(result.Output, "A", "web", "fetch", allowed: false);
        Assert.Contains("not in the access rules", decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckJson_ServerWithoutTool_PrintsServerDecisionWithNullTool()
    {
        CliResult result = await CheckAsync(AgentsRules, "--agent", "a", "--server", "web", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        SingleDecision(result.Output, "a", "web", null, allowed: true);
    }

    [Theory]
    [InlineData(AgentsRules)]
    [InlineData(SeedRules)]
    public async Task CheckJson_NoServer_PrintsOneObjectPerConfiguredServerInOrder(string rules)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        Assert.Equal(JsonValueKind.Array, document.RootElement.ValueKind);
        Assert.Collection(
            document.RootElement.EnumerateArray(),
            d => AssertDecision(d, "a", "db", null, allowed: true),
            d => AssertDecision(d, "a", "web", null, allowed: true),
            d => AssertDecision(d, "a", "cache", null, allowed: false));
    }

    [Fact]
    public async Task CheckJson_NoServerAndUnknownAgent_ListsEveryServerDeniedAndExitsZero()
    {
        CliResult result = await CheckAsync(AgentsRules, "--agent", "stranger", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        Assert.Equal(3, document.RootElement.GetArrayLength());
        Assert.All(document.RootElement.EnumerateArray(), d => Assert.False(d.GetProperty("allowed").GetBoolean()));
    }

    [Fact]
    public async Task Check_ToolWithoutServer_IsAUsageError()
    {
        CliResult result = await CheckAsync(AgentsRules, "--agent", "a", "--tool", "get_user", "--json");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--tool needs --server", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Check_WithoutAgent_IsAUsageError()
    {
        CliResult result = await CheckAsync(AgentsRules, "--server", "db");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--agent", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_InvalidConfiguration_ExitsOne()
    {
        CliResult result = await CheckAsync("""{"agents": {"a": {"alow": {}}}}""", "--agent", "a", "--server", "db");

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Contains("$.agents.a.alow", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Check_ServerNotConfigured_AnswersFromTheRulesWithANote()
    {
        CliResult result = await CheckAsync("""{"agents": {"a": {"allow": {"servers": ["*"]}}}}""", "--agent", "a", "--server", "ghost", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        SingleDecision(result.Output, "a", "ghost", null, allowed: true);
        Assert.Contains("'ghost' is not a configured server", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_Text_SaysAllowedOrDeniedWithReason()
    {
        CliResult allowed = await CheckAsync(AgentsRules, "--agent", "a", "--server", "db", "--tool", "get_user");
        CliResult denied = await CheckAsync(AgentsRules, "--agent", "a", "--server", "db", "--tool", "drop_table");

        Assert.Equal(ExitCodes.Success, allowed.ExitCode);
        Assert.StartsWith("ALLOWED  allowed: tool 'get_user'", allowed.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Denied, denied.ExitCode);
        Assert.StartsWith("DENIED  denied: tool 'drop_table'", denied.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_TextWithoutServer_ListsEveryServerWithStateAndToolRules()
    {
        CliResult result = await CheckAsync(AgentsRules, "--agent", "a");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("db", StringComparison.Ordinal) && l.Contains("allowed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("tools allowed: get_user, list_*", StringComparison.Ordinal) && l.Contains("$.agents.a.allow.tools.db", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("web", StringComparison.Ordinal) && l.Contains("allowed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("tools allowed: all", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("cache", StringComparison.Ordinal) && l.Contains("disabled", StringComparison.Ordinal));
    }
}
