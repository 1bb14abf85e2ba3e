using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>Delivers what downstream servers say that belongs to no single call: log messages and resource updates.</summary>
internal sealed class DownstreamEventRouter(LoggingRequestHandler logging, SubscriptionRegistry subscriptions, SessionRegistry sessions) : IDownstreamEvents
{
    public void OnLogMessage(DownstreamServer server, JsonObject parameters) => logging.Broadcast(server, parameters);

    public bool OthersAskedForLogs(DownstreamServer server, object session) => logging.OthersAskedForLogs(server, session);

    public void OnResourceUpdated(DownstreamServer server, JsonObject parameters)
    {
        if (SubscriptionRegistry.UriOf(parameters) is not { } uri)
        {
            return;
        }

        foreach ((GatewaySession session, string exposedUri) in subscriptions.SubscribersOf(server, uri))
        {
            var copy = (JsonObject)parameters.DeepClone();
            copy["uri"] = exposedUri;
            _ = sessions.NotifyAsync(session, NotificationMethods.ResourceUpdatedNotification, copy);
        }
    }
}
