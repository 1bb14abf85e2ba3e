using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>Servers-file entries for the real reference servers and the fixture, ready to put in a test configuration.</summary>
internal static class TestServers
{
    public static JsonObject Everything() => Node(RepoPaths.ReferenceServer("everything"));

    public static JsonObject Memory(string memoryFile) => new()
    {
        ["command"] = "node",
        ["args"] = new JsonArray(RepoPaths.ReferenceServer("memory")),
        ["env"] = new JsonObject { ["MEMORY_FILE_PATH"] = memoryFile },
    };

    public static JsonObject Filesystem(string root) => new()
    {
        ["command"] = "node",
        ["args"] = new JsonArray(RepoPaths.ReferenceServer("filesystem"), root),
    };

    /// <summary>
    /// The fixture, with two minutes to start: the gateway gives its 2026-07-28 <c>server/discover</c> probe half the
    /// start timeout, and a cold .NET process on a loaded machine must not overrun it and be taken for a 2025-11-25
    /// server. (It answers the probe, so nothing waits on this; the reference servers refuse it at once.)
    /// </summary>
    public static JsonObject Fixture(params string[] args) => new()
    {
        ["command"] = RepoPaths.FixtureServer,
        ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a)]),
        ["startTimeoutMs"] = 120_000,
    };

    public static JsonObject Broken() => new() { ["command"] = "/nonexistent/mcp-server-that-does-not-exist" };

    /// <summary>A servers file holding the given entries.</summary>
    public static string File(params (string Name, JsonObject Entry)[] servers)
    {
        var map = new JsonObject();
        foreach ((string name, JsonObject entry) in servers)
        {
            map[name] = entry;
        }

        return new JsonObject { ["mcpServers"] = map }.ToJsonString();
    }

    private static JsonObject Node(string script) => new()
    {
        ["command"] = "node",
        ["args"] = new JsonArray(script),
    };
}
