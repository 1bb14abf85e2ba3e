namespace McpGateway.Downstream;

/// <summary>The protocol revisions both hops speak, and how to tell the eras apart.</summary>
public static class ProtocolVersions
{
    public const string Legacy = "2025-11-25";
    public const string July2026 = "2026-07-28";

    /// <summary>True for revisions that use per-request metadata and <c>resultType</c> (2026-07-28 and later).</summary>
    public static bool IsJuly2026OrLater(string? protocolVersion) =>
        protocolVersion is not null && string.CompareOrdinal(protocolVersion, July2026) >= 0;
}
