using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// <c>prompts/list</c> and <c>prompts/get</c>: prompts of the servers the agent may use, named like tools (prefix and
/// separator, or no prefix), fetched raw from the server that owns them. A prompt of a server the agent may not use
/// gets the answer a prompt that does not exist gets.
/// </summary>
internal sealed class PromptsRequestHandler(GatewayStateProvider stateProvider, AgentResolver agents)
{
    public JsonObject List(GatewayRequest request)
    {
        GatewayState state = stateProvider.Current;
        Caller identity = agents.Identify(state, request);
        request.Audit.Caller = identity;
        return CachingHints.OnList(new JsonObject { ["prompts"] = JsonArray.Create(state.ListFor(ListKind.Prompts, identity.Agent)) }, state.CacheTtlMs(ListKind.Prompts, identity.Agent));
    }

    public async Task<JsonNode?> GetAsync(GatewayRequest request, CancellationToken cancellationToken)
    {
        if (request.Params is not { } parameters || !GatewayTools.TryGetString(parameters, "name", out string name))
        {
            throw new McpProtocolException("prompts/get needs params with a prompt 'name'.", McpErrorCode.InvalidParams);
        }

        GatewayState state = stateProvider.Current;
        Caller identity = agents.Identify(state, request);
        request.Audit.Caller = identity;
        request.Audit.Item = name;
        if (!state.Prompts.TryRoute(name, out PromptRoute route) || !state.MayGetPrompt(identity.Agent, route))
        {
            request.Audit.Deny(identity.Agent is null ? "no-identity" : "unknown", identity.Agent is null ? identity.Message : "no such prompt, or the rules do not grant it");
            throw new McpProtocolException(identity.Agent is null ? identity.Message! : $"Unknown prompt: '{name}'", McpErrorCode.InvalidParams);
        }

        request.Audit.Server = route.Server.Name;
        request.Audit.OriginalItem = route.Prompt.Key;
        parameters["name"] = route.Prompt.Key;
        return await Forwarding.SendAsync(route.Server, RequestMethods.PromptsGet, parameters, request.Upstream, route.Server.CallTimeout, cancellationToken);
    }
}
