using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace McpGateway.Downstream;

/// <summary>A downstream tool under the name agents see, with its definition pre-serialised under that name.</summary>
internal sealed class ToolRoute
{
    public ToolRoute(string exposedName, DownstreamServer server, DownstreamTool tool, bool available)
    {
        ExposedName = exposedName;
        Server = server;
        Tool = tool;
        Available = available;

        // Serialise once per catalog: the definition exactly as the server sent it, apart from the name.
        var definition = (JsonObject)tool.Definition.DeepClone();
        definition["name"] = exposedName;
        ExposedDefinitionUtf8 = JsonSerializer.SerializeToUtf8Bytes(definition, GatewayJsonContext.Default.JsonObject);
        OriginalDefinitionUtf8 = JsonSerializer.SerializeToUtf8Bytes(tool.Definition, GatewayJsonContext.Default.JsonObject);
    }

    public string ExposedName { get; }

    public DownstreamServer Server { get; }

    public DownstreamTool Tool { get; }

    /// <summary>Whether the server was ready when the catalog was built; unavailable tools are not listed.</summary>
    public bool Available { get; }

    public byte[] ExposedDefinitionUtf8 { get; }

    public byte[] OriginalDefinitionUtf8 { get; }
}

/// <summary>
/// Every downstream tool under its exposed name, for exact-lookup routing (names are never split on a separator).
/// Immutable; rebuilt when any server's state or tool list changes. Names are assigned from every server's last-known
/// tools, including servers that are down, so a restart does not rename anything.
/// </summary>
internal sealed partial class ToolCatalog
{
    private readonly FrozenDictionary<string, ToolRoute> _byExposedName;
    private readonly FrozenDictionary<string, ToolRoute[]> _byServer;
    private readonly FrozenDictionary<(string Server, string Tool), ToolRoute> _byServerTool;

    private ToolCatalog(List<ToolRoute> routes)
    {
        Routes = routes;
        _byExposedName = routes.ToFrozenDictionary(r => r.ExposedName, StringComparer.Ordinal);
        _byServer = routes.GroupBy(r => r.Server.Name, StringComparer.Ordinal).ToFrozenDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        _byServerTool = routes.ToFrozenDictionary(r => (r.Server.Name, r.Tool.Name));
    }

    public static ToolCatalog Empty { get; } = new([]);

    /// <summary>All routes: servers in configuration order, each server's tools in its own order.</summary>
    public IReadOnlyList<ToolRoute> Routes { get; }

    public bool TryRoute(string exposedName, out ToolRoute route) => _byExposedName.TryGetValue(exposedName, out route!);

    public bool TryRoute(string server, string tool, out ToolRoute route) => _byServerTool.TryGetValue((server, tool), out route!);

    /// <summary>One server's routes, in the server's tool order.</summary>
    public IReadOnlyList<ToolRoute> ForServer(string server) => _byServer.TryGetValue(server, out ToolRoute[]? routes) ? routes : [];

    /// <summary>
    /// Assigns exposed names. The first claimant (configuration order, then tool order) of a name keeps it; later ones
    /// get the hashed form, and each such collision is logged once per process through <paramref name="reported"/>.
    /// </summary>
    public static ToolCatalog Build(
        IReadOnlyList<DownstreamServer> servers,
        string separator,
        IReadOnlySet<string> reservedNames,
        ILogger logger,
        HashSet<string> reported)
    {
        var routes = new List<ToolRoute>();
        var taken = new Dictionary<string, (string Server, string Tool)>(StringComparer.Ordinal);
        foreach (DownstreamServer server in servers)
        {
            bool available = server.IsReady;
            foreach (DownstreamTool tool in server.LastKnownTools)
            {
                string preferred = ExposedNames.Preferred(server.Config.EffectivePrefix, separator, server.Name, tool.Name);
                string name = preferred;
                if (reservedNames.Contains(name) || taken.ContainsKey(name))
                {
                    name = ExposedNames.WithHash(preferred, server.Name, tool.Name);
                    for (int n = 2; reservedNames.Contains(name) || taken.ContainsKey(name); n++)
                    {
                        name = ExposedNames.WithHash(preferred, server.Name, tool.Name, n);
                    }

                    string holder = taken.TryGetValue(preferred, out var owner) ? $"tool '{owner.Tool}' of server '{owner.Server}'" : "the gateway's own tool";
                    if (reported.Add($"{server.Name}\0{tool.Name}\0{name}"))
                    {
                        LogCollision(logger, tool.Name, server.Name, preferred, holder, name);
                    }
                }

                taken[name] = (server.Name, tool.Name);
                routes.Add(new ToolRoute(name, server, tool, available));
            }
        }

        return new ToolCatalog(routes);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tool '{Tool}' of server '{Server}' would be exposed as '{Preferred}', which {Holder} already has; it is exposed as '{Name}'. Set a 'prefix' on one of the servers to choose names yourself.")]
    private static partial void LogCollision(ILogger logger, string tool, string server, string preferred, string holder, string name);
}
