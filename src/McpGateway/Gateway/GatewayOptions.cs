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

    /// <summary>Start timeout for servers that do not set <c>startTimeoutMs</c>.</summary>
    public TimeSpan DefaultStartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Call timeout for servers that do not set <c>callTimeoutMs</c>.</summary>
    public TimeSpan DefaultCallTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a crashed server waits before the first reconnect; doubles up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan InitialReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);
}
