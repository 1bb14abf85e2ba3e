using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// Resource subscriptions and list-change notices, in both protocol eras. A 2025-11-25 server takes
/// <c>resources/subscribe</c> and sends list changes on its own; a 2026-07-28 server sends them only inside a
/// long-lived <c>subscriptions/listen</c> request, which the gateway keeps open and re-opens whenever the set of
/// subscribed resources changes.
/// </summary>
internal sealed partial class DownstreamServer
{
    private const string SubscriptionsListen = "subscriptions/listen";
    private readonly object _listenLock = new();
    private readonly HashSet<string> _subscribedUris = new(StringComparer.Ordinal);
    private CancellationTokenSource? _listenReset;

    private bool UsesListen => ProtocolEras.IsJuly2026OrLater(_client?.NegotiatedProtocolVersion);

    /// <summary>Subscribes to (or unsubscribes from) a resource of this server, in whichever way its protocol revision wants.</summary>
    public async Task SetSubscriptionAsync(string uri, bool subscribe, IUpstream upstream, CancellationToken cancellationToken)
    {
        if (!UsesListen)
        {
            await Forwarding.SendAsync(this, subscribe ? RequestMethods.ResourcesSubscribe : RequestMethods.ResourcesUnsubscribe, new JsonObject { ["uri"] = uri }, upstream, CallTimeout, cancellationToken);
            return;
        }

        lock (_listenLock)
        {
            bool changed = subscribe ? _subscribedUris.Add(uri) : _subscribedUris.Remove(uri);
            if (changed)
            {
                _listenReset?.Cancel();
            }
        }
    }

    /// <summary>For a 2026-07-28 server: keeps a subscriptions/listen request open for as long as the connection lives.</summary>
    private void StartListening(McpClient client, CancellationToken connectionLost)
    {
        if (!ProtocolEras.IsJuly2026OrLater(client.NegotiatedProtocolVersion))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            while (!connectionLost.IsCancellationRequested)
            {
                CancellationTokenSource reset;
                JsonObject parameters;
                lock (_listenLock)
                {
                    _listenReset?.Dispose();
                    _listenReset = reset = CancellationTokenSource.CreateLinkedTokenSource(connectionLost);
                    parameters = new JsonObject
                    {
                        ["notifications"] = new JsonObject
                        {
                            ["toolsListChanged"] = true,
                            ["promptsListChanged"] = true,
                            ["resourcesListChanged"] = true,
                            ["resourceSubscriptions"] = new JsonArray([.. _subscribedUris.Select(u => (JsonNode)u)]),
                        },
                    };
                }

                try
                {
                    await client.SendRequestAsync(new JsonRpcRequest { Method = SubscriptionsListen, Params = parameters }, reset.Token);
                }
                catch (OperationCanceledException)
                {
                    // Re-opened with the new set of subscriptions, or the connection is gone.
                    continue;
                }
                catch (Exception ex) when (ex is McpException or IOException or InvalidOperationException)
                {
                    LogListenFailed(_logger, Name, AuditRedaction.Excerpt(ex.Message));
                    return;
                }
            }
        }, CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}': subscriptions/listen ended ({Error}); its list changes and resource updates will not be forwarded until it reconnects.")]
    private static partial void LogListenFailed(ILogger logger, string server, string error);
}
