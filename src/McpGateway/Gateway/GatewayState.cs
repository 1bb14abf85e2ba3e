using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Policy;

namespace McpGateway.Gateway;

/// <summary>
/// The state every request reads: configuration, policy and tool catalog, immutable and swapped whole. Each agent's
/// tool list is built once per state (serialised, ready to send) and reused until the state changes.
/// </summary>
internal sealed class GatewayState
{
    // Agents not in the rules share one cached list (the gateway's own tools) so that made-up names cannot grow the cache.
    private const string NoAgentKey = "";

    private readonly ConcurrentDictionary<string, JsonElement> _toolLists = new(StringComparer.Ordinal);
    private readonly GatewayTools _gatewayTools;

    public GatewayState(ConfigurationSnapshot config, ToolCatalog catalog, long version, GatewayTools gatewayTools, ExposureMode mode)
    {
        Config = config;
        Catalog = catalog;
        Version = version;
        Mode = mode;
        _gatewayTools = gatewayTools;
    }

    public ConfigurationSnapshot Config { get; }

    public PolicySnapshot Policy => Config.Policy;

    public ToolCatalog Catalog { get; }

    public long Version { get; }

    public ExposureMode Mode { get; }

    /// <summary>Whether the named server is connected now.</summary>
    public bool IsServerReady(string server) => Servers.TryGetValue(server, out DownstreamServer? downstream) && downstream.IsReady;

    public IReadOnlyDictionary<string, DownstreamServer> Servers { get; init; } = new Dictionary<string, DownstreamServer>();

    /// <summary>The <c>tools</c> array <paramref name="agent"/> sees: the gateway's own tools, then (proxy mode) every permitted available downstream tool.</summary>
    public JsonElement ToolsFor(string? agent)
    {
        AgentPolicy? policy = agent is null ? null : Policy.FindAgent(agent);
        string key = policy?.Name ?? NoAgentKey;
        return _toolLists.TryGetValue(key, out JsonElement cached) ? cached : _toolLists.GetOrAdd(key, BuildToolList(policy));
    }

    /// <summary>True when <paramref name="agent"/> may call <paramref name="route"/>: the same decision that filters the list.</summary>
    public bool IsPermitted(string agent, ToolRoute route, out PolicyDecision decision)
    {
        decision = Policy.DecideTool(agent, route.Server.Name, route.Tool.Name);
        return decision.IsAllowed;
    }

    private JsonElement BuildToolList(AgentPolicy? policy)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (byte[] definition in _gatewayTools.DefinitionsUtf8)
            {
                writer.WriteRawValue(definition, skipInputValidation: true);
            }

            if (Mode == ExposureMode.Proxy && policy is not null)
            {
                foreach (ToolRoute route in Catalog.Routes)
                {
                    if (route.Available && policy.DecideTool(route.Server.Name, route.Tool.Name).IsAllowed)
                    {
                        writer.WriteRawValue(route.ExposedDefinitionUtf8, skipInputValidation: true);
                    }
                }
            }

            writer.WriteEndArray();
        }

        using JsonDocument document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }
}
