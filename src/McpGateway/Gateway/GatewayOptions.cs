using McpGateway.Downstream;
using McpGateway.Identity;

namespace McpGateway.Gateway;

/// <summary>What agents see.</summary>
public enum ExposureMode
{
    /// <summary>Every permitted downstream tool under its exposed name, plus the gateway's own tools.</summary>
    Proxy,

    /// <summary>Only the gateway's own tools (list_servers, get_server_tools, execute_tool): saves context tokens.</summary>
    Discovery,
}

/// <summary>Host settings of a running gateway (from the command line and environment, not from the files).</summary>
public sealed record GatewayOptions
{
    public ExposureMode Mode { get; init; } = ExposureMode.Proxy;

    /// <summary>Between prefix and tool name in exposed names.</summary>
    public string Separator { get; init; } = "_";

    /// <summary>Which identity sources are accepted, and under which names.</summary>
    public IdentityOptions Identity { get; init; } = new();

    /// <summary>How downstream servers are supervised (timeouts, backoff, crash loops, message size).</summary>
    public DownstreamOptions Downstream { get; init; } = new();
}
