using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>The gateway executable serving <c>--http 0</c> in front of server-everything, shared by <see cref="InspectorCliTests"/>.</summary>
public sealed class EverythingHttpGatewayProcess : IAsyncLifetime
{
    public const string Rules = """
        { "agents": { "alpha": { "allow": { "servers": ["everything"], "tools": { "everything": ["echo", "get-sum"] } } } } }
        """;

    internal GatewayProcess Gateway { get; private set; } = null!;

    /// <summary>A home for the Inspector's catalog and storage files, so runs leave nothing in the real home folder.</summary>
    public string InspectorHome { get; } = Directory.CreateTempSubdirectory("mcp-inspector-home-").FullName;

    public async ValueTask InitializeAsync()
    {
        RepoPaths.RequireNodeModules();
        Gateway = await GatewayProcess.StartAsync(
            TestServers.File(("everything", TestServers.Everything())),
            Rules,
            ["--http", "0"],
            TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Directory.Delete(InspectorHome, recursive: true);
    }
}

/// <summary>The official MCP Inspector CLI (a client nobody here wrote) lists and calls tools through the real gateway over HTTP.</summary>
public sealed class InspectorCliTests(EverythingHttpGatewayProcess fixture) : IClassFixture<EverythingHttpGatewayProcess>
{
    // Exit codes documented by the Inspector CLI.
    private const int ToolErrorOrNotFound = 5;

    [Fact]
    public async Task ToolsList_ShowsTheAgentsTools_AndExitsZero()
    {
        CommandResult run = await InspectAsync(["--method", "tools/list"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        JsonArray tools = JsonNode.Parse(run.Stdout)!["result"]!["tools"]!.AsArray();
        Assert.Equal(
            ["everything_echo", "everything_get-sum", "execute_tool", "get_server_tools", "list_servers"],
            tools.Select(t => t!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ToolsCall_ReachesTheDownstreamServer_AndPrintsItsResult()
    {
        CommandResult run = await InspectAsync(["--method", "tools/call", "--tool-name", "everything_echo", "--tool-arg", "message=hi"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        JsonNode result = JsonNode.Parse(run.Stdout)!["result"]!;
        Assert.Equal("Echo: hi", result["content"]![0]!["text"]!.GetValue<string>());
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
    }

    [Fact]
    public async Task ExecuteTool_OfAToolTheAgentMayNotUse_IsAToolError()
    {
        CommandResult run = await InspectAsync(["--method", "tools/call", "--tool-name", "execute_tool", "--tool-args-json", """{"server":"everything","tool":"get-env"}"""]);

        Assert.True(run.ExitCode == ToolErrorOrNotFound, run.ToString());
        Assert.Contains("Unknown tool: 'get-env' on server 'everything'", run.Stdout + run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("PATH", run.Stdout, StringComparison.Ordinal);
    }

    private Task<CommandResult> InspectAsync(string[] method)
    {
        string[] arguments =
        [
            NodeCli.InspectorLauncher, "--cli", fixture.Gateway.Endpoint!.ToString(),
            "--transport", "http", "--header", "X-Agent-Id: alpha", "--format", "json", .. method,
        ];
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = fixture.InspectorHome,
            ["MCP_CATALOG_PATH"] = Path.Combine(fixture.InspectorHome, "mcp.json"),
            ["MCP_CLIENT_CONFIG_PATH"] = Path.Combine(fixture.InspectorHome, "client.json"),
        };
        return NodeCli.RunAsync(arguments, fixture.InspectorHome, environment, TestContext.Current.CancellationToken);
    }
}
