using McpGateway.Configuration;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// Holds the current <see cref="GatewayState"/> and builds a new one when a downstream server changes or the
/// configuration is reloaded. After each swap, every live session whose view changed (its agent's tools, prompts or
/// resources) is sent the list-changed notices for what changed, and no other.
/// </summary>
internal sealed class GatewayStateProvider
{
    private static readonly (ListKind Kind, string Method)[] s_notices =
    [
        (ListKind.Tools, NotificationMethods.ToolListChangedNotification),
        (ListKind.Prompts, NotificationMethods.PromptListChangedNotification),
        (ListKind.Resources, NotificationMethods.ResourceListChangedNotification),
    ];

    private readonly object _rebuildLock = new();
    private readonly ConfigurationStore _config;
    private readonly DownstreamManager _downstream;
    private readonly GatewayOptions _options;
    private readonly GatewayTools _gatewayTools;
    private readonly SessionRegistry _sessions;
    private readonly ILogger _logger;
    private readonly HashSet<string> _reportedCollisions = new(StringComparer.Ordinal);
    private readonly IReadOnlySet<string> _reservedNames;
    private GatewayState _current;

    public GatewayStateProvider(
        ConfigurationStore config,
        DownstreamManager downstream,
        GatewayOptions options,
        GatewayTools gatewayTools,
        SessionRegistry sessions,
        ILogger<GatewayStateProvider> logger)
    {
        _config = config;
        _downstream = downstream;
        _options = options;
        _gatewayTools = gatewayTools;
        _sessions = sessions;
        _logger = logger;
        _reservedNames = new HashSet<string>(GatewayTools.Names, StringComparer.Ordinal);
        _current = Build(0);
        downstream.Changed += Rebuild;
    }

    public GatewayState Current => Volatile.Read(ref _current);

    public DownstreamManager Downstream => _downstream;

    public ConfigurationStore Configuration => _config;

    /// <summary>Builds the state again (a server changed, or the configuration did) and tells sessions what changed for them.</summary>
    public void Rebuild()
    {
        GatewayState previous, next;
        lock (_rebuildLock)
        {
            previous = _current;
            next = Build(previous.Version + 1);
            Volatile.Write(ref _current, next);
        }

        NotifyChangedViews(previous, next);
    }

    private void NotifyChangedViews(GatewayState previous, GatewayState next)
    {
        // Compared once per agent, not per session: thousands of sessions usually share a few agents.
        var changedFor = new Dictionary<(string?, string?), bool[]>();
        foreach (GatewaySession session in _sessions.Sessions)
        {
            // The agent the session acts as when a request names none: bound (or fixed) agents, else the default.
            string? before = session.BoundAgent ?? _options.Identity.FixedAgent ?? previous.Policy.DefaultAgent;
            string? after = session.BoundAgent ?? _options.Identity.FixedAgent ?? next.Policy.DefaultAgent;
            if (!changedFor.TryGetValue((before, after), out bool[]? changed))
            {
                changedFor[(before, after)] = changed =
                [
                    Differs(previous, next, ListKind.Tools, before, after),
                    Differs(previous, next, ListKind.Prompts, before, after),
                    Differs(previous, next, ListKind.Resources, before, after) || Differs(previous, next, ListKind.ResourceTemplates, before, after),
                ];
            }

            for (int i = 0; i < s_notices.Length; i++)
            {
                if (changed[i])
                {
                    _ = _sessions.NotifyAsync(session, s_notices[i].Method, null);
                }
            }
        }
    }

    private static bool Differs(GatewayState previous, GatewayState next, ListKind kind, string? before, string? after) =>
        !System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(previous.ListFor(kind, before))
            .SequenceEqual(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(next.ListFor(kind, after)));

    private GatewayState Build(long version)
    {
        IReadOnlyList<DownstreamServer> servers = _downstream.Servers;
        ToolCatalog catalog = ToolCatalog.Build(servers, _options.Separator, _reservedNames, _logger, _reportedCollisions);
        PromptCatalog prompts = PromptCatalog.Build(servers, _options.Separator, _logger, _reportedCollisions);
        ResourceCatalog resources = ResourceCatalog.Build(servers);
        return new GatewayState(_config.Current, catalog, prompts, resources, version, _gatewayTools, _options.Mode)
        {
            Servers = servers.ToDictionary(s => s.Name, StringComparer.Ordinal),
        };
    }
}
