using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.Identity.ApiKeys;

namespace McpGateway.Tests.Hosting;

/// <summary><c>mcp-gateway keys add|list|revoke</c>: the key once on stdout, only hashes on disk, never a key in a listing; <c>keys session-key</c>: a fresh session key on stdout.</summary>
public sealed class KeysCommandTests : IDisposable
{
    private const string Servers = """{"mcpServers": {"db": {"command": "db-server"}}}""";
    private const string Rules = """{"agents": {"researcher": {"allow": {"servers": ["db"]}}, "ops": {"allow": {"servers": ["db"]}}}}""";

    private readonly CliHarness _cli = new();

    public KeysCommandTests()
    {
        _cli.Write("servers.json", Servers);
        _cli.Write("rules.json", Rules);
    }

    public void Dispose() => _cli.Dispose();

    private Task<CliResult> Keys(params string[] args) => _cli.RunAsync(["keys", .. args, "--config", "servers.json", "--rules", "rules.json"]);

    private string KeysFile => Path.Combine(_cli.Folder, ApiKeySettings.DefaultFileName);

    [Fact]
    public async Task Add_PrintsOnlyTheKey_AndStoresOnlyItsHash_BesideTheRules()
    {
        CliResult result = await Keys("add", "--agent", "researcher", "--label", "laptop");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        string key = result.Output.TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', key);
        Assert.StartsWith(ApiKey.Prefix, key, StringComparison.Ordinal);
        string stored = File.ReadAllText(KeysFile);
        Assert.DoesNotContain(key, stored, StringComparison.Ordinal);
        ApiKeyEntry entry = Assert.Single(ApiKeyFile.Load(KeysFile).Value!);
        Assert.Equal(("researcher", "laptop", ApiKey.IdOf(key)), (entry.Agent, entry.Label, entry.Id));
        Assert.Equal(ApiKey.Hash(key), entry.Hash);
        Assert.Contains(entry.Id, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(key, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionKey_PrintsOnlyAFreshKey_ThatTheSettingsAccept_AndStoresNothing()
    {
        CliResult first = await _cli.RunAsync(["keys", "session-key"]);
        CliResult second = await _cli.RunAsync(["keys", "session-key"]);

        Assert.Equal((ExitCodes.Success, ExitCodes.Success), (first.ExitCode, second.ExitCode));
        string key = first.Output.TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', key);
        Assert.NotNull(SessionKey.Parse(key));
        Assert.NotEqual(key, second.Output.TrimEnd('\n', '\r'));
        Assert.Empty(first.Error);
        Assert.False(File.Exists(KeysFile));
    }

    [Fact]
    public async Task Add_ForAnAgentNotInTheRules_FailsWithDidYouMean()
    {
        CliResult result = await Keys("add", "--agent", "reseacher");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("did you mean 'researcher'", result.Error, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(KeysFile));
        Assert.Empty(result.Output);
    }

    [Theory]
    [InlineData("90d", 90 * 24)]
    [InlineData("12h", 12)]
    public async Task Add_WithASpan_ExpiresThatFarAhead(string expires, int hours)
    {
        DateTimeOffset before = DateTimeOffset.UtcNow;

        CliResult result = await Keys("add", "--agent", "ops", "--expires", expires);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        ApiKeyEntry entry = Assert.Single(ApiKeyFile.Load(KeysFile).Value!);
        Assert.InRange(entry.Expires!.Value, before.AddHours(hours).AddSeconds(-1), DateTimeOffset.UtcNow.AddHours(hours).AddSeconds(1));
    }

    [Theory]
    [InlineData("2001-01-01")]
    [InlineData("soon")]
    public async Task Add_WithAnExpiryInThePastOrUnreadable_IsRefused(string expires)
    {
        CliResult result = await Keys("add", "--agent", "ops", "--expires", expires);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.False(File.Exists(KeysFile));
    }

    [Fact]
    public async Task List_ShowsIdsAgentsAndStates_NeverKeysOrHashes()
    {
        string first = (await Keys("add", "--agent", "researcher", "--label", "ci")).Output.Trim();
        string second = (await Keys("add", "--agent", "ops")).Output.Trim();
        await Keys("revoke", ApiKey.IdOf(second)!);

        CliResult table = await Keys("list");
        CliResult json = await Keys("list", "--json");

        Assert.Equal(ExitCodes.Success, table.ExitCode);
        foreach (string output in (string[])[table.Output, json.Output])
        {
            Assert.DoesNotContain(first, output, StringComparison.Ordinal);
            Assert.DoesNotContain(second, output, StringComparison.Ordinal);
            Assert.DoesNotContain("sha256:", output, StringComparison.Ordinal);
        }

        Assert.Contains(ApiKey.IdOf(first)!, table.Output, StringComparison.Ordinal);
        JsonArray listed = JsonNode.Parse(json.Output)!.AsArray();
        Assert.Equal(["active", "revoked"], listed.Select(k => k!["state"]!.GetValue<string>()));
        Assert.Equal(["researcher", "ops"], listed.Select(k => k!["agent"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Revoke_MarksTheKey_AndAnUnknownIdFails()
    {
        string key = (await Keys("add", "--agent", "ops")).Output.Trim();

        CliResult revoked = await Keys("revoke", ApiKey.IdOf(key)!);
        CliResult unknown = await Keys("revoke", "ffffffff");

        Assert.Equal(ExitCodes.Success, revoked.ExitCode);
        Assert.NotNull(Assert.Single(ApiKeyFile.Load(KeysFile).Value!).Revoked);
        Assert.Equal(ExitCodes.InvalidConfiguration, unknown.ExitCode);
        Assert.Contains("no key with id 'ffffffff'", unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_UseTheFileTheSettingsName()
    {
        _cli.Write("settings.json", """{"authentication": {"apiKeys": {"file": "secrets/keys.json"}}}""");

        CliResult result = await _cli.RunAsync("keys", "add", "--agent", "ops", "--config", "servers.json", "--rules", "rules.json", "--settings", "settings.json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.True(File.Exists(Path.Combine(_cli.Folder, "secrets", "keys.json")));
        Assert.False(File.Exists(KeysFile));
    }

    [Fact]
    public async Task Validate_ReportsTheKeysAndRefusesAnInvalidKeysFile()
    {
        await Keys("add", "--agent", "ops");
        CliResult valid = await _cli.RunAsync("validate", "--config", "servers.json", "--rules", "rules.json");
        File.WriteAllText(KeysFile, """{"keys": [{"id": "nope"}]}""");
        CliResult invalid = await _cli.RunAsync("validate", "--config", "servers.json", "--rules", "rules.json");

        Assert.Equal(ExitCodes.Success, valid.ExitCode);
        Assert.Contains("API keys (1 active)", valid.Output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidConfiguration, invalid.ExitCode);
        Assert.Contains("$.keys[0].id", invalid.Error, StringComparison.Ordinal);
    }
}
