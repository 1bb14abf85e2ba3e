using System.Net;
using System.Text.Json.Nodes;
using McpGateway.FastPath;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A gateway in front of server-memory, whose <c>create_entities</c> leaves a trace the tests can look for: a request
/// the gateway refuses must not have created anything downstream. Memory is a 2025-11-25 stdio server, so a plain
/// call takes the fast path and a call with <c>_meta</c> the SDK path; both are tried. <c>writer</c> (the default
/// agent) may create and read entities but not delete them. The settings allow one extra browser origin and keep
/// request bodies small.
/// </summary>
public sealed class HardeningGateway : IAsyncLifetime
{
    public const string AllowedOrigin = "http://app.example:8443";
    public const int MaxBodyBytes = 16 * 1024;

    public const string Rules = """
        {
          "agents": {
            "writer": { "allow": { "servers": ["memory"], "tools": { "memory": ["create_entities", "read_graph"] } } }
          },
          "defaults": { "default_agent": "writer" }
        }
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-hardening-").FullName;

    /// <summary>Stateful sessions (the default).</summary>
    internal HardenedEndpoint Stateful { get; private set; } = null!;

    /// <summary><c>--stateless</c>: no session, so the fast path takes plain calls straight away.</summary>
    internal HardenedEndpoint Stateless { get; private set; } = null!;

    internal HardenedEndpoint Of(bool stateless) => stateless ? Stateless : Stateful;

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        HardenedEndpoint[] started = await Task.WhenAll(StartAsync("stateful", stateless: false, ct), StartAsync("stateless", stateless: true, ct));
        (Stateful, Stateless) = (started[0], started[1]);
    }

    private async Task<HardenedEndpoint> StartAsync(string name, bool stateless, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_folder, name)).FullName;
        string servers = TestServers.File(("memory", TestServers.Memory(Path.Combine(folder, "memory.jsonl"))));
        string settings = new JsonObject
        {
            ["http"] = new JsonObject { ["stateless"] = stateless, ["allowedOrigins"] = new JsonArray(AllowedOrigin), ["maxRequestBodyBytes"] = MaxBodyBytes },
        }.ToJsonString();
        InProcessGateway gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: cancellationToken, settingsJson: settings, folder: folder);
        var http = new RawMcpHttp(gateway.Endpoint);
        return new HardenedEndpoint(gateway, http, stateless ? null : await http.OpenSessionAsync(cancellationToken));
    }

    /// <summary>A call that creates an entity named <paramref name="entity"/>, fast-path-shaped or (with <paramref name="sdkShaped"/>) not.</summary>
    public static string CreateEntity(int id, string entity, bool sdkShaped) =>
        RawMcpHttp.ToolCall(id, "memory_create_entities", Entities(entity), meta: sdkShaped);

    public static JsonObject Entities(string entity) => new()
    {
        ["entities"] = new JsonArray(new JsonObject { ["name"] = entity, ["entityType"] = "canary", ["observations"] = new JsonArray() }),
    };

    public static string NewEntity() => "entity-" + Guid.NewGuid().ToString("N");

    public async ValueTask DisposeAsync()
    {
        foreach (HardenedEndpoint? endpoint in (HardenedEndpoint?[])[Stateful, Stateless])
        {
            if (endpoint is not null)
            {
                await endpoint.Gateway.DisposeAsync();
            }
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // server-memory may still be writing its file for a moment.
        }
    }
}

/// <summary>One of the hardening gateways, with a session of its own (stateful) to observe server-memory through.</summary>
internal sealed record HardenedEndpoint(InProcessGateway Gateway, RawMcpHttp Http, string? ObserverSession)
{
    public long Taken => Gateway.Services.GetRequiredService<FastForwarder>().Taken;

    /// <summary>A session for one test (stateful), or none (stateless).</summary>
    public async Task<string?> SessionAsync(CancellationToken cancellationToken) =>
        ObserverSession is null ? null : await Http.OpenSessionAsync(cancellationToken);

    /// <summary>Whether server-memory holds <paramref name="entity"/>: asked through the gateway with an ordinary call.</summary>
    public async Task<bool> ExistsAsync(string entity, CancellationToken cancellationToken)
    {
        HttpReply graph = await Http.PostAsync(RawMcpHttp.ToolCall(900, "memory_read_graph"), cancellationToken, ObserverSession);
        Assert.Equal(HttpStatusCode.OK, graph.Status);
        return graph.Result["content"]![0]!["text"]!.GetValue<string>().Contains(entity, StringComparison.Ordinal);
    }
}
