using System.Text.Json.Nodes;
using McpGateway.Gateway;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// A gateway in front of server-everything, server-memory and the fixture, with three agents whose rules differ:
/// alpha (an explicit allow list), beta (all servers but one, minus denied patterns, memory by implicit grant) and
/// gamma (two servers, explicit lists). Shared by the tests of one class.
/// </summary>
public abstract class ThreeAgentsGateway(ExposureMode mode) : IAsyncLifetime
{
    public const string Rules = """
        {
          "agents": {
            "alpha": { "allow": { "servers": ["everything"], "tools": { "everything": ["echo", "get-sum", "get-tiny-image"] } } },
            "beta": {
              "allow": { "servers": ["*"] },
              "deny": { "servers": ["fixture"], "tools": { "everything": ["get-env", "gzip-*", "simulate-*", "trigger-*", "toggle-*"] } }
            },
            "gamma": { "allow": { "servers": ["fixture", "memory"], "tools": { "memory": ["read_graph"], "fixture": ["echo_args", "fail", "a_b"] } } }
          }
        }
        """;

    public static readonly string[] GatewayToolNames = ["list_servers", "get_server_tools", "execute_tool"];

    public static readonly IReadOnlyDictionary<string, string[]> ProxyTools = new Dictionary<string, string[]>
    {
        ["alpha"] = [.. GatewayToolNames, "everything_echo", "everything_get-sum", "everything_get-tiny-image"],
        ["beta"] =
        [
            .. GatewayToolNames,
            "everything_echo", "everything_get-annotated-message", "everything_get-resource-links", "everything_get-resource-reference",
            "everything_get-structured-content", "everything_get-sum", "everything_get-tiny-image", "everything_get-roots-list",
            "memory_create_entities", "memory_create_relations", "memory_add_observations", "memory_delete_entities",
            "memory_delete_observations", "memory_delete_relations", "memory_read_graph", "memory_search_nodes", "memory_open_nodes",
        ],
        ["gamma"] = [.. GatewayToolNames, "memory_read_graph", "fixture_echo_args", "fixture_fail", "fixture_a_b"],
    };

    private readonly string _memoryFile = Path.Combine(Path.GetTempPath(), $"mcp-gateway-test-{Guid.NewGuid():N}.jsonl");

    internal InProcessGateway Gateway { get; private set; } = null!;

    /// <summary>The same configuration served with <c>--stateless</c>.</summary>
    internal InProcessGateway StatelessGateway { get; private set; } = null!;

    public ExposureMode Mode => mode;

    public async ValueTask InitializeAsync()
    {
        string servers = TestServers.File(
            ("everything", TestServers.Everything()),
            ("memory", TestServers.Memory(_memoryFile)),
            ("fixture", TestServers.Fixture()));
        InProcessGateway[] gateways = await Task.WhenAll(
            InProcessGateway.StartAsync(servers, Rules, new GatewayOptions { Mode = mode }, cancellationToken: TestContext.Current.CancellationToken),
            InProcessGateway.StartAsync(servers, Rules, new GatewayOptions { Mode = mode }, stateless: true, cancellationToken: TestContext.Current.CancellationToken));
        (Gateway, StatelessGateway) = (gateways[0], gateways[1]);
    }

    /// <summary>A client on the gateway that serves <paramref name="transport"/>.</summary>
    internal Task<ModelContextProtocol.Client.McpClient> ConnectAsync(ServedTransport transport, string? agentHeader, CancellationToken cancellationToken) =>
        (transport == ServedTransport.HttpStateless ? StatelessGateway : Gateway).ConnectAsync(transport, agentHeader, cancellationToken: cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Gateway.DisposeAsync().AsTask(), StatelessGateway.DisposeAsync().AsTask());
        File.Delete(_memoryFile);
        GC.SuppressFinalize(this);
    }

    /// <summary>Arguments that let a call reach its tool; a validation error from the tool still proves it was callable.</summary>
    public static JsonObject SafeArguments(string exposedName) => exposedName switch
    {
        "everything_echo" => new JsonObject { ["message"] = "hello" },
        "everything_get-sum" => new JsonObject { ["a"] = 1, ["b"] = 2 },
        "everything_get-structured-content" => new JsonObject { ["location"] = "Chicago" },
        "everything_get-annotated-message" => new JsonObject { ["messageType"] = "success" },
        "get_server_tools" => new JsonObject { ["server"] = "everything" },
        "execute_tool" => new JsonObject { ["server"] = "everything", ["tool"] = "echo", ["args"] = new JsonObject { ["message"] = "hi" } },
        _ => [],
    };
}

public sealed class ProxyGateway() : ThreeAgentsGateway(ExposureMode.Proxy);

public sealed class DiscoveryGateway() : ThreeAgentsGateway(ExposureMode.Discovery);
