using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// The agent side of a forwarded request: where the notifications and server-to-client requests that the request
/// causes downstream must go. Implemented over the SDK server of the agent's session and request.
/// </summary>
internal interface IUpstream
{
    /// <summary>Identifies the agent session, to tell calls of different sessions apart.</summary>
    object Session { get; }

    /// <summary>True when the agent asked for log messages at some level (logging/setLevel or a request's own level).</summary>
    bool AskedForLogs { get; }

    /// <summary>The least severe log level the agent asked for, which a 2026-07-28 server is told per request; null when it asked for none.</summary>
    string? LogLevel => null;

    /// <summary>What the agent's client said it supports (2026-07-28: on this request).</summary>
    ClientCapabilities? ClientCapabilities { get; }

    /// <summary>
    /// True when the agent is asked for input only in the answer to its own request (2026-07-28, multi round-trip): a
    /// server's <c>input_required</c> result then goes back to it. False when the gateway can send the agent requests
    /// (a 2025-11-25 session): the gateway asks them itself and retries the server's call with the answers.
    /// </summary>
    bool RelaysInputRequired => false;

    Task SendNotificationAsync(string method, JsonNode? parameters, CancellationToken cancellationToken);

    /// <summary>Sends a request to the agent's client and returns its result raw; its errors arrive as <c>McpProtocolException</c>.</summary>
    Task<JsonNode?> SendRequestAsync(string method, JsonNode? parameters, CancellationToken cancellationToken);
}

/// <summary>What a downstream server tells the gateway that is not about one call.</summary>
internal interface IDownstreamEvents
{
    /// <summary>A log message no single call in flight can claim.</summary>
    void OnLogMessage(DownstreamServer server, JsonObject parameters);

    /// <summary>True when a session other than <paramref name="session"/> that may use the server asked for log messages.</summary>
    bool OthersAskedForLogs(DownstreamServer server, object session);

    void OnResourceUpdated(DownstreamServer server, JsonObject parameters);
}
