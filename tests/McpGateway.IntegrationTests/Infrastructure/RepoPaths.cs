namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>Where the things tests run live: the repository, the npm packages `.ci/run` installs, the fixture server.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string NodeModules => Path.Combine(Root, "tests", "fixtures", "node_modules");

    /// <summary>The entry point of a reference server, launched with <c>node</c> (much faster than <c>npx</c>).</summary>
    public static string ReferenceServer(string name) =>
        Path.Combine(NodeModules, "@modelcontextprotocol", "server-" + name, "dist", "index.js");

    /// <summary>The fixture server's native launcher, built next to this test assembly's configuration.</summary>
    public static string FixtureServer => Path.Combine(Root, "tests", "fixtures", "FixtureServer", "bin", Configuration, "net10.0", "fixture-server");

    /// <summary>The gateway as built for these tests (the test project references it, so it is in the output folder).</summary>
    public static string GatewayDll => Path.Combine(AppContext.BaseDirectory, "mcp-gateway.dll");

    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    public static void RequireNodeModules()
    {
        if (!File.Exists(ReferenceServer("everything")))
        {
            throw new InvalidOperationException($"The reference MCP servers are not installed in {NodeModules}. Run: npm ci --prefix tests/fixtures (bash .ci/run does this).");
        }
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "McpGateway.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (the folder holding McpGateway.slnx).");
    }
}
