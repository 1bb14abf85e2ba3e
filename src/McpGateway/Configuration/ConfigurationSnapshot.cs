using McpGateway.Policy;

namespace McpGateway.Configuration;

/// <summary>
/// Everything the gateway runs on, loaded and validated together: the servers, the rules, and the policy compiled
/// from them. Immutable; a reload builds a new one and swaps it in whole.
/// </summary>
public sealed record ConfigurationSnapshot(ServersConfig Servers, RulesConfig Rules, PolicySnapshot Policy);
