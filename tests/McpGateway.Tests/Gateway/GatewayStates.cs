using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Policy;
using McpGateway.Tests.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpGateway.Tests.Gateway;

/// <summary>
/// Gateway states built from inline files, with each server's tools set by hand (no server runs): what the gateway's
/// decisions read. Servers: <c>db</c> (query, list_users, drop_table), <c>web</c> (fetch), <c>secret</c> (peek),
/// <c>off</c> (disabled). Agents: <c>alpha</c> may use db (query and list_* only), web and off; <c>beta</c> web only.
/// </summary>
internal sealed class GatewayStates : IAsyncDisposable
{
    public const string Servers = """
        {"mcpServers": {
          "db": {"command": "db-server"},
          "web": {"command": "web-server"},
          "secret": {"command": "secret-server"},
          "off": {"command": "off-server", "enabled": false}
        }}
        """;

    public const string Rules = """
        {"agents": {
          "alpha": {"allow": {"servers": ["db", "web", "off"], "tools": {"db": ["query", "list_*"]}}},
          "beta": {"allow": {"servers": ["web"]}}
        }}
        """;

    private static readonly Dictionary<string, string[]> s_tools = new(StringComparer.Ordinal)
    {
        ["db"] = ["query", "list_users", "drop_table"],
        ["web"] = ["fetch"],
        ["secret"] = ["peek"],
    };

    private readonly List<DownstreamServer> _servers = [];

    /// <summary>A state over the servers and rules above; <paramref name="without"/> leaves tools out (server/tool).</summary>
    public GatewayState Build(ExposureMode mode = ExposureMode.Proxy, params string[] without)
    {
        ConfigLoadResult<ServersConfig> servers = ConfigurationLoader.ParseServers("servers.json", Servers, _ => null);
        Assert.True(servers.Succeeded, string.Join(Environment.NewLine, servers.Diagnostics));
        RulesConfig rules = PolicyFixture.Parse(Rules);
        PolicySnapshot policy = PolicySnapshot.Compile(rules, servers.Value!.Servers.Select(s => s.Name));
        var downstream = new List<DownstreamServer>();
        // Only enabled servers run (DownstreamManager), so only theirs are in the catalog.
        foreach (ServerConfig config in servers.Value.Servers.Where(s => s.Enabled))
        {
            var server = new DownstreamServer(config, new DownstreamOptions(), NullLoggerFactory.Instance, TimeProvider.System);
            server.SetLastKnownTools([.. s_tools[config.Name].Where(t => !without.Contains(config.Name + "/" + t)).Select(Tool)]);
            downstream.Add(server);
            _servers.Add(server);
        }

        var reported = new HashSet<string>(StringComparer.Ordinal);
        var options = new GatewayOptions { Mode = mode };
        return new GatewayState(
            new ConfigurationSnapshot(servers.Value, rules, policy),
            ToolCatalog.Build(downstream, options.Separator, new HashSet<string>(GatewayTools.Names, StringComparer.Ordinal), NullLogger.Instance, reported),
            PromptCatalog.Build(downstream, options.Separator, NullLogger.Instance, reported),
            ResourceCatalog.Build(downstream),
            version: 1,
            new GatewayTools(options),
            mode)
        {
            Servers = downstream.ToDictionary(s => s.Name, StringComparer.Ordinal),
        };
    }

    private static DownstreamTool Tool(string name) =>
        new(name, new JsonObject { ["name"] = name, ["inputSchema"] = new JsonObject { ["type"] = "object" } });

    public async ValueTask DisposeAsync()
    {
        foreach (DownstreamServer server in _servers)
        {
            await server.DisposeAsync();
        }
    }
}
