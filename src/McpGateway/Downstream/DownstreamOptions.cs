using McpGateway.Configuration;

namespace McpGateway.Downstream;

/// <summary>How downstream servers are supervised: start and call timeouts, reconnect backoff, crash-loop detection, message size.</summary>
public sealed record DownstreamOptions
{
    public const long StandardMaxMessageBytes = 16 * 1024 * 1024;

    /// <summary>Start timeout for servers that do not set <c>startTimeoutMs</c>.</summary>
    public TimeSpan DefaultStartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Call timeout for servers that do not set <c>callTimeoutMs</c>.</summary>
    public TimeSpan DefaultCallTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The first delay before a reconnect; it doubles per failure up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan InitialReconnectDelay { get; init; } = SupervisionSettings.DefaultReconnectDelay;

    public TimeSpan MaxReconnectDelay { get; init; } = SupervisionSettings.DefaultMaxReconnectDelay;

    /// <summary>Each delay is spread by up to this fraction either way, so servers that failed together do not retry together.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>This many failures within <see cref="CrashLoopWindow"/> is a crash loop: retry only every <see cref="CrashLoopDelay"/>.</summary>
    public int CrashLoopFailures { get; init; } = SupervisionSettings.DefaultCrashLoopFailures;

    public TimeSpan CrashLoopWindow { get; init; } = SupervisionSettings.DefaultCrashLoopWindow;

    public TimeSpan CrashLoopDelay { get; init; } = SupervisionSettings.DefaultCrashLoopRetry;

    /// <summary>Grace between TERM and KILL when a server's processes are stopped.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The largest message a server may send (servers may set <c>maxMessageBytes</c>).</summary>
    public long DefaultMaxMessageBytes { get; init; } = StandardMaxMessageBytes;
}
