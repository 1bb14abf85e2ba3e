using System.Text.Json.Nodes;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A real authorization server (<see cref="OidcServer"/>) and an in-process gateway that accepts both its tokens
/// (discovery from the authority, audience = the gateway's resource, <c>client_id</c> mapped through a table, scope
/// <c>mcp:tools</c> required, keys refreshed at most every second) and API keys, with the audit log on. Downstream:
/// the fixture server, server-everything, and <see cref="HeaderEchoServer"/> over HTTP with one configured header.
/// agent-a's tokens and the alpha key act as alpha; agent-b's as beta; "unmapped" is a valid client that names no agent.
/// </summary>
public sealed class OidcGateway : IAsyncLifetime
{
    /// <summary>The gateway's resource identifier: what tokens must name as their audience. An identifier, not where it listens.</summary>
    public const string Resource = "http://127.0.0.1/mcp-gateway-under-test/mcp";

    /// <summary>Another resource the same authorization server issues tokens for.</summary>
    public const string OtherResource = "http://127.0.0.1/another-service/mcp";

    public const string RequiredScope = "mcp:tools";

    /// <summary>The header the servers file configures for the HTTP downstream server (and only for it).</summary>
    public const string ConfiguredHeader = "X-Downstream-Key";

    public const string ConfiguredValue = "configured-for-the-echo-server";

    public const string Rules = """
        {
          "agents": {
            "alpha": { "allow": { "servers": ["fixture", "everything", "echo"], "tools": { "fixture": ["echo_args", "pid"], "everything": ["echo"], "echo": ["request_headers"] } } },
            "beta": { "allow": { "servers": ["fixture", "echo"], "tools": { "fixture": ["echo_args", "a_b"], "echo": ["request_headers"] } } }
          }
        }
        """;

    public static readonly string[] AlphaTools = Sorted(["execute_tool", "get_server_tools", "list_servers", "echo_request_headers", "everything_echo", "fixture_echo_args", "fixture_pid"]);

    public static readonly string[] BetaTools = Sorted(["execute_tool", "get_server_tools", "list_servers", "echo_request_headers", "fixture_a_b", "fixture_echo_args"]);

    internal static OidcClient AgentA { get; } = new("agent-a", "secret-a-" + Guid.NewGuid().ToString("N"), "mcp:tools mcp:admin");

    internal static OidcClient AgentB { get; } = new("agent-b", "secret-b-" + Guid.NewGuid().ToString("N"), "mcp:tools");

    internal static OidcClient Unmapped { get; } = new("unmapped", "secret-u-" + Guid.NewGuid().ToString("N"), "mcp:tools");

    internal TestKey AlphaKey { get; } = SecurityTestKit.NewKey("alpha");

    internal OidcServer Authorization { get; private set; } = null!;

    internal HeaderEchoServer Echo { get; private set; } = null!;

    internal InProcessGateway Gateway { get; private set; } = null!;

    public string Folder { get; } = Directory.CreateTempSubdirectory("mcp-gateway-oidc-").FullName;

    public string AuditFile => Path.Combine(Folder, "audit.jsonl");

    public static string Settings(string issuer, bool apiKeys, bool audit)
    {
        var authentication = new JsonObject
        {
            ["resource"] = Resource,
            ["jwt"] = new JsonObject
            {
                ["authority"] = issuer,
                ["requireHttpsMetadata"] = false,
                ["agentClaim"] = "client_id",
                ["agents"] = new JsonObject { ["agent-a"] = "alpha", ["agent-b"] = "beta" },
                ["requiredScopes"] = new JsonArray(RequiredScope),
                ["keyRefreshSeconds"] = 1,
                ["clockSkewSeconds"] = 0,
            },
        };
        if (apiKeys)
        {
            authentication["apiKeys"] = new JsonObject { ["file"] = "keys.json" };
        }

        var settings = new JsonObject { ["authentication"] = authentication };
        if (audit)
        {
            settings["audit"] = new JsonObject { ["file"] = "audit.jsonl" };
        }

        return settings.ToJsonString();
    }

    internal static Task<OidcServer> StartAuthorizationServerAsync(CancellationToken cancellationToken) =>
        OidcServer.StartAsync([AgentA, AgentB, Unmapped], [Resource, OtherResource], cancellationToken);

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task<OidcServer> authorization = StartAuthorizationServerAsync(ct);
        Task<HeaderEchoServer> echo = HeaderEchoServer.StartAsync(ct);
        Authorization = await authorization;
        Echo = await echo;

        ApiKeyFile.Save(Path.Combine(Folder, "keys.json"), [AlphaKey.Entry(DateTimeOffset.UtcNow.AddDays(-1))]);
        var echoEntry = new JsonObject
        {
            ["type"] = "http",
            ["url"] = Echo.Endpoint.ToString(),
            ["headers"] = new JsonObject { [ConfiguredHeader] = ConfiguredValue },
        };
        string servers = TestServers.File(("fixture", TestServers.Fixture()), ("everything", TestServers.Everything()), ("echo", echoEntry));
        Gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: ct, settingsJson: Settings(Authorization.Issuer, apiKeys: true, audit: true), folder: Folder);
    }

    internal Task<string> TokenAsync(OidcClient client, string? scope = RequiredScope, string? resource = Resource) =>
        Authorization.TokenAsync(client, resource, scope, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        if (Echo is not null)
        {
            await Echo.DisposeAsync();
        }

        if (Authorization is not null)
        {
            await Authorization.DisposeAsync();
        }

        Directory.Delete(Folder, recursive: true);
    }

    internal static Dictionary<string, string> Bearer(string token) => new() { ["Authorization"] = "Bearer " + token };

    private static string[] Sorted(string[] names) => [.. names.Order(StringComparer.Ordinal)];
}

/// <summary>The tests that share one <see cref="OidcGateway"/>.</summary>
[CollectionDefinition(Name)]
public sealed class OidcGatewayCollection : ICollectionFixture<OidcGateway>
{
    public const string Name = "OIDC gateway";
}
