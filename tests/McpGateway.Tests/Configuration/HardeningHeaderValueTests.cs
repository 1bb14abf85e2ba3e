using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.Tests.Hosting;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// A header value of a remote server that holds a CR or LF (a variable read from a file often ends with a newline)
/// would end the header line and start one the server never meant to get; other control characters break the
/// request too. They are validation errors at the header's path, and the value (usually a credential) is never echoed.
/// </summary>
public sealed class HardeningHeaderValueTests : IDisposable
{
    private const string Canary = "canary-7f3a9c1e5b2d4f6a8091";

    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    public static TheoryData<string> ControlCharacters() => new() { "\r\n", "\n", "\r", "\u0000", "\u0007", "\u001b", "\u007f", "\u0085" };

    private static string ServersWithHeader(string jsonValue) =>
        """{"mcpServers": {"remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": """ + jsonValue + "}}}}";

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    [Theory]
    [MemberData(nameof(ControlCharacters))]
    public void ParseServers_HeaderValueWithAControlCharacter_IsAnErrorAtItsPath_WithoutTheValue(string control)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(ServersWithHeader(Json("Bearer " + Canary + control + "X-Injected: 1")));

        Assert.False(result.Succeeded);
        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.remote.headers.Authorization", "control character");
        Assert.DoesNotContain(Canary, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("X-Injected", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ControlCharacters))]
    public void ParseServers_HeaderValueFromAVariableEndingInAControlCharacter_IsAnError_WithoutTheValue(string control)
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers(ServersWithHeader("\"Bearer ${TOKEN}\""), ConfigFixture.Environment(("TOKEN", Canary + control)));

        ConfigDiagnostic error = ConfigFixture.SingleError(result.Diagnostics, "$.mcpServers.remote.headers.Authorization", "control character");
        Assert.DoesNotContain(Canary, string.Join('\n', result.Diagnostics), StringComparison.Ordinal);
        Assert.NotNull(error.Line);
    }

    [Theory]
    [InlineData("Bearer abc\tdef")]
    [InlineData("token with spaces and punctuation: ;,=/")]
    public void ParseServers_HeaderValueWithTabsAndSpaces_IsAccepted(string value)
    {
        ServerConfig server = ConfigFixture.SingleServer(ServersWithHeader(Json(value)));

        Assert.Equal(value, server.Headers["Authorization"]);
    }

    [Fact]
    public void ParseServers_HeaderNameWithALineBreak_IsAnError()
    {
        ConfigLoadResult<ServersConfig> result = ConfigFixture.Servers("""{"mcpServers": {"remote": {"url": "https://mcp.example.com/mcp", "headers": {"X-A\r\nX-B": "v"}}}}""");

        Assert.Contains(result.Errors, e => e.Message.Contains("not a valid HTTP header name", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("\\r\\n")]
    [InlineData("\\n")]
    [InlineData("\\u0000")]
    public async Task Validate_HeaderValueWithAControlCharacter_ExitsOne_WithThePath_AndNeverPrintsTheValue(string escapedControl)
    {
        string servers = _cli.Write("servers.json", ServersWithHeader($"\"Bearer {Canary}{escapedControl}X-Injected: 1\""));
        string rules = _cli.Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["remote"]}}}}""");

        CliResult result = await _cli.RunAsync("validate", "--config", servers, "--rules", rules);

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        Assert.Contains($"{servers}:1:", result.Error, StringComparison.Ordinal);
        Assert.Contains("error: $.mcpServers.remote.headers.Authorization: the value holds a line break or another control character", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Canary, result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_HeaderValueFromAVariableWithATrailingNewline_ExitsOne_AndNeverPrintsTheValue()
    {
        _cli.Variables["REMOTE_TOKEN"] = Canary + "\n";
        string servers = _cli.Write("servers.json", ServersWithHeader("\"Bearer ${REMOTE_TOKEN}\""));
        string rules = _cli.Write("rules.json", """{"agents": {"a": {"allow": {"servers": ["remote"]}}}}""");

        CliResult validate = await _cli.RunAsync("validate", "--config", servers, "--rules", rules);
        CliResult serve = await _cli.RunAsync("serve", "--config", servers, "--rules", rules, "--http", "127.0.0.1:0");

        Assert.Equal(ExitCodes.InvalidConfiguration, validate.ExitCode);
        Assert.Contains("$.mcpServers.remote.headers.Authorization", validate.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidConfiguration, serve.ExitCode);
        Assert.Contains("$.mcpServers.remote.headers.Authorization", serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Canary, validate.Output + validate.Error + serve.Output + serve.Error, StringComparison.Ordinal);
    }
}
