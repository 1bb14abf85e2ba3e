namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>Runs a Node.js script from the npm packages the tests use (clients nobody here wrote) to completion.</summary>
internal static class NodeCli
{
    /// <summary>The MCP Inspector's launcher (the package's <c>mcp-inspector</c> bin); <c>--cli</c> selects the CLI.</summary>
    public static string InspectorLauncher => Path.Combine(RepoPaths.NodeModules, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js");

    /// <summary>Runs <c>node ARGS</c> in <paramref name="workingDirectory"/>; kills it (and fails) after the hang guard.</summary>
    public static Task<CommandResult> RunAsync(
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string>? environment,
        CancellationToken cancellationToken) =>
        Commands.RunAsync("node", arguments, workingDirectory, environment, cancellationToken);
}
