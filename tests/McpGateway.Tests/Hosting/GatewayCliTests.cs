using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary>Command-line parsing shared by every command.</summary>
public sealed class GatewayCliTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Run_UnknownCommand_ExitsTwoNamingIt()
    {
        CliResult result = await _cli.RunAsync("frobnicate");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("frobnicate", result.Error, StringComparison.Ordinal);
        Assert.Contains("--help", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Run_UnknownOption_ExitsTwo()
    {
        CliResult result = await _cli.RunAsync("validate", "--strict");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--strict", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Help_ListsTheCommands()
    {
        CliResult result = await _cli.RunAsync("--help");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        foreach (string command in (string[])["validate", "check", "init"])
        {
            Assert.Contains(command, result.Output, StringComparison.Ordinal);
        }
    }
}
