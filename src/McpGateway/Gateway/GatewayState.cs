using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Policy;

namespace McpGateway.Gateway;

/// <summary>
/// The state every request reads: configuration, policy and the catalogs of tools, prompts and resources, immutable and
/// swapped whole. Each agent's lists are built once per state (serialised, ready to send) and reused until it changes.
/// </summary>
internal sealed class GatewayState
{
    private readonly ConcurrentDictionary<(ListKind Kind, string Agent), JsonElement> _lists = new();
    private readonly GatewayTools _gatewayTools;

    public GatewayState(
        ConfigurationSnapshot config,
        ToolCatalog catalog,
        PromptCatalog prompts,
        ResourceCatalog resources,
        long version,
        GatewayTools gatewayTools,
        ExposureMode mode)
    {
        Config = config;
        Catalog = catalog;
        Prompts = prompts;
        Resources = resources;
        Version = version;
        Mode = mode;
        _gatewayTools = gatewayTools;
    }

    public ConfigurationSnapshot Config { get; }

    public PolicySnapshot Policy => Config.Policy;

    public ToolCatalog Catalog { get; }

    public PromptCatalog Prompts { get; }

    public ResourceCatalog Resources { get; }

    public long Version { get; }

    public ExposureMode Mode { get; }

    public IReadOnlyDictionary<string, DownstreamServer> Servers { get; init; } = new Dictionary<string, DownstreamServer>();

    /// <summary>Whether the named server is connected now.</summary>
    public bool IsServerReady(string server) => Servers.TryGetValue(server, out DownstreamServer? downstream) && downstream.IsReady;

    /// <summary>True when <paramref name="agent"/> may use <paramref name="server"/> at all (prompts and resources follow the server decision).</summary>
    public bool MayUse(string? agent, DownstreamServer server) =>
        agent is not null && Policy.FindAgent(agent) is { } policy && policy.DecideServer(server.Name).IsAllowed;

    /// <summary>The <c>tools</c> array <paramref name="agent"/> sees: the gateway's own tools, then (proxy mode) every permitted available downstream tool.</summary>
    public JsonElement ToolsFor(string? agent) => ListFor(ListKind.Tools, agent);

    /// <summary>
    /// The array of <paramref name="kind"/> the agent sees. Agents not in the rules share one entry (the gateway's own
    /// tools, nothing else) so made-up names cannot grow the cache.
    /// </summary>
    public JsonElement ListFor(ListKind kind, string? agent)
    {
        AgentPolicy? policy = agent is null ? null : Policy.FindAgent(agent);
        (ListKind, string) key = (kind, policy?.Name ?? string.Empty);
        return _lists.TryGetValue(key, out JsonElement cached) ? cached : _lists.GetOrAdd(key, Build(kind, policy));
    }

    /// <summary>
    /// The <c>ttlMs</c> of <paramref name="agent"/>'s list of <paramref name="kind"/> (see <see cref="CachingHints"/>): the
    /// least remaining freshness of the lists of the servers the agent may use; 0 when one of them gave no hint, or none may.
    /// </summary>
    public long CacheTtlMs(ListKind kind, string? agent)
    {
        AgentPolicy? policy = agent is null ? null : Policy.FindAgent(agent);
        long? least = null;
        foreach (DownstreamServer server in Servers.Values)
        {
            if (policy?.DecideServer(server.Name).IsAllowed != true)
            {
                continue;
            }

            if (server.ListFreshForMs(kind) is not long fresh)
            {
                return 0;
            }

            least = Math.Min(least ?? long.MaxValue, fresh);
        }

        return least ?? 0;
    }

    /// <summary>True when <paramref name="agent"/> may get <paramref name="route"/>'s prompt: the same decision that filters the list.</summary>
    public bool MayGetPrompt(string? agent, PromptRoute route) =>
        agent is not null && route.Available && Policy.DecidePrompt(agent, route.Server.Name, route.Prompt.Key).IsAllowed;

    /// <summary>
    /// True when <paramref name="agent"/> may read <paramref name="serverUri"/> (the server's own URI; for a template,
    /// its URI template) of <paramref name="server"/>: the decision that filters resource lists, guards reads, and
    /// decides subscriptions and completions of templates.
    /// </summary>
    public bool MayReadResource(string? agent, DownstreamServer server, string serverUri) =>
        agent is not null && Policy.DecideResource(agent, server.Name, serverUri).IsAllowed;

    private JsonElement Build(ListKind kind, AgentPolicy? policy)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            switch (kind)
            {
                case ListKind.Tools:
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

                    break;
                case ListKind.Prompts:
                    foreach (PromptRoute route in Prompts.Routes)
                    {
                        if (route.Available && policy?.DecidePrompt(route.Server.Name, route.Prompt.Key).IsAllowed == true)
                        {
                            writer.WriteRawValue(route.ExposedDefinitionUtf8, skipInputValidation: true);
                        }
                    }

                    break;
                default:
                    foreach (ResourceRoute route in kind == ListKind.Resources ? Resources.Resources : Resources.Templates)
                    {
                        if (route.Available && policy?.DecideResource(route.Server.Name, route.Item.Key).IsAllowed == true)
                        {
                            writer.WriteRawValue(route.ExposedDefinitionUtf8, skipInputValidation: true);
                        }
                    }

                    break;
            }

            writer.WriteEndArray();
        }

        using JsonDocument document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }
}
