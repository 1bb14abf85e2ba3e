using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary>
/// <c>serve</c> refuses, before it starts anything, a configuration it cannot serve as given: that is exit code 1, the
/// configuration's, whichever of the file, the environment or the flags said it; 2 is for a command line that does
/// not parse.
/// </summary>
public sealed class ServeRefusalTests : IDisposable
{
    private const string Servers = """{ "mcpServers": { "shell": { "command": "sh" } } }""";
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("--http 0.0.0.0:0", "", "listens beyond this machine, and no authentication is configured")]
    [InlineData("", "MCP_GATEWAY_HTTP__LISTEN=0.0.0.0:0", "listens beyond this machine, and no authentication is configured")]
    [InlineData("--agent nobody", "", "--agent 'nobody' is not in ")]
    [InlineData("--audit -", "", "--audit - writes the audit log to standard output")]
    [InlineData("--http 127.0.0.1:0 --agent ops", "", "--agent applies to a stdio gateway")]
    public async Task Serve_AConfigurationItCannotServe_ExitsOne_WithOneClearLine(string flags, string variable, string message)
    {
        if (variable.Length > 0)
        {
            string[] pair = variable.Split('=', 2);
            _cli.Variables[pair[0]] = pair[1];
        }

        CliResult result = await _cli.RunAsync([.. Serve(), .. flags.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

        Assert.Equal(ExitCodes.InvalidConfiguration, result.ExitCode);
        string line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Serve_BeyondLoopbackWithoutAuthentication_NamesTheWaysOut()
    {
        CliResult result = await _cli.RunAsync([.. Serve(), "--http", "0.0.0.0:0"]);

        Assert.Contains("Fix: configure API keys or tokens", result.Error, StringComparison.Ordinal);
        Assert.Contains("--allow-unauthenticated", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithAnOptionThatDoesNotExist_ExitsTwo()
    {
        CliResult result = await _cli.RunAsync([.. Serve(), "--htp", "8080"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
    }

    private string[] Serve() => ["serve", "--config", _cli.Write("servers.json", Servers), "--rules", _cli.Write("rules.json", Rules)];
}
