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

    // db: two tools only (so its resources and prompts are withheld unless granted); web: no tool list.
    private const string ItemRules = """
        {"agents": {"a": {
          "allow": {"servers": ["db", "web"], "tools": {"db": ["get_user"]}, "prompts": {"web": ["summarize"]}, "resources": {"web": ["https://h/docs/*"]}},
          "deny": {"resources": {"web": ["https://h/docs/secret/*"]}}
        }}}
        """;

    private const string SeedItemRules = """
        {"access_rules": {"a": {"servers": ["db", "web"], "tools": {"db": ["get_user"], "web": "*"}, "prompts": {"web": ["summarize"]}, "resources": {"web": ["https://h/docs/*"]}}}}
        """;

    private static readonly string[] s_decisionKeys = ["agent", "server", "kind", "item", "tool", "allowed", "reason"];

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

    private static JsonElement SingleDecision(string output, string agent, string server, string? tool, bool allowed) =>
        SingleDecision(output, agent, server, tool is null ? "server" : "tool", tool, allowed);

    private static JsonElement SingleDecision(string output, string agent, string server, string kind, string? item, bool allowed)
    {
        using JsonDocument document = JsonDocument.Parse(output);
        JsonElement decision = document.RootElement.Clone();
        AssertDecision(decision, agent, server, kind, item, allowed);
        return decision;
    }

    private static void AssertDecision(JsonElement decision, string agent, string server, string kind, string? item, bool allowed)
    {
        Assert.Equal(JsonValueKind.Object, decision.ValueKind);
        Assert.Equal(s_decisionKeys, decision.EnumerateObject().Select(p => p.Name));
        Assert.Equal(agent, decision.GetProperty("agent").GetString());
        Assert.Equal(server, decision.GetProperty("server").GetString());
        Assert.Equal(kind, decision.GetProperty("kind").GetString());
        Assert.Equal(item, decision.GetProperty("item").GetString());
        Assert.Equal(kind == "tool" ? item : null, decision.GetProperty("tool").GetString());
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
            d => AssertDecision(d, "a", "db", "server", null, allowed: true),
            d => AssertDecision(d, "a", "web", "server", null, allowed: true),
            d => AssertDecision(d, "a", "cache", "server", null, allowed: false));
    }

    [Fact]
    public async Task CheckJson_NoServerAndUnknownAgent_ListsEveryServerDenied_AndExitsDenied()
    {
        CliResult result = await CheckAsync(AgentsRules, "--agent", "stranger", "--json");

        // A script checking an agent that does not exist (a typo, most often) must notice.
        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        Assert.Contains("agent 'stranger' is not in", result.Error, StringComparison.Ordinal);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        Assert.Equal(3, document.RootElement.GetArrayLength());
        Assert.All(document.RootElement.EnumerateArray(), d => Assert.False(d.GetProperty("allowed").GetBoolean()));
    }

    [Fact]
    public async Task Check_UnknownAgentTable_SaysSoWithDidYouMean_AndExitsDenied()
    {
        CliResult result = await CheckAsync(AgentsRules, "--agent", "A");

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        Assert.Contains("error: agent 'A' is not in", result.Error, StringComparison.Ordinal);
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

    [Theory]
    [InlineData(ItemRules, "$.agents.a.allow.prompts.web[0]")]
    [InlineData(SeedItemRules, "$.access_rules.a.prompts.web[0]")]
    public async Task CheckJson_AllowedPrompt_PrintsPromptKindAndExitsZero(string rules, string rulePath)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "web", "--prompt", "summarize", "--json");

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        JsonElement decision = SingleDecision(result.Output, "a", "web", "prompt", "summarize", allowed: true);
        Assert.Contains(rulePath, decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ItemRules, "$.agents.a.allow.resources.web[0]")]
    [InlineData(SeedItemRules, "$.access_rules.a.resources.web[0]")]
    public async Task CheckJson_ResourceMatchedByUriPattern_PrintsResourceKindAndExitsZero(string rules, string rulePath)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "web", "--resource", "https://h/docs/guide/intro.md", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        JsonElement decision = SingleDecision(result.Output, "a", "web", "resource", "https://h/docs/guide/intro.md", allowed: true);
        Assert.Contains(rulePath, decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ItemRules, "--resource", "db://users", "resource", "$.agents.a.allow.tools.db")]
    [InlineData(ItemRules, "--prompt", "summarize", "prompt", "$.agents.a.allow.tools.db")]
    [InlineData(SeedItemRules, "--resource", "db://users", "resource", "$.access_rules.a.tools.db")]
    [InlineData(SeedItemRules, "--prompt", "summarize", "prompt", "$.access_rules.a.tools.db")]
    public async Task CheckJson_ItemOfServerWithRestrictedTools_IsWithheldAndExitsThree(string rules, string option, string item, string kind, string toolsListPath)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a", "--server", "db", option, item, "--json");

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        string reason = SingleDecision(result.Output, "a", "db", kind, item, allowed: false).GetProperty("reason").GetString()!;
        Assert.Contains("is withheld from agent 'a'", reason, StringComparison.Ordinal);
        Assert.Contains(toolsListPath, reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_Text_DeniedResourceAndPromptSayWhy()
    {
        CliResult resource = await CheckAsync(ItemRules, "--agent", "a", "--server", "web", "--resource", "https://h/docs/secret/keys");
        CliResult prompt = await CheckAsync(ItemRules, "--agent", "a", "--server", "web", "--prompt", "review");

        Assert.Equal(ExitCodes.Denied, resource.ExitCode);
        Assert.StartsWith(
            "DENIED  denied: resource 'https://h/docs/secret/keys' of server 'web' is denied to agent 'a' by the pattern at $.agents.a.deny.resources.web[0]",
            resource.Output,
            StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Denied, prompt.ExitCode);
        Assert.StartsWith("DENIED  denied: prompt 'review' of server 'web' matches no entry of $.agents.a.allow.prompts.web", prompt.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--prompt")]
    [InlineData("--resource")]
    public async Task CheckJson_UnknownAgentItem_IsDeniedWithItsKind(string option)
    {
        CliResult result = await CheckAsync(ItemRules, "--agent", "stranger", "--server", "web", option, "x", "--json");

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        JsonElement decision = SingleDecision(result.Output, "stranger", "web", option[2..], "x", allowed: false);
        Assert.Contains("not in the access rules", decision.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--prompt", "--prompt needs --server: prompt rules are per server.")]
    [InlineData("--resource", "--resource needs --server: resource rules are per server.")]
    public async Task Check_ItemWithoutServer_IsAUsageError(string option, string message)
    {
        CliResult result = await CheckAsync(ItemRules, "--agent", "a", option, "x");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Theory]
    [InlineData("--tool", "--prompt")]
    [InlineData("--tool", "--resource")]
    [InlineData("--prompt", "--resource")]
    public async Task Check_TwoItemOptions_AreMutuallyExclusive(string first, string second)
    {
        CliResult result = await CheckAsync(ItemRules, "--agent", "a", "--server", "db", first, "x", second, "y");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--tool, --prompt and --resource are mutually exclusive", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Theory]
    [InlineData(ItemRules, "$.agents.a")]
    [InlineData(SeedItemRules, "$.access_rules.a")]
    public async Task Check_TextWithoutServer_ListsResourceAndPromptRulesUnderEachAllowedServer(string rules, string agentPath)
    {
        CliResult result = await CheckAsync(rules, "--agent", "a");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int db = Array.FindIndex(lines, l => l.StartsWith("db ", StringComparison.Ordinal));
        int web = Array.FindIndex(lines, l => l.StartsWith("web ", StringComparison.Ordinal));
        int cache = Array.FindIndex(lines, l => l.StartsWith("cache ", StringComparison.Ordinal));
        string toolsPath = agentPath + (rules == ItemRules ? ".allow" : string.Empty) + ".tools.db";
        Assert.Equal(
            [
                $"tools allowed: get_user  ({toolsPath})",
                $"resources: withheld (tools restricted by an allow list)  ({toolsPath})",
                $"prompts: withheld (tools restricted by an allow list)  ({toolsPath})",
            ],
            lines[(db + 1)..web]);
        string[] webLines = lines[(web + 1)..cache];
        string itemsPath = agentPath + (rules == ItemRules ? ".allow" : string.Empty);
        Assert.Contains($"resources allowed: https://h/docs/*  ({itemsPath}.resources.web)", webLines);
        Assert.Contains($"prompts allowed: summarize  ({itemsPath}.prompts.web)", webLines);
        Assert.DoesNotContain(webLines, l => l.Contains("withheld", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_TextWithoutServer_ServerWithoutAnyListSaysEverythingIsAllowed()
    {
        CliResult result = await CheckAsync("""{"agents": {"a": {"allow": {"servers": ["web"]}, "deny": {"prompts": {"web": ["admin_*"]}}}}}""", "--agent", "a");

        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("tools allowed: all (no tool list restricts this server)", lines);
        Assert.Contains("resources allowed: all (no list restricts this server)", lines);
        Assert.Contains("prompts denied:  admin_*  ($.agents.a.deny.prompts.web)", lines);
        Assert.Contains("prompts allowed: all (no list restricts this server)", lines);
    }

    [Fact]
    public async Task Check_ExampleGuest_GetsNoResourcesOrPrompts()
    {
        string examples = Path.Combine(RepositoryRoot.Path, "examples");
        CliResult table = await _cli.RunAsync(["check", "--agent", "guest", "--config", Path.Combine(examples, "servers.json"), "--rules", Path.Combine(examples, "rules.json")]);
        CliResult resource = await _cli.RunAsync(
            ["check", "--agent", "guest", "--config", Path.Combine(examples, "servers.json"), "--rules", Path.Combine(examples, "rules.json"), "--server", "everything", "--resource", "demo://resource/static/document/architecture.md"]);

        Assert.Equal(ExitCodes.Success, table.ExitCode);
        Assert.Contains("resources: withheld (tools restricted by an allow list)  ($.agents.guest.allow.tools.everything)", table.Output, StringComparison.Ordinal);
        Assert.Contains("prompts: withheld (tools restricted by an allow list)  ($.agents.guest.allow.tools.everything)", table.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Denied, resource.ExitCode);
        Assert.Contains("grant resources explicitly in $.agents.guest.allow.resources", resource.Output, StringComparison.Ordinal);
    }
}
