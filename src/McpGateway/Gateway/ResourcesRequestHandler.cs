using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// Resources and resource templates of the servers the agent may use: listed, read, subscribed and unsubscribed.
/// A read is routed by the URI: a listed resource, a namespaced URI (when two servers share one), or a URI one of the
/// servers' templates produces. Anything the agent may not read is "not found", like a resource that does not exist.
/// </summary>
internal sealed partial class ResourcesRequestHandler(
    GatewayStateProvider stateProvider,
    AgentResolver agents,
    SubscriptionRegistry subscriptions,
    SessionStates states,
    ILogger<ResourcesRequestHandler> logger)
{
    public JsonObject List(GatewayRequest request) => ListOf(request, ListKind.Resources, "resources");

    public JsonObject ListTemplates(GatewayRequest request) => ListOf(request, ListKind.ResourceTemplates, "resourceTemplates");

    public async Task<JsonNode?> ReadAsync(GatewayRequest request, CancellationToken cancellationToken)
    {
        (DownstreamServer server, string uri, string serverUri, JsonObject parameters) = Resolve(request);
        parameters["uri"] = serverUri;
        JsonNode? result = await Forwarding.SendAsync(server, RequestMethods.ResourcesRead, parameters, request.Upstream, server.CallTimeout, cancellationToken);
        if (uri != serverUri && result?["contents"] is JsonArray contents)
        {
            // The agent asked under the gateway's name for this resource; the contents say which resource they are.
            foreach (JsonNode? content in contents)
            {
                if (content is JsonObject entry && entry["uri"] is JsonValue value && value.TryGetValue(out string? text) && text == serverUri)
                {
                    entry["uri"] = uri;
                }
            }
        }

        CachingHints.OnRead(result);
        return result;
    }

    public async Task<JsonNode?> SubscribeAsync(GatewayRequest request, bool subscribe, CancellationToken cancellationToken)
    {
        if (request.Session.IsStateless)
        {
            throw new McpProtocolException("Resource subscriptions need a session: this request is served statelessly, so updates could not reach it.", McpErrorCode.InvalidRequest);
        }

        (DownstreamServer server, string uri, string serverUri, _) = Resolve(request);
        bool changeDownstream = subscribe
            ? subscriptions.Add(request.Session, server, serverUri, uri)
            : subscriptions.Remove(request.Session, server, serverUri);
        if (changeDownstream)
        {
            try
            {
                await server.SetSubscriptionAsync(serverUri, subscribe, cancellationToken);
            }
            catch when (subscribe)
            {
                subscriptions.Remove(request.Session, server, serverUri);
                throw;
            }
        }

        await states.SubscriptionChangedAsync(request.Session, uri, subscribe, cancellationToken);
        return new JsonObject();
    }

    /// <summary>
    /// A session resumed on this replica with the subscriptions it made elsewhere: each is made again here, through
    /// the same registry (the server is subscribed when the session is its first subscriber), as long as the rules
    /// still let the session's agent read the resource and its server is ready; the others are left out.
    /// </summary>
    public async Task RestoreAsync(GatewaySession session, IReadOnlyList<string> uris, CancellationToken cancellationToken)
    {
        GatewayState state = stateProvider.Current;
        string? agent = agents.SessionAgent(state, session);
        foreach (string uri in uris)
        {
            if (agent is null || !state.Resources.TryResolve(uri, (s, candidate) => s.IsReady && state.MayReadResource(agent, s, candidate), out DownstreamServer server, out string serverUri))
            {
                LogNotRestored(logger, session.Fingerprint, "the resource is not one the session's agent may read, or its server is not ready");
                continue;
            }

            if (subscriptions.Add(session, server, serverUri, uri))
            {
                try
                {
                    await server.SetSubscriptionAsync(serverUri, subscribe: true, cancellationToken);
                }
                catch (Exception ex) when (ex is McpException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    subscriptions.Remove(session, server, serverUri);
                    LogNotRestored(logger, session.Fingerprint, $"server '{server.Name}' refused it: {ex.Message}");
                }
            }
        }
    }

    /// <summary>Releases what an ended session subscribed to.</summary>
    public void OnSessionEnded(GatewaySession session)
    {
        foreach ((DownstreamServer server, string uri) in subscriptions.RemoveSession(session))
        {
            if (server.IsReady)
            {
                _ = UnsubscribeQuietlyAsync(server, uri);
            }
        }
    }

    private async Task UnsubscribeQuietlyAsync(DownstreamServer server, string uri)
    {
        try
        {
            await server.SetSubscriptionAsync(uri, subscribe: false, CancellationToken.None);
        }
        catch (Exception ex) when (ex is McpException or OperationCanceledException)
        {
            LogUnsubscribeFailed(logger, server.Name, ex.Message);
        }
    }

    private JsonObject ListOf(GatewayRequest request, ListKind kind, string key)
    {
        GatewayState state = stateProvider.Current;
        Caller identity = agents.Identify(state, request);
        request.Audit.Caller = identity;
        return CachingHints.OnList(new JsonObject { [key] = JsonArray.Create(state.ListFor(kind, identity.Agent)) }, state.CacheTtlMs(kind, identity.Agent));
    }

    private (DownstreamServer Server, string Uri, string ServerUri, JsonObject Parameters) Resolve(GatewayRequest request)
    {
        if (request.Params is not { } parameters || !GatewayTools.TryGetString(parameters, "uri", out string uri))
        {
            throw new McpProtocolException($"{request.Message.Method} needs params with a resource 'uri'.", McpErrorCode.InvalidParams);
        }

        GatewayState state = stateProvider.Current;
        Caller identity = agents.Identify(state, request);
        request.Audit.Caller = identity;
        if (identity.Agent is null)
        {
            throw new McpProtocolException(identity.Message!, McpErrorCode.InvalidParams);
        }

        request.Audit.Item = uri;
        if (!state.Resources.TryResolve(uri, (s, candidate) => s.IsReady && state.MayReadResource(identity.Agent, s, candidate), out DownstreamServer server, out string serverUri))
        {
            request.Audit.Deny("unknown", "no such resource, or the rules do not grant it");
            throw new McpProtocolException($"Resource not found: '{uri}'", McpErrorCode.ResourceNotFound);
        }

        request.Audit.Server = server.Name;
        request.Audit.OriginalItem = serverUri;
        return (server, uri, serverUri, parameters);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "A subscription of resumed session {Fingerprint} was not made again here: {Reason}.")]
    private static partial void LogNotRestored(ILogger logger, string? fingerprint, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Server '{Server}': unsubscribing after a session ended failed: {Error}")]
    private static partial void LogUnsubscribeFailed(ILogger logger, string server, string error);
}
