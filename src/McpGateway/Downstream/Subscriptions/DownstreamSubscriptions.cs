using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// Resource subscriptions and list-change notices of one server, in both protocol eras. A 2025-11-25 server takes
/// <c>resources/subscribe</c> and sends list changes on its own; a 2026-07-28 server sends them only inside a
/// long-lived <c>subscriptions/listen</c> request, which is kept open and re-opened whenever the set of subscribed
/// resources changes, for as long as the connection lives.
/// </summary>
internal sealed partial class DownstreamSubscriptions(string server, ILogger logger)
{
    private const string SubscriptionsListen = "subscriptions/listen";
    private readonly object _lock = new();
    private readonly HashSet<string> _uris = new(StringComparer.Ordinal);
    private CancellationTokenSource? _reset;

    /// <summary>Raised when the listen stream of a 2026-07-28 server ended and list changes no longer arrive (the server is degraded).</summary>
    public event Action<string>? ListenFailed;

    /// <summary>Subscribes to (or unsubscribes from) a resource, in whichever way the server's revision wants.</summary>
    public async Task SetAsync(DownstreamConnection connection, string uri, bool subscribe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!connection.IsModern)
        {
            await connection.SendRequestAsync(subscribe ? RequestMethods.ResourcesSubscribe : RequestMethods.ResourcesUnsubscribe, new JsonObject { ["uri"] = uri }, timeout, cancellationToken);
            return;
        }

        lock (_lock)
        {
            bool changed = subscribe ? _uris.Add(uri) : _uris.Remove(uri);
            if (changed)
            {
                _reset?.Cancel();
            }
        }
    }

    /// <summary>For a 2026-07-28 server: keeps a subscriptions/listen request open for as long as the connection lives.</summary>
    public void Listen(DownstreamConnection connection)
    {
        if (!connection.IsModern)
        {
            return;
        }

        CancellationToken lost = connection.LostToken;
        _ = Task.Run(async () =>
        {
            while (!lost.IsCancellationRequested)
            {
                CancellationTokenSource reset;
                JsonObject parameters;
                lock (_lock)
                {
                    _reset?.Dispose();
                    _reset = reset = CancellationTokenSource.CreateLinkedTokenSource(lost);
                    parameters = new JsonObject
                    {
                        ["notifications"] = new JsonObject
                        {
                            ["toolsListChanged"] = true,
                            ["promptsListChanged"] = true,
                            ["resourcesListChanged"] = true,
                            ["resourceSubscriptions"] = new JsonArray([.. _uris.Select(u => (JsonNode)u)]),
                        },
                    };
                }

                try
                {
                    await connection.Client.SendRequestAsync(new JsonRpcRequest { Method = SubscriptionsListen, Params = parameters }, reset.Token);
                }
                catch (OperationCanceledException)
                {
                    // Re-opened with the new set of subscriptions, or the connection is gone.
                    continue;
                }
                catch (Exception ex) when (ex is McpException or IOException or InvalidOperationException)
                {
                    string reason = AuditRedaction.Excerpt(ex.Message);
                    LogListenFailed(logger, server, reason);
                    ListenFailed?.Invoke(reason);
                    return;
                }
            }
        }, CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': subscriptions/listen ended ({Error}); its list changes and resource updates will not be forwarded until it reconnects.")]
    private static partial void LogListenFailed(ILogger logger, string server, string error);
}
