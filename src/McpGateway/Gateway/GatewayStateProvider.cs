using McpGateway.Configuration;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging;

namespace McpGateway.Gateway;

/// <summary>Holds the current <see cref="GatewayState"/> and rebuilds it when a downstream server changes.</summary>
internal sealed class GatewayStateProvider
{
    private readonly object _rebuildLock = new();
    private readonly DownstreamManager _downstream;
    private readonly GatewayOptions _options;
    private readonly GatewayTools _gatewayTools;
    private readonly SessionRegistry _sessions;
    private readonly ILogger _logger;
    private readonly HashSet<string> _reportedCollisions = new(StringComparer.Ordinal);
    private readonly IReadOnlySet<string> _reservedNames;
    private readonly ConfigurationSnapshot _config;
    private readonly Dictionary<string, DownstreamServer> _serversByName;
    private GatewayState _current;

    public GatewayStateProvider(
        ConfigurationSnapshot config,
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
        _serversByName = downstream.Servers.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _current = Build(0);
        downstream.Changed += OnDownstreamChanged;
    }

    public GatewayState Current => Volatile.Read(ref _current);

    public DownstreamManager Downstream => _downstream;

    private void OnDownstreamChanged()
    {
        lock (_rebuildLock)
        {
            Volatile.Write(ref _current, Build(_current.Version + 1));
        }

        _sessions.NotifyListsChanged();
    }

    private GatewayState Build(long version)
    {
        ToolCatalog catalog = ToolCatalog.Build(_downstream.Servers, _options.Separator, _reservedNames, _logger, _reportedCollisions);
        PromptCatalog prompts = PromptCatalog.Build(_downstream.Servers, _options.Separator, _logger, _reportedCollisions);
        ResourceCatalog resources = ResourceCatalog.Build(_downstream.Servers);
        return new GatewayState(_config, catalog, prompts, resources, version, _gatewayTools, _options.Mode) { Servers = _serversByName };
    }
}
