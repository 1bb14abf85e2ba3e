using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// <c>completion/complete</c> for a prompt argument or a resource-template variable, routed to the server that owns the
/// prompt or template, with the reference rewritten to the server's own name or template.
/// </summary>
internal sealed class CompletionRequestHandler(GatewayStateProvider stateProvider, AgentResolver agents)
{
    public async Task<JsonNode?> CompleteAsync(GatewayRequest request, CancellationToken cancellationToken)
    {
        if (request.Params?["ref"] is not JsonObject reference || !GatewayTools.TryGetString(reference, "type", out string type))
        {
            throw new McpProtocolException("completion/complete needs params with a 'ref'.", McpErrorCode.InvalidParams);
        }

        GatewayState state = stateProvider.Current;
        Caller identity = agents.Identify(state, request);
        request.Audit.Caller = identity;
        DownstreamServer? server = null;
        switch (type)
        {
            case "ref/prompt" when GatewayTools.TryGetString(reference, "name", out string name):
                if (state.Prompts.TryRoute(name, out PromptRoute prompt) && state.MayGetPrompt(identity.Agent, prompt))
                {
                    server = prompt.Server;
                    reference["name"] = prompt.Prompt.Key;
                }

                break;
            case "ref/resource" when GatewayTools.TryGetString(reference, "uri", out string uri):
                if (state.Resources.TryFindTemplate(uri, out ResourceRoute template) && template.Available && state.MayReadResource(identity.Agent, template.Server, template.Item.Key))
                {
                    server = template.Server;
                    reference["uri"] = template.Item.Key;
                }
                else if (state.Resources.TryResolve(uri, (s, candidate) => s.IsReady && state.MayReadResource(identity.Agent, s, candidate), out DownstreamServer owner, out string serverUri))
                {
                    server = owner;
                    reference["uri"] = serverUri;
                }

                break;
        }

        if (server is null)
        {
            request.Audit.Deny(identity.Agent is null ? "no-identity" : "unknown", identity.Agent is null ? identity.Message : "no such prompt or template, or the rules do not grant it");
            throw new McpProtocolException(
                identity.Agent is null ? identity.Message! : "Unknown reference: no prompt or resource template of that name that you may use.",
                McpErrorCode.InvalidParams);
        }

        request.Audit.Server = server.Name;
        return await Forwarding.SendAsync(server, RequestMethods.CompletionComplete, request.Params!, request.Upstream, server.CallTimeout, cancellationToken);
    }
}
