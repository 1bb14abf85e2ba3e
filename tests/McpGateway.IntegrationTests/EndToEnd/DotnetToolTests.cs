using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>
/// The gateway as a .NET tool, installed the way the README says: the package <c>.ci/run</c> packs into
/// <c>./artifacts</c> (or, where there is none, one this test packs itself) goes into a tool path with
/// <c>dotnet tool install</c>, from that folder alone (a NuGet configuration of its own: no other feed is asked),
/// and the installed <c>mcp-gateway</c> answers <c>--version</c> and validates the bundled examples.
/// </summary>
public sealed class DotnetToolTests : IDisposable
{
    private const string PackageId = "mcp-gateway";

    /// <summary>No file discovery from whoever runs the tests: only the files named on the command line.</summary>
    private static readonly string[] s_discovery = ["GATEWAY_MCP_CONFIG", "GATEWAY_RULES", "GATEWAY_SETTINGS", "GATEWAY_DEFAULT_AGENT"];

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-tool-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Package_InstallsIntoAToolPath_AndTheCommandPrintsItsVersion_AndValidatesTheExamples()
    {
        string package = NewestPackageIn(Path.Combine(RepoPaths.Root, "artifacts")) ?? await PackAsync();
        string version = Path.GetFileNameWithoutExtension(package)[(PackageId.Length + 1)..];
        string config = Path.Combine(_folder, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="artifacts" value="{Path.GetDirectoryName(package)}" />
              </packageSources>
            </configuration>
            """);
        string tools = Path.Combine(_folder, "tools");
        string work = Directory.CreateDirectory(Path.Combine(_folder, "work")).FullName;

        CommandResult install = await Commands.RunAsync(
            GatewayProcess.DotnetHost,
            ["tool", "install", "--tool-path", tools, "--configfile", config, "--add-source", Path.GetDirectoryName(package)!, PackageId, "--version", version],
            work,
            null,
            Ct);
        string command = Path.Combine(tools, "mcp-gateway");
        CommandResult versionRun = await Commands.RunAsync(command, ["--version"], work, null, Ct, s_discovery);
        CommandResult validate = await Commands.RunAsync(
            command,
            ["validate", "--config", Path.Combine(RepoPaths.Root, "examples", "servers.json"), "--rules", Path.Combine(RepoPaths.Root, "examples", "rules.json")],
            work,
            null,
            Ct,
            s_discovery);

        Assert.True(install.ExitCode == 0, install.ToString());
        Assert.Contains($"Tool '{PackageId}' (version '{version}') was successfully installed.", install.Stdout, StringComparison.Ordinal);
        Assert.True(versionRun.ExitCode == ExitCodes.Success, versionRun.ToString());
        Assert.StartsWith(version, versionRun.Stdout.Trim(), StringComparison.Ordinal);
        Assert.True(validate.ExitCode == ExitCodes.Success, validate.ToString());
        Assert.StartsWith($"valid: 3 server(s) (3 enabled) in {Path.Combine(RepoPaths.Root, "examples", "servers.json")}", validate.Stdout, StringComparison.Ordinal);
        Assert.Contains("default agent: guest", validate.Stdout, StringComparison.Ordinal);
    }


    /// <summary>The newest <c>mcp-gateway.VERSION.nupkg</c> in <paramref name="folder"/>, if there is one.</summary>
    private static string? NewestPackageIn(string folder) =>
        Directory.Exists(folder)
            ? new DirectoryInfo(folder).GetFiles(PackageId + ".*.nupkg").OrderByDescending(f => f.LastWriteTimeUtc).FirstOrDefault()?.FullName
            : null;

    /// <summary>Packs the gateway as <c>.ci/run</c> does, into a folder of this test's.</summary>
    private async Task<string> PackAsync()
    {
        string output = Directory.CreateDirectory(Path.Combine(_folder, "artifacts")).FullName;
        CommandResult pack = await Commands.RunAsync(GatewayProcess.DotnetHost, ["pack", Path.Combine("src", "McpGateway"), "-c", "Release", "-o", output], RepoPaths.Root, null, Ct);
        Assert.True(pack.ExitCode == 0, pack.ToString());
        return NewestPackageIn(output) ?? throw new InvalidOperationException("dotnet pack made no package: " + pack);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
