using McpGateway.Configuration;
using McpGateway.Hosting;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>The output of one command-line run.</summary>
internal sealed record CliRun(int ExitCode, string Output, string Error);

/// <summary>
/// Runs <see cref="GatewayCli"/> in the test process (<c>status</c>, <c>reload</c>, <c>validate</c>, <c>keys</c>) with
/// <paramref name="folder"/> as current and home directory and no environment variables but the given ones, so nothing
/// of the machine's configuration is found.
/// </summary>
internal static class OperationsCli
{
    public static async Task<CliRun> RunAsync(string folder, string[] args, IReadOnlyDictionary<string, string>? variables = null)
    {
        variables ??= new Dictionary<string, string>();
        var environment = new DiscoveryEnvironment(name => variables.GetValueOrDefault(name), File.Exists, folder, folder)
        {
            AddSettingsVariables = _ => { },
        };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = await GatewayCli.RunAsync(args, environment, output, error, TestContext.Current.CancellationToken);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Adds an API key for <paramref name="agent"/> with <c>keys add</c> (the keys file beside the settings) and returns it.</summary>
    public static async Task<string> AddKeyAsync(string folder, string agent)
    {
        CliRun added = await RunAsync(folder, ["keys", "add", "--agent", agent, .. FilesIn(folder)]);
        Assert.True(added.ExitCode == ExitCodes.Success, added.Error);
        return added.Output.Trim();
    }

    /// <summary>The three files <see cref="Infrastructure.InProcessGateway.WriteFiles"/> writes, as command-line options.</summary>
    public static string[] FilesIn(string folder) =>
        ["--config", Path.Combine(folder, "servers.json"), "--rules", Path.Combine(folder, "rules.json"), "--settings", Path.Combine(folder, "settings.json")];
}
