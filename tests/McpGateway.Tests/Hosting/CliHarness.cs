using McpGateway.Configuration;
using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary>The output of one command-line run.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error);

/// <summary>
/// Runs <see cref="GatewayCli"/> in-process against a per-test temporary folder that serves as both the current
/// directory and the home directory, with no environment variables unless a test sets them.
/// </summary>
internal sealed class CliHarness : IDisposable
{
    public CliHarness()
    {
        Folder = Directory.CreateTempSubdirectory("mcp-gateway-cli-").FullName;
        Home = Directory.CreateDirectory(Path.Combine(Folder, "home")).FullName;
    }

    public string Folder { get; }

    public string Home { get; }

    public Dictionary<string, string> Variables { get; } = new(StringComparer.Ordinal);

    public DiscoveryEnvironment Environment => new(name => Variables.GetValueOrDefault(name), File.Exists, Folder, Home)
    {
        // MCP_GATEWAY_A__B from this harness's own variables, never from the machine's.
        AddSettingsVariables = builder => Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(builder, Variables
            .Where(v => v.Key.StartsWith(SettingsLoader.VariablePrefix, StringComparison.Ordinal))
            .Select(v => new KeyValuePair<string, string?>(v.Key[SettingsLoader.VariablePrefix.Length..].Replace("__", ":", StringComparison.Ordinal), v.Value))),
    };

    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = await GatewayCli.RunAsync(args, Environment, output, error, TestContext.Current.CancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    public string Write(string name, string text)
    {
        string path = Path.Combine(Folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
