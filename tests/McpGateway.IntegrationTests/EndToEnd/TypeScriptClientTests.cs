using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>
/// An agent built on the official TypeScript SDK launches the gateway executable over stdio as its MCP server
/// (<c>serve --agent</c>), the way Claude Desktop or an IDE does (tests/fixtures/clients/stdio-client.mjs).
/// </summary>
public sealed class TypeScriptClientTests
{
    private const string Rules = """
        { "agents": { "writer": { "allow": { "servers": ["everything"], "tools": { "everything": ["echo", "get-sum"] } } } } }
        """;

    private static string ClientScript => Path.Combine(RepoPaths.Root, "tests", "fixtures", "clients", "stdio-client.mjs");

    [Fact]
    public async Task StdioClient_ListsAndCallsTools_AsTheFixedAgent_AndCannotActAsAnother()
    {
        RepoPaths.RequireNodeModules();
        string directory = GatewayProcess.WriteConfiguration(TestServers.File(("everything", TestServers.Everything())), Rules);
        try
        {
            CommandResult run = await NodeCli.RunAsync(
                [ClientScript, GatewayProcess.DotnetHost, RepoPaths.GatewayDll, Path.Combine(directory, "servers.json"), Path.Combine(directory, "rules.json"), "writer"],
                directory,
                environment: null,
                TestContext.Current.CancellationToken);

            Assert.True(run.ExitCode == 0, run.ToString());
            JsonNode summary = JsonNode.Parse(run.Stdout.Trim().Split('\n')[^1])!;
            Assert.Equal("mcp-gateway", summary["server"]!["name"]!.GetValue<string>());
            Assert.Equal(
                ["everything_echo", "everything_get-sum", "execute_tool", "get_server_tools", "list_servers"],
                summary["tools"]!.AsArray().Select(t => t!.GetValue<string>()).Order(StringComparer.Ordinal));
            Assert.Equal("Echo: hello from TypeScript", summary["echo"]!["content"]![0]!["text"]!.GetValue<string>());
            Assert.NotEqual(true, summary["echo"]!["isError"]?.GetValue<bool>());
            JsonNode refused = summary["otherAgent"]!["error"] ?? throw new Xunit.Sdk.XunitException($"acting as another agent was not refused: {summary["otherAgent"]}");
            Assert.Equal(-32602, refused["code"]!.GetValue<int>());
            Assert.Contains("'writer'", refused["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
