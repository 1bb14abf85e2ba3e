using McpGateway.Configuration;
using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary><c>mcp-gateway init</c>: writes example files that validate, and never overwrites without --force.</summary>
public sealed class InitCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly string _target;

    public InitCommandTests()
    {
        _target = Path.Combine(_cli.Folder, "fresh");
    }

    private string ServersPath => Path.Combine(_target, ExampleFiles.ServersFileName);

    private string RulesPath => Path.Combine(_target, ExampleFiles.RulesFileName);

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Init_EmptyDirectory_WritesBothFilesThatValidate()
    {
        Directory.CreateDirectory(_target);

        CliResult init = await _cli.RunAsync("init", "--dir", _target);

        Assert.True(init.ExitCode == ExitCodes.Success, init.Error);
        Assert.Equal(ExampleFiles.Servers + Environment.NewLine, File.ReadAllText(ServersPath));
        Assert.Equal(ExampleFiles.Rules + Environment.NewLine, File.ReadAllText(RulesPath));
        Assert.Contains($"wrote {ServersPath}", init.Output, StringComparison.Ordinal);
        Assert.Contains($"wrote {RulesPath}", init.Output, StringComparison.Ordinal);

        CliResult validate = await _cli.RunAsync("validate", "--config", ServersPath, "--rules", RulesPath);
        Assert.True(validate.ExitCode == ExitCodes.Success, validate.Error);
        Assert.Empty(validate.Error);
    }

    [Fact]
    public async Task Init_MissingDirectory_IsCreated()
    {
        CliResult init = await _cli.RunAsync("init", "--dir", "fresh");

        Assert.Equal(ExitCodes.Success, init.ExitCode);
        Assert.True(File.Exists(ServersPath));
        Assert.True(File.Exists(RulesPath));
    }

    [Fact]
    public async Task Init_NoDir_WritesWhereDiscoveryFindsThem()
    {
        CliResult init = await _cli.RunAsync("init");
        CliResult validate = await _cli.RunAsync("validate");

        Assert.Equal(ExitCodes.Success, init.ExitCode);
        Assert.True(validate.ExitCode == ExitCodes.Success, validate.Error);
        Assert.Contains(Path.Combine(_cli.Folder, ExampleFiles.ServersFileName), validate.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_FilesExist_RefusesWithoutForceAndLeavesThemAlone()
    {
        await _cli.RunAsync("init", "--dir", _target);
        File.WriteAllText(RulesPath, "my own rules");
        string serversBefore = File.ReadAllText(ServersPath);

        CliResult again = await _cli.RunAsync("init", "--dir", _target);

        Assert.NotEqual(ExitCodes.Success, again.ExitCode);
        Assert.Contains($"{ServersPath}: error: the file exists", again.Error, StringComparison.Ordinal);
        Assert.Contains($"{RulesPath}: error: the file exists", again.Error, StringComparison.Ordinal);
        Assert.Contains("--force", again.Error, StringComparison.Ordinal);
        Assert.Equal(serversBefore, File.ReadAllText(ServersPath));
        Assert.Equal("my own rules", File.ReadAllText(RulesPath));
    }

    [Fact]
    public async Task Init_OneFileExists_WritesNeither()
    {
        Directory.CreateDirectory(_target);
        File.WriteAllText(ServersPath, "my own servers");

        CliResult init = await _cli.RunAsync("init", "--dir", _target);

        Assert.NotEqual(ExitCodes.Success, init.ExitCode);
        Assert.Equal("my own servers", File.ReadAllText(ServersPath));
        Assert.False(File.Exists(RulesPath));
    }

    [Fact]
    public async Task Init_FilesExistWithForce_OverwritesThem()
    {
        await _cli.RunAsync("init", "--dir", _target);
        File.WriteAllText(ServersPath, "my own servers");
        File.WriteAllText(RulesPath, "my own rules");

        CliResult forced = await _cli.RunAsync("init", "--dir", _target, "--force");

        Assert.True(forced.ExitCode == ExitCodes.Success, forced.Error);
        Assert.Equal(ExampleFiles.Servers + Environment.NewLine, File.ReadAllText(ServersPath));
        Assert.Equal(ExampleFiles.Rules + Environment.NewLine, File.ReadAllText(RulesPath));
    }
}
