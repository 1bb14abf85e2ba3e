using McpGateway.IntegrationTests.Conformance;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>
/// The README's first command, as written, run from the repository root the way a new user runs it: its relative file
/// paths must resolve against that folder (a project on the Web SDK would start in the project folder instead).
/// It runs with <c>validate</c> in place of <c>serve</c>, so that the test does not start the example servers through npx.
/// </summary>
public sealed class ReadmeCommandTests
{
    private const string CommandStart = "dotnet run --project src/McpGateway -- serve ";

    [Fact]
    public async Task FirstCommand_RunFromTheRepositoryRoot_FindsTheExampleFiles()
    {
        string readme = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "README.md"), TestContext.Current.CancellationToken);
        string command = readme.Split('\n').Select(line => line.Trim()).First(line => line.StartsWith("dotnet run", StringComparison.Ordinal));
        Assert.StartsWith(CommandStart, command, StringComparison.Ordinal);
        string[] serveArguments = command[CommandStart.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] fileOptions = [.. serveArguments.Chunk(2).Where(pair => pair[0] is "--config" or "--rules").SelectMany(pair => pair)];

        // The build the tests use, so that the test neither builds nor depends on a Release build.
        await using ChildProcess gateway = ChildProcess.Start(
            GatewayProcess.DotnetHost,
            ["run", "--project", "src/McpGateway", "--no-build", "-c", RepoPaths.Configuration, "--", "validate", .. fileOptions],
            RepoPaths.Root);
        Assert.True(await gateway.WaitForExitAsync(), $"dotnet run did not finish within {Patience.Describe}: " + gateway.Output);

        Assert.Equal(["--config", "examples/servers.json", "--rules", "examples/rules.json"], fileOptions);
        Assert.True(gateway.ExitCode == 0, gateway.Output);
        Assert.Contains("valid: 3 server(s)", gateway.Output, StringComparison.Ordinal);
    }
}
