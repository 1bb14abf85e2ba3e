using System.Text;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// One gateway for the tests of what servers list and serve (resources, prompts, completions, tasks, era adaptation,
/// the HTTP endpoint): server-everything twice (<c>everything</c>, and <c>everything2</c> with an empty prefix, so its
/// URIs collide with the first's and its prompt names stay as they are) and the conformance fixture (<c>conf</c>, a
/// 2026-07-28 server), with clients straight to everything and the fixture to compare with. Each everything instance
/// also gets a session resource <see cref="CollidingUri"/> holding different data, so a read shows which one answered.
/// </summary>
public sealed class CatalogGateway : ProtocolGateway
{
    public const string Collection = "Protocol catalog";

    public const string CollidingUri = "demo://resource/session/same.gz";
    public const string NamespacedCollidingUri = "mcp-gateway://everything2/" + CollidingUri;
    public const string FirstServersData = "held by everything";
    public const string SecondServersData = "held by everything2";

    internal McpClient DirectEverything { get; private set; } = null!;

    internal McpClient DirectConformance { get; private set; } = null!;

    /// <summary>Straight to the conformance fixture in 2026-07-28, the revision the gateway's own hop to it negotiates.</summary>
    internal McpClient DirectConformanceModern { get; private set; } = null!;

    protected override string Servers => TestServers.File(
        ("everything", TestServers.Everything()),
        ("everything2", new JsonObject { ["command"] = "node", ["args"] = new JsonArray(RepoPaths.ReferenceServer("everything")), ["prefix"] = "" }),
        ("conf", ProtocolServers.Conformance()));

    public static string DataUri(string text) => "data:text/plain;base64," + Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    public override async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task gateway = base.InitializeAsync().AsTask();
        Task<McpClient> everything = DirectServers.EverythingAsync(ct);
        Task<McpClient> conformance = ProtocolServers.DirectConformanceAsync(ProtocolAgents.Legacy, ct);
        Task<McpClient> conformanceModern = ProtocolServers.DirectConformanceAsync(protocolVersion: null, ct);
        try
        {
            await Task.WhenAll(gateway, everything, conformance, conformanceModern);
        }
        finally
        {
            DirectEverything = everything.IsCompletedSuccessfully ? everything.Result : null!;
            DirectConformance = conformance.IsCompletedSuccessfully ? conformance.Result : null!;
            DirectConformanceModern = conformanceModern.IsCompletedSuccessfully ? conformanceModern.Result : null!;
        }

        // The same session resource on the direct everything (with the first server's data, so lists compare equal) and
        // on both gateway servers, which then expose one URI: the gateway namespaces the second server's.
        Agent agent = await ConnectAsync(AgentLink.Http);
        await DirectEverything.RequestAsync(RequestMethods.ToolsCall, Gzip("gzip-file-as-resource", FirstServersData), ct);
        await agent.RequestAsync(RequestMethods.ToolsCall, Gzip("everything_gzip-file-as-resource", FirstServersData), ct);
        await agent.RequestAsync(RequestMethods.ToolsCall, Gzip("gzip-file-as-resource", SecondServersData), ct);
        await UntilListedAsync(agent, [CollidingUri, NamespacedCollidingUri], ct);
    }

    private static JsonObject Gzip(string tool, string data) => new()
    {
        ["name"] = tool,
        ["arguments"] = new JsonObject { ["name"] = "same.gz", ["data"] = DataUri(data) },
    };

    /// <summary>Waits (on resources/list_changed, never by sleeping) until the agent's resource list holds every URI.</summary>
    internal static async Task UntilListedAsync(Agent agent, string[] uris, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            int seen = agent.Wire.Notifications(NotificationMethods.ResourceListChangedNotification).Count;
            JsonArray listed = (await agent.RequestAsync(RequestMethods.ResourcesList, null, ct))["resources"]!.AsArray();
            string[] missing = [.. uris.Where(u => !listed.Any(r => r!["uri"]!.GetValue<string>() == u))];
            if (missing.Length == 0)
            {
                return;
            }

            Assert.True(attempt < 20, $"Still not listed after {attempt} list changes: {string.Join(", ", missing)}");
            await agent.Wire.WaitForNotificationCountAsync(NotificationMethods.ResourceListChangedNotification, seen + 1, "resources/list_changed", ct);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (McpClient? client in (McpClient?[])[DirectEverything, DirectConformance, DirectConformanceModern])
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }

        await base.DisposeAsync();
    }
}

[CollectionDefinition(CatalogGateway.Collection)]
public sealed class CatalogGatewayCollection : ICollectionFixture<CatalogGateway>;
