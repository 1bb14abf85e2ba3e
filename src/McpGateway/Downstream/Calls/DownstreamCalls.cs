using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// What a downstream server sends besides responses: progress, log messages, resource updates, list changes and
/// requests to the client (sampling, elicitation, roots). They are handled here, in the order the server sent them,
/// and routed to the agent session whose call caused them.
/// </summary>
internal sealed partial class DownstreamCalls(DownstreamServer server, ILogger logger) : IDownstreamMessageHandler
{
    private readonly ConcurrentDictionary<long, DownstreamCall> _calls = new();
    private readonly ConcurrentDictionary<string, DownstreamCall> _byProgressToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<RequestId, CancellationTokenSource> _serverRequests = new();

    internal void Register(DownstreamCall call)
    {
        _calls[call.Id] = call;
        if (call.GatewayProgressToken is not null)
        {
            _byProgressToken[call.GatewayProgressToken] = call;
        }
    }

    internal void Unregister(DownstreamCall call)
    {
        _calls.TryRemove(call.Id, out _);
        if (call.GatewayProgressToken is not null)
        {
            _byProgressToken.TryRemove(call.GatewayProgressToken, out _);
        }
    }

    /// <summary>
    /// The one call in flight that a message without a correlation id belongs to. Over stdio and 2025-11-25 nothing in
    /// a request or log message says which call caused it: when calls of several sessions are in flight at once, the
    /// answer is null rather than a guess, so one agent never receives what another agent's call caused.
    /// </summary>
    private DownstreamCall? SoleSessionCall()
    {
        DownstreamCall? found = null;
        foreach (DownstreamCall call in _calls.Values)
        {
            if (found is null)
            {
                found = call;
            }
            else if (!ReferenceEquals(found.Upstream.Session, call.Upstream.Session))
            {
                return null;
            }
        }

        return found;
    }

    public bool TryHandle(JsonRpcMessage message, ITransport transport)
    {
        switch (message)
        {
            case JsonRpcNotification notification:
                return HandleNotification(notification);
            case JsonRpcRequest request when request.Method is RequestMethods.SamplingCreateMessage or RequestMethods.ElicitationCreate or RequestMethods.RootsList:
                _ = AnswerServerRequestAsync(request, transport);
                return true;
            default:
                return false;
        }
    }

    private bool HandleNotification(JsonRpcNotification notification)
    {
        JsonObject? parameters = notification.Params as JsonObject;
        switch (notification.Method)
        {
            case NotificationMethods.ProgressNotification:
                if (parameters?["progressToken"] is JsonValue token && token.GetValueKind() == JsonValueKind.String &&
                    _byProgressToken.TryGetValue(token.GetValue<string>(), out DownstreamCall? call))
                {
                    call.EnqueueProgress(parameters);
                }

                return true;
            case NotificationMethods.LoggingMessageNotification when parameters is not null:
                // A message arriving while one session's calls run is that session's, unless the session never asked for
                // logs while another did: then the message may as well be unprompted (a server's periodic logging), and
                // goes to the sessions that asked, so a quiet agent is not handed what it never wanted.
                if (SoleSessionCall() is { } caller &&
                    (caller.Upstream.AskedForLogs || server.Events?.OthersAskedForLogs(server, caller.Upstream.Session) != true))
                {
                    caller.EnqueueNotification(notification.Method, parameters);
                }
                else
                {
                    server.Events?.OnLogMessage(server, parameters);
                }

                return true;
            case NotificationMethods.ElicitationCompleteNotification when parameters is not null:
                SoleSessionCall()?.EnqueueNotification(notification.Method, parameters);
                return true;
            case NotificationMethods.ResourceUpdatedNotification when parameters is not null:
                server.Events?.OnResourceUpdated(server, parameters);
                return true;
            case NotificationMethods.ToolListChangedNotification:
                server.RefreshLists(ListKind.Tools);
                return true;
            case NotificationMethods.PromptListChangedNotification:
                server.RefreshLists(ListKind.Prompts);
                return true;
            case NotificationMethods.ResourceListChangedNotification:
                server.RefreshLists(ListKind.Resources);
                return true;
            case NotificationMethods.CancelledNotification:
                if (parameters?["requestId"] is JsonNode id &&
                    JsonSerializer.Deserialize(id, McpJsonUtilities.DefaultOptions.GetTypeInfo<RequestId>()) is RequestId requestId &&
                    _serverRequests.TryRemove(requestId, out CancellationTokenSource? cancel))
                {
                    cancel.Cancel();
                    return true;
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>Forwards a request from the server to the agent whose call caused it, and sends the answer back.</summary>
    private async Task AnswerServerRequestAsync(JsonRpcRequest request, ITransport transport)
    {
        using var cancel = new CancellationTokenSource();
        _serverRequests[request.Id] = cancel;
        JsonRpcMessage answer;
        try
        {
            JsonNode? result = await ForwardServerRequestAsync(request.Method, request.Params, SoleSessionCall(), cancel.Token);
            answer = new JsonRpcResponse { Id = request.Id, Result = result };
        }
        catch (McpProtocolException ex)
        {
            answer = new JsonRpcError { Id = request.Id, Error = new JsonRpcErrorDetail { Code = (int)ex.ErrorCode, Message = DownstreamErrors.Relay(ex).Message } };
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            answer = new JsonRpcError { Id = request.Id, Error = new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = ex.Message } };
        }
        finally
        {
            _serverRequests.TryRemove(request.Id, out _);
        }

        try
        {
            await transport.SendMessageAsync(answer);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            LogAnswerFailed(logger, server.Name, request.Method, AuditRedaction.Excerpt(ex.Message));
        }
    }

    /// <summary>Routes a server-to-client request to <paramref name="call"/>'s agent.</summary>
    internal async Task<JsonNode?> ForwardServerRequestAsync(string method, JsonNode? parameters, DownstreamCall? call, CancellationToken cancellationToken)
    {
        if (call is null)
        {
            if (method == RequestMethods.RootsList)
            {
                // Roots describe an agent's workspace. With no single agent behind the request (a server asking at
                // start-up, say), the shared server gets none: it keeps the directories it was configured with.
                return new JsonObject { ["roots"] = new JsonArray() };
            }

            LogUnroutable(logger, server.Name, method);
            throw new McpProtocolException(
                $"The gateway cannot tell which agent's call caused this {method} request (no call, or calls of several agents, are in flight on server '{server.Name}'), so it is not forwarded.",
                McpErrorCode.InvalidRequest);
        }

        ClientCapabilities? capabilities = call.Upstream.ClientCapabilities;
        bool supported = method switch
        {
            RequestMethods.SamplingCreateMessage => capabilities?.Sampling is not null,
            RequestMethods.ElicitationCreate => capabilities?.Elicitation is not null,
            _ => capabilities?.Roots is not null,
        };
        if (!supported)
        {
            if (method == RequestMethods.RootsList)
            {
                return new JsonObject { ["roots"] = new JsonArray() };
            }

            throw new McpProtocolException($"The agent's client does not support {method}.", McpErrorCode.InvalidRequest);
        }

        return await call.Upstream.SendRequestAsync(method, parameters, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server '{Server}' sent {Method} while no single agent's call was in flight; declined.")]
    private static partial void LogUnroutable(ILogger logger, string server, string method);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Server '{Server}': could not answer its {Method} request: {Error}")]
    private static partial void LogAnswerFailed(ILogger logger, string server, string method, string error);
}
