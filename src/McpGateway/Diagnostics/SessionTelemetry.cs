namespace McpGateway.Diagnostics;

/// <summary>An agent session being counted (open sessions, and its duration when it ends). Made by <see cref="GatewayTelemetry.StartSession"/>.</summary>
internal sealed class SessionTelemetry(string transport, long startedAt)
{
    private int _ended;

    public string Transport { get; } = transport;

    internal long StartedAt { get; } = startedAt;

    /// <summary>Records the session's end: <paramref name="agent"/> only when the rules define it (null otherwise). Only the first call counts.</summary>
    public void End(string? agent, string? protocolVersion)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            GatewayTelemetry.RecordSession(this, agent, protocolVersion);
        }
    }
}
