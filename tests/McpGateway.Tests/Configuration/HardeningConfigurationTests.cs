using System.Text;
using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.Tests.Hosting;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// What the property tests (FuzzConfigurationFilesTests) found, pinned as examples: a file that is not UTF-8 and a
/// number too large for a double are diagnostics, not crashes; rule values taken from the environment are not echoed.
/// </summary>
public sealed class HardeningConfigurationTests : IDisposable
{
    private const string Canary = "canary-4be2d9f0a17c";

    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFE })]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { 0xE2, 0x82 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    public async Task Validate_AFileThatIsNotUtf8_ExitsOne_WithThePosition_InsteadOfCrashing(byte[] invalid)
    {
        string servers = Path.Combine(_cli.Folder, "servers.json");
        File.WriteAllBytes(servers, [.. "{\"mcpServers\": {\"db\": {\"command\": \"no"u8, .. invalid, .. "de\"}}}"u8]);
        string rules = _cli.Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["db"]}}}}""");

        CliResult result = await _cli.RunAsync("validate", "--config", servers, "--rules", rules);

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Contains($"{servers}:1:38: error: the file is not valid UTF-8 text.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"limits": {"sessions": {"total": 1e400}}}""", "$.limits.sessions.total")]
    [InlineData("""{"identity": {"header": -1e999}}""", "$.identity.header")]
    public void ParseSettings_ANumberTooLargeForADouble_IsAnErrorAtItsPath(string json, string path)
    {
        var environment = new DiscoveryEnvironment(_ => null, _ => false, _cli.Folder, _cli.Home) { AddSettingsVariables = _ => { } };

        ConfigLoadResult<GatewaySettings> result = SettingsLoader.Parse(Path.Combine(_cli.Folder, "settings.json"), json, environment);

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.JsonPath == path && e.Message.Contains("too large", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"]}}}, "defaults": {"default_agent": "${NAME}"}}""", "$.defaults.default_agent")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": "${NAME}"}}}}}""", "$.agents.a.allow.tools.db")]
    [InlineData("""{"agents": {"a": {"allow": {"servers": ["db"], "tools": {"db": [" ${NAME}"]}}}}}""", "$.agents.a.allow.tools.db[0]")]
    [InlineData("""{"access_rules": {"a": {"servers": ["${NAME}"], "tools": {"db": "*"}}}}""", "$.access_rules.a.servers[0]")]
    public void ParseRules_ValuesFromTheEnvironment_AreNotEchoedInDiagnostics(string rules, string path)
    {
        Func<string, string?> environment = ConfigFixture.Environment(("NAME", Canary));

        ConfigLoadResult<RulesConfig> parsed = ConfigFixture.Rules(rules, environment);
        ConfigLoadResult<ServersConfig> servers = ConfigFixture.Servers("""{"mcpServers": {"db": {"command": "node"}}}""");
        var diagnostics = parsed.Diagnostics.Concat(servers.Diagnostics).ToList();
        ConfigLoadResult<ConfigurationSnapshot> combined = ConfigurationLoader.Combine(servers.Value, parsed.Value, diagnostics, null);

        Assert.Contains(combined.Diagnostics, d => d.JsonPath == path);
        Assert.DoesNotContain(Canary, string.Join('\n', combined.Diagnostics), StringComparison.Ordinal);
    }
}
