using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// Sends one agent request on to a downstream server, so that what it causes there finds its way back. Every forwarded
/// request passes here (tools, prompts, resources, completions, the gateway's execute_tool), so this is the one place
/// where a 2026-07-28 server's <c>input_required</c> result is handled: resolved for an agent that takes requests, or
/// handed back for an agent that retries itself (see <see cref="MultiRoundTrip"/>).
/// </summary>
internal static class Forwarding
{
    // Keys of _meta that describe the agent's own hop (2026-07-28 per-request metadata); the gateway's client adds
    // its own for the downstream hop, so the agent's are not forwarded.
    private const string ReservedMetaPrefix = "io.modelcontextprotocol/";

    // How many input rounds one call may take before the gateway gives up on the server (the SDK client's own limit).
    private const int MaxInputRounds = 10;

    /// <summary>
    /// Forwards <paramref name="parameters"/> (owned by the caller, changed in place) as <paramref name="method"/>.
    /// The agent's progress token is replaced by one unique to this call, and the result is returned only after every
    /// progress notification the server sent before it has gone to the agent.
    /// </summary>
    public static async Task<JsonNode?> SendAsync(DownstreamServer server, string method, JsonObject parameters, IUpstream upstream, TimeSpan timeout, CancellationToken cancellationToken)
    {
        CheckMeta(parameters);
        if (parameters["_meta"] is JsonObject meta)
        {
            List<string>? reserved = null;
            foreach (KeyValuePair<string, JsonNode?> entry in meta)
            {
                if (entry.Key.StartsWith(ReservedMetaPrefix, StringComparison.Ordinal))
                {
                    (reserved ??= []).Add(entry.Key);
                }
            }

            reserved?.ForEach(key => meta.Remove(key));
        }

        using var call = new DownstreamCall(server, upstream, DownstreamCall.ReadProgressToken(parameters));
        call.ApplyProgressToken(parameters);
        JsonNode? result = await server.SendRequestAsync(method, parameters, timeout, cancellationToken);
        for (int round = 1; ModernHopMessages.IsInputRequired(result); round++)
        {
            if (!InputRequests.MayBeAnsweredWith(method))
            {
                throw new McpProtocolException($"Server '{server.Name}' answered {method} with input_required, which {method} does not allow.", McpErrorCode.InternalError);
            }

            if (upstream.RelaysInputRequired)
            {
                break;
            }

            if (round > MaxInputRounds)
            {
                throw new McpProtocolException($"Server '{server.Name}' asked for input more than {MaxInputRounds} times in one {method}.", McpErrorCode.InternalError);
            }

            await AnswerAsync(server, call, (JsonObject)result!, parameters, cancellationToken);
            result = await server.SendRequestAsync(method, parameters, timeout, cancellationToken);
        }

        await call.FlushAsync();
        return result;
    }

    /// <summary>
    /// Refuses a <c>_meta</c> that is not an object, or a progress token that is neither a string nor a number, as the
    /// MCP schema says. Forwarded as they are, they are dropped without an answer by servers built on the TypeScript
    /// SDK (every reference server): the agent's request would wait for the whole call timeout.
    /// </summary>
    private static void CheckMeta(JsonObject parameters)
    {
        if (!parameters.TryGetPropertyValue("_meta", out JsonNode? node))
        {
            return;
        }

        if (node is not JsonObject meta)
        {
            throw new McpProtocolException("'_meta' must be an object.", McpErrorCode.InvalidParams);
        }

        if (meta.TryGetPropertyValue("progressToken", out JsonNode? token) && token?.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number))
        {
            throw new McpProtocolException("'_meta.progressToken' must be a string or a number.", McpErrorCode.InvalidParams);
        }
    }

    /// <summary>
    /// Asks the agent every input request of one round, as real requests on its session and all at once (as the SDK
    /// client's own loop does), and turns <paramref name="parameters"/> into the retry: the raw answers under the
    /// server's own keys, and the server's <c>requestState</c> echoed exactly (or none, when it gave none).
    /// </summary>
    private static async Task AnswerAsync(DownstreamServer server, DownstreamCall call, JsonObject inputRequired, JsonObject parameters, CancellationToken cancellationToken)
    {
        JsonObject requests = InputRequests.Of(inputRequired);
        string? state = InputRequests.StateOf(inputRequired);
        if (requests.Count == 0 && state is null)
        {
            throw new McpProtocolException($"Server '{server.Name}' answered input_required with neither inputRequests nor requestState.", McpErrorCode.InternalError);
        }

        InputRequests.RequireDeclared(server.Name, requests, call.Upstream.ClientCapabilities);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var asked = new List<(string Key, Task<JsonNode?> Answer)>();
        foreach ((string key, JsonNode? request) in requests)
        {
            asked.Add((key, AskAsync(server, call, request!.AsObject(), cancel.Token)));
        }

        var responses = new JsonObject();
        try
        {
            foreach ((string key, Task<JsonNode?> answer) in asked)
            {
                responses[key] = await answer;
            }
        }
        catch
        {
            // One refusal ends the round: the agent is not left answering prompts for a call that has failed.
            await cancel.CancelAsync();
            await Task.WhenAll(asked.Select(a => (Task)a.Answer)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        parameters["inputResponses"] = responses;
        if (state is null)
        {
            parameters.Remove("requestState");
        }
        else
        {
            parameters["requestState"] = state;
        }
    }

    private static Task<JsonNode?> AskAsync(DownstreamServer server, DownstreamCall call, JsonObject request, CancellationToken cancellationToken)
    {
        string method = InputRequests.MethodOf(request)!;
        JsonObject parameters = request["params"] is JsonObject given ? (JsonObject)given.DeepClone() : [];
        if (method == RequestMethods.ElicitationCreate && parameters["mode"]?.GetValueKind() == JsonValueKind.String &&
            parameters["mode"]!.GetValue<string>() == "url" && !parameters.ContainsKey("elicitationId"))
        {
            // 2025-11-25 requires an id on URL-mode elicitations (its completion notice names it); 2026-07-28 has none.
            parameters["elicitationId"] = Guid.NewGuid().ToString("N");
        }

        return server.ForwardServerRequestAsync(method, parameters, call, cancellationToken);
    }
}
