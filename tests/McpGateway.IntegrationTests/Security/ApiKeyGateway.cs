using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.Identity.ApiKeys;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// One in-process HTTP gateway with API keys (the keys file named by the settings) and the audit log on, in front of
/// server-everything and the fixture server. alpha may call everything's echo and get-sum and the fixture's echo_args
/// and pid; beta only the fixture's echo_args and a_b. The keys file holds two keys of alpha, one of beta, and a
/// revoked and an expired key of alpha. Shared by the tests that do not change the keys file.
/// </summary>
public sealed class ApiKeyGateway : IAsyncLifetime
{
    public const string Rules = """
        {
          "agents": {
            "alpha": { "allow": { "servers": ["everything", "fixture"], "tools": { "everything": ["echo", "get-sum"], "fixture": ["echo_args", "pid"] } } },
            "beta": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args", "a_b"] } } }
          }
        }
        """;

    public const string Settings = """
        {
          "authentication": { "apiKeys": { "file": "keys.json" } },
          "audit": { "file": "audit.jsonl" }
        }
        """;

    public static readonly string[] GatewayTools = ["execute_tool", "get_server_tools", "list_servers"];
    /// <summary>In ordinal order, as the tests sort what they receive.</summary>
    public static readonly string[] AlphaTools = Sorted([.. GatewayTools, "everything_echo", "everything_get-sum", "fixture_echo_args", "fixture_pid"]);

    public static readonly string[] BetaTools = Sorted([.. GatewayTools, "fixture_a_b", "fixture_echo_args"]);

    internal TestKey Alpha { get; } = SecurityTestKit.NewKey("alpha");

    internal TestKey AlphaSecond { get; } = SecurityTestKit.NewKey("alpha");

    internal TestKey Beta { get; } = SecurityTestKit.NewKey("beta");

    internal TestKey Revoked { get; } = SecurityTestKit.NewKey("alpha");

    internal TestKey Expired { get; } = SecurityTestKit.NewKey("alpha");

    internal InProcessGateway Gateway { get; private set; } = null!;

    public string Folder { get; } = Directory.CreateTempSubdirectory("mcp-gateway-keys-").FullName;

    public string AuditFile => Path.Combine(Folder, "audit.jsonl");

    public async ValueTask InitializeAsync()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        ApiKeyFile.Save(Path.Combine(Folder, "keys.json"),
        [
            Alpha.Entry(now.AddDays(-1)),
            AlphaSecond.Entry(now.AddDays(-1)),
            Beta.Entry(now.AddDays(-1), expires: now.AddYears(1)),
            Revoked.Entry(now.AddDays(-2), revoked: now.AddDays(-1)),
            Expired.Entry(now.AddDays(-2), expires: now.AddDays(-1)),
        ]);
        string servers = TestServers.File(("everything", TestServers.Everything()), ("fixture", TestServers.Fixture()));
        Gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: TestContext.Current.CancellationToken, settingsJson: Settings, folder: Folder);
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Directory.Delete(Folder, recursive: true);
    }

    private static string[] Sorted(string[] names) => [.. names.Order(StringComparer.Ordinal)];
}

/// <summary>The tests that share one <see cref="ApiKeyGateway"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ApiKeyGatewayCollection : ICollectionFixture<ApiKeyGateway>
{
    public const string Name = "API key gateway";
}
