using ModelContextProtocol;

namespace McpGateway.Downstream;

/// <summary>Turns what the SDK client throws for a downstream error back into the error the server sent.</summary>
internal static class DownstreamErrors
{
    /// <summary>The code of a request that timed out (the SDK's own, -32001).</summary>
    public const int RequestTimeoutErrorCode = -32001;

    // The SDK prefixes every remote JSON-RPC error message with this (McpSessionHandler.CreateRemoteProtocolException).
    // Relaying the exception as is would show agents "Request failed (remote): Request failed (remote): ..." once the
    // agent's own SDK adds its prefix; the downstream server's code and original message are what the agent should see.
    private const string RemotePrefix = "Request failed (remote): ";

    public static McpProtocolException Relay(McpProtocolException remote)
    {
        string message = remote.Message.StartsWith(RemotePrefix, StringComparison.Ordinal)
            ? remote.Message[RemotePrefix.Length..]
            : remote.Message;
        var relayed = new McpProtocolException(message, remote.ErrorCode);
        foreach (System.Collections.DictionaryEntry entry in remote.Data)
        {
            relayed.Data[entry.Key] = entry.Value;
        }

        return relayed;
    }
}
