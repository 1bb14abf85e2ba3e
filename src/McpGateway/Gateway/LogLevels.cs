namespace McpGateway.Gateway;

/// <summary>The MCP (syslog) log levels, least to most severe.</summary>
internal static class LogLevels
{
    private static readonly string[] s_order = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

    /// <summary>The rank of a level, or -1 when it is not one.</summary>
    public static int Rank(string? level) => level is null ? -1 : Array.IndexOf(s_order, level);

    /// <summary>The wire name of an SDK log level.</summary>
    public static string Name(ModelContextProtocol.Protocol.LoggingLevel level) => level switch
    {
        ModelContextProtocol.Protocol.LoggingLevel.Debug => "debug",
        ModelContextProtocol.Protocol.LoggingLevel.Info => "info",
        ModelContextProtocol.Protocol.LoggingLevel.Notice => "notice",
        ModelContextProtocol.Protocol.LoggingLevel.Warning => "warning",
        ModelContextProtocol.Protocol.LoggingLevel.Error => "error",
        ModelContextProtocol.Protocol.LoggingLevel.Critical => "critical",
        ModelContextProtocol.Protocol.LoggingLevel.Alert => "alert",
        _ => "emergency",
    };

    public static bool IsLevel(string? level) => Rank(level) >= 0;

    /// <summary>The more verbose of two levels (null stands for "not set").</summary>
    public static string? MoreVerbose(string? a, string? b) => a is null ? b : b is null ? a : Rank(a) <= Rank(b) ? a : b;
}
