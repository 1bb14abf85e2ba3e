using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.Downstream;

/// <summary>A downstream resource or resource template under the URI agents see.</summary>
internal sealed class ResourceRoute
{
    public ResourceRoute(string exposedUri, DownstreamServer server, DownstreamItem item, string keyField, bool available)
    {
        ExposedUri = exposedUri;
        Server = server;
        Item = item;
        Available = available;
        var copy = (JsonObject)item.Definition.DeepClone();
        copy[keyField] = exposedUri;
        ExposedDefinitionUtf8 = JsonSerializer.SerializeToUtf8Bytes(copy, GatewayJsonContext.Default.JsonObject);
        Matcher = keyField == "uriTemplate" ? new UriTemplateMatcher(exposedUri) : null;
    }

    /// <summary>The URI (or URI template) agents see: the server's own, unless another server already has it.</summary>
    public string ExposedUri { get; }

    public DownstreamServer Server { get; }

    public DownstreamItem Item { get; }

    public bool Available { get; }

    public byte[] ExposedDefinitionUtf8 { get; }

    public UriTemplateMatcher? Matcher { get; }

    /// <summary>True when agents see this entry under another URI than the server's (it collided).</summary>
    public bool IsNamespaced => !string.Equals(ExposedUri, Item.Key, StringComparison.Ordinal);
}

/// <summary>
/// Every downstream resource and resource template. URIs stay as the server sent them while they are unique; when two
/// servers expose the same URI, the first in configuration order keeps it and the others are exposed as
/// <c>mcp-gateway://&lt;server&gt;/&lt;original uri&gt;</c>, which routes back to them.
/// </summary>
internal sealed class ResourceCatalog
{
    public const string NamespaceScheme = "mcp-gateway://";

    private readonly FrozenDictionary<string, ResourceRoute> _resourcesByUri;
    private readonly FrozenDictionary<string, ResourceRoute> _templatesByUri;
    private readonly FrozenDictionary<string, DownstreamServer> _serversByName;

    private ResourceCatalog(List<ResourceRoute> resources, List<ResourceRoute> templates, IReadOnlyList<DownstreamServer> servers)
    {
        Resources = resources;
        Templates = templates;
        _resourcesByUri = resources.ToFrozenDictionary(r => r.ExposedUri, StringComparer.Ordinal);
        _templatesByUri = templates.ToFrozenDictionary(r => r.ExposedUri, StringComparer.Ordinal);
        _serversByName = servers.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<ResourceRoute> Resources { get; }

    public IReadOnlyList<ResourceRoute> Templates { get; }

    public static ResourceCatalog Build(IReadOnlyList<DownstreamServer> servers)
    {
        return new ResourceCatalog(Assign(servers, s => s.LastKnownResources, "uri"), Assign(servers, s => s.LastKnownResourceTemplates, "uriTemplate"), servers);

        static List<ResourceRoute> Assign(IReadOnlyList<DownstreamServer> servers, Func<DownstreamServer, IReadOnlyList<DownstreamItem>> items, string keyField)
        {
            var routes = new List<ResourceRoute>();
            var taken = new HashSet<string>(StringComparer.Ordinal);
            foreach (DownstreamServer server in servers)
            {
                foreach (DownstreamItem item in items(server))
                {
                    string exposed = taken.Contains(item.Key) ? Namespaced(server.Name, item.Key) : item.Key;
                    taken.Add(exposed);
                    routes.Add(new ResourceRoute(exposed, server, item, keyField, server.IsReady));
                }
            }

            return routes;
        }
    }

    public static string Namespaced(string server, string uri) => NamespaceScheme + Uri.EscapeDataString(server) + "/" + uri;

    /// <summary>
    /// Finds the server a URI belongs to and the URI to send it: a listed resource, a namespaced URI, or a URI that
    /// one of the servers' templates produces (first match in configuration order). <paramref name="permitted"/> is
    /// asked with the server and the server's own URI, so the rules judge the URI the server will read.
    /// </summary>
    public bool TryResolve(string uri, Func<DownstreamServer, string, bool> permitted, out DownstreamServer server, out string serverUri)
    {
        if (_resourcesByUri.TryGetValue(uri, out ResourceRoute? route) && permitted(route.Server, route.Item.Key))
        {
            (server, serverUri) = (route.Server, route.Item.Key);
            return true;
        }

        if (uri.StartsWith(NamespaceScheme, StringComparison.Ordinal))
        {
            int slash = uri.IndexOf('/', NamespaceScheme.Length);
            if (slash > 0 && _serversByName.TryGetValue(Uri.UnescapeDataString(uri[NamespaceScheme.Length..slash]), out DownstreamServer? named) && permitted(named, uri[(slash + 1)..]))
            {
                (server, serverUri) = (named, uri[(slash + 1)..]);
                return true;
            }
        }

        foreach (ResourceRoute template in Templates)
        {
            if (template.Matcher!.IsMatch(uri))
            {
                string candidate = template.IsNamespaced ? uri[(NamespaceScheme.Length + Uri.EscapeDataString(template.Server.Name).Length + 1)..] : uri;
                if (permitted(template.Server, candidate))
                {
                    (server, serverUri) = (template.Server, candidate);
                    return true;
                }
            }
        }

        (server, serverUri) = (null!, string.Empty);
        return false;
    }

    /// <summary>The template route an exposed URI template names (for completions).</summary>
    public bool TryFindTemplate(string exposedTemplate, out ResourceRoute route) => _templatesByUri.TryGetValue(exposedTemplate, out route!);

    /// <summary>The URI agents see for <paramref name="serverUri"/> of <paramref name="server"/>.</summary>
    public string ExposedUriOf(DownstreamServer server, string serverUri)
    {
        if (_resourcesByUri.TryGetValue(serverUri, out ResourceRoute? route) && !ReferenceEquals(route.Server, server))
        {
            return Namespaced(server.Name, serverUri);
        }

        foreach (ResourceRoute resource in Resources)
        {
            if (ReferenceEquals(resource.Server, server) && resource.Item.Key == serverUri)
            {
                return resource.ExposedUri;
            }
        }

        return serverUri;
    }
}
