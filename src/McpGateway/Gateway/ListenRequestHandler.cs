using System.Text.Json.Nodes;
using McpGateway.Identity;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Gateway;

/// <summary>
/// <c>subscriptions/listen</c> (2026-07-28): an agent of that revision has no session to receive notifications on, so
/// it holds this request open and names what it wants: list-changed notices and updates of resources. The gateway
/// grants the notices, and the resources the agent may read, acknowledges what it granted, and sends each notification
/// on that request's stream tagged with its subscription id until the agent ends the request. Inside the gateway the
/// stream is a session of its own, so list changes and resource updates reach it as they reach any session.
/// </summary>
internal sealed partial class ListenRequestHandler(
    GatewayStateProvider stateProvider,
    AgentResolver agents,
    SessionRegistry sessions,
    ResourcesRequestHandler resources,
    GatewayOptions options,
    ILogger<ListenRequestHandler> logger,
    IHttpContextAccessor? httpContextAccessor = null)
{
    public const string AcknowledgedNotification = "notifications/subscriptions/acknowledged";

    public McpRequestHandler<SubscriptionsListenRequestParams, EmptyResult> Create(GatewaySession requestSession) => async (context, cancellationToken) =>
    {
        JsonRpcRequest request = context.JsonRpcRequest;
        SubscriptionsListenNotifications wanted = context.Params?.Notifications ?? new SubscriptionsListenNotifications();
        HttpContext? http = httpContextAccessor?.HttpContext;
        IdentityClaims claims = HttpIdentity.ClaimsOf(http, request.Context?.User, options.Identity);
        var listenRequest = new GatewayRequest(requestSession, request, claims, new SessionUpstream(context.Server, requestSession)) { ClientAddress = HttpIdentity.ClientAddress(http) };
        Caller identity = agents.Identify(stateProvider.Current, listenRequest);
        if (identity.Agent is null)
        {
            throw new McpProtocolException(identity.Message!, McpErrorCode.InvalidParams);
        }

        // The agent dropping its HTTP request ends the subscription, whether or not it also sends notifications/cancelled.
        using CancellationTokenSource? linked = http is not null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, http.RequestAborted)
            : null;
        CancellationToken token = linked?.Token ?? cancellationToken;

        var granted = new SubscriptionsListenNotifications
        {
            ToolsListChanged = wanted.ToolsListChanged == true ? true : null,
            PromptsListChanged = wanted.PromptsListChanged == true ? true : null,
            ResourcesListChanged = wanted.ResourcesListChanged == true ? true : null,
        };
        var stream = new GatewaySession(stateless: false)
        {
            Owner = requestSession.Owner ?? claims.Principal?.UserId,
            ClientAddress = listenRequest.ClientAddress,
            Server = context.Server,
            Listen = new ListenStream(request.Id, granted),
        };
        stream.TryBind(identity.Agent);
        try
        {
            var subscribed = new List<string>();
            foreach (string uri in wanted.ResourceSubscriptions ?? [])
            {
                if (await TrySubscribeAsync(stream, context.Server, claims, uri, token))
                {
                    subscribed.Add(uri);
                }
            }

            granted.ResourceSubscriptions = subscribed.Count > 0 ? subscribed : null;
            sessions.Add(stream);
            JsonNode? acknowledgement = System.Text.Json.JsonSerializer.SerializeToNode(
                new SubscriptionsAcknowledgedNotificationParams { Notifications = granted },
                McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(SubscriptionsAcknowledgedNotificationParams)));
            await sessions.NotifyAsync(stream, AcknowledgedNotification, acknowledgement);
            LogListening(logger, identity.Agent, subscribed.Count);
            await Task.Delay(Timeout.Infinite, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The agent ended the subscription: the normal way for it to end.
        }
        finally
        {
            // Releases the downstream subscriptions nobody else holds.
            sessions.Remove(stream);
        }

        return new EmptyResult();
    };

    /// <summary>Subscribes the stream to one resource; false (and nothing granted) when the agent may not read it.</summary>
    private async Task<bool> TrySubscribeAsync(GatewaySession stream, McpServer server, IdentityClaims claims, string uri, CancellationToken cancellationToken)
    {
        var subscribe = new JsonRpcRequest { Method = RequestMethods.ResourcesSubscribe, Params = new JsonObject { ["uri"] = uri } };
        try
        {
            await resources.SubscribeAsync(new GatewayRequest(stream, subscribe, claims, new SessionUpstream(server, stream)), subscribe: true, cancellationToken);
            return true;
        }
        catch (McpException ex)
        {
            LogNotGranted(logger, uri, ex.Message);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Agent '{Agent}' listens for notifications ({Resources} resources).")]
    private static partial void LogListening(ILogger logger, string agent, int resources);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A subscription to '{Uri}' was not granted: {Error}")]
    private static partial void LogNotGranted(ILogger logger, string uri, string error);
}

/// <summary>A <c>subscriptions/listen</c> request held open: its id (the subscription id), its stream, and what was granted.</summary>
internal sealed record ListenStream(RequestId Id, SubscriptionsListenNotifications Granted)
{
    public bool Grants(string method) => method switch
    {
        NotificationMethods.ToolListChangedNotification => Granted.ToolsListChanged == true,
        NotificationMethods.PromptListChangedNotification => Granted.PromptsListChanged == true,
        NotificationMethods.ResourceListChangedNotification => Granted.ResourcesListChanged == true,
        _ => true,
    };

    /// <summary>Tags a notification's params with the subscription id (SEP-2575), so clients sharing a channel can tell streams apart.</summary>
    public JsonObject Tag(JsonNode? parameters)
    {
        JsonObject tagged = parameters as JsonObject ?? [];
        if (tagged["_meta"] is not JsonObject meta)
        {
            tagged["_meta"] = meta = [];
        }

        meta["io.modelcontextprotocol/subscriptionId"] = Id.Id switch
        {
            string text => JsonValue.Create(text),
            long number => JsonValue.Create(number),
            _ => null,
        };
        return tagged;
    }
}
