namespace McpGateway.Downstream;

/// <summary>Where a downstream server stands.</summary>
public enum DownstreamState
{
    /// <summary>Connecting for the first time.</summary>
    Starting,

    /// <summary>Connected; its tools are served.</summary>
    Ready,

    /// <summary>Connected and served, but part of it does not work (its lists could not be refreshed, its notifications stopped).</summary>
    Degraded,

    /// <summary>Lost or failed to start; waiting to reconnect (with backoff). Its tools are hidden until it is back.</summary>
    Restarting,

    /// <summary>Failed again and again (a crash loop): retried only now and then, until it starts and stays up.</summary>
    Failed,

    /// <summary>The gateway is shutting down, or the server was removed from the configuration.</summary>
    Stopped,

    /// <summary><c>enabled: false</c> in the servers file.</summary>
    Disabled,
}

/// <summary>A server's state and, when not ready, why and when it is tried again. Reasons go to logs and /status, never to agents.</summary>
public sealed record DownstreamStatus(DownstreamState State, string? Reason = null)
{
    public static DownstreamStatus Starting { get; } = new(DownstreamState.Starting);

    /// <summary>When the next connection attempt starts, while restarting or failed.</summary>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>When the server entered this state.</summary>
    public DateTimeOffset Since { get; init; }

    /// <summary>How many times the server has been (re)started since the gateway started, the first start excluded.</summary>
    public int Restarts { get; init; }

    /// <summary>True when the server's tools are served.</summary>
    public bool IsServing => State is DownstreamState.Ready or DownstreamState.Degraded;
}
