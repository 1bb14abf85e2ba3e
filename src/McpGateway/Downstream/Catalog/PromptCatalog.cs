using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace McpGateway.Downstream;

/// <summary>A downstream prompt under the name agents see.</summary>
internal sealed class PromptRoute(string exposedName, DownstreamServer server, DownstreamItem prompt, bool available)
{
    public string ExposedName { get; } = exposedName;

    public DownstreamServer Server { get; } = server;

    public DownstreamItem Prompt { get; } = prompt;

    public bool Available { get; } = available;

    /// <summary>The definition as the server sent it, apart from the name.</summary>
    public byte[] ExposedDefinitionUtf8 { get; } = Serialize(prompt.Definition, exposedName);

    private static byte[] Serialize(JsonObject definition, string name)
    {
        var copy = (JsonObject)definition.DeepClone();
        copy["name"] = name;
        return JsonSerializer.SerializeToUtf8Bytes(copy, GatewayJsonContext.Default.JsonObject);
    }
}

/// <summary>Every downstream prompt under its exposed name: the same naming rules as tools (prefix, separator, limits, collisions).</summary>
internal sealed partial class PromptCatalog
{
    private readonly FrozenDictionary<string, PromptRoute> _byExposedName;

    private PromptCatalog(List<PromptRoute> routes)
    {
        Routes = routes;
        _byExposedName = routes.ToFrozenDictionary(r => r.ExposedName, StringComparer.Ordinal);
    }

    public IReadOnlyList<PromptRoute> Routes { get; }

    public bool TryRoute(string exposedName, out PromptRoute route) => _byExposedName.TryGetValue(exposedName, out route!);

    public static PromptCatalog Build(IReadOnlyList<DownstreamServer> servers, string separator, ILogger logger, HashSet<string> reported)
    {
        var routes = new List<PromptRoute>();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (DownstreamServer server in servers)
        {
            foreach (DownstreamItem prompt in server.LastKnownPrompts)
            {
                string preferred = ExposedNames.Preferred(server.Config.EffectivePrefix, separator, server.Name, prompt.Key);
                string name = preferred;
                for (int attempt = 1; taken.Contains(name); attempt++)
                {
                    name = ExposedNames.WithHash(preferred, server.Name, prompt.Key, attempt);
                }

                if (name != preferred && reported.Add($"prompt\0{server.Name}\0{prompt.Key}\0{name}"))
                {
                    LogCollision(logger, prompt.Key, server.Name, preferred, name);
                }

                taken.Add(name);
                routes.Add(new PromptRoute(name, server, prompt, server.IsReady));
            }
        }

        return new PromptCatalog(routes);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prompt '{Prompt}' of server '{Server}' would be exposed as '{Preferred}', which another prompt already has; it is exposed as '{Name}'.")]
    private static partial void LogCollision(ILogger logger, string prompt, string server, string preferred, string name);
}
