using McpGateway.Policy;

namespace McpGateway.Configuration;

/// <summary>
/// Everything the gateway runs on, loaded and validated together: the servers, the rules, the policy compiled from
/// them, and the settings. Immutable; a reload builds a new one and swaps it in whole.
/// </summary>
public sealed record ConfigurationSnapshot(ServersConfig Servers, RulesConfig Rules, PolicySnapshot Policy)
{
    public GatewaySettings Settings { get; init; } = GatewaySettings.Default;
}
