namespace McpGateway.Downstream;

/// <summary>Where a downstream connection stands.</summary>
public enum DownstreamState
{
    /// <summary>Connecting for the first time, or reconnecting.</summary>
    Starting,

    /// <summary>Connected; its tools are served.</summary>
    Ready,

    /// <summary>Failed to start or lost; its tools are hidden until a reconnect succeeds.</summary>
    Unavailable,

    /// <summary>The gateway is shutting down.</summary>
    Stopped,
}

/// <summary>A server's state and, when not ready, why. Reasons go to the gateway's log, never to agents.</summary>
public sealed record DownstreamStatus(DownstreamState State, string? Reason = null)
{
    public static DownstreamStatus Starting { get; } = new(DownstreamState.Starting);
}
