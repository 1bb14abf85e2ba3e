using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Gateway;

/// <summary>
/// The <c>inputRequests</c> of an <c>input_required</c> result (multi round-trip requests, 2026-07-28): which requests
/// may carry them, and whether the agent declared what they ask for. The specification lets a server ask only for what
/// the client declared; the gateway tells servers each agent's capabilities, and refuses, with the specification's
/// MissingRequiredClientCapability error (-32021), an input request the agent could not answer.
/// </summary>
internal static class InputRequests
{
    /// <summary>The requests a server may answer with <c>input_required</c> (SEP-2322); "MUST NOT" for any other.</summary>
    public static bool MayBeAnsweredWith(string method) =>
        method is RequestMethods.ToolsCall or RequestMethods.PromptsGet or RequestMethods.ResourcesRead;

    /// <summary>The <c>inputRequests</c> map of an <c>input_required</c> result (empty when it has none).</summary>
    public static JsonObject Of(JsonObject inputRequired) => inputRequired["inputRequests"] as JsonObject ?? [];

    /// <summary>The result's <c>requestState</c>, when it is a string.</summary>
    public static string? StateOf(JsonObject inputRequired) =>
        inputRequired["requestState"] is JsonValue state && state.GetValueKind() == JsonValueKind.String ? state.GetValue<string>() : null;

    /// <summary>
    /// Checks every input request: a known method, and a capability the agent declared. Throws the error the agent
    /// gets: -32021 naming every missing capability, or an internal error for a request that is not one of the three.
    /// </summary>
    public static void RequireDeclared(string server, JsonObject inputRequests, ClientCapabilities? declared)
    {
        var missing = new ClientCapabilities();
        var names = new List<string>();
        foreach ((string key, JsonNode? request) in inputRequests)
        {
            switch (MethodOf(request))
            {
                case RequestMethods.SamplingCreateMessage:
#pragma warning disable MCP9005 // Sampling and roots are deprecated in 2026-07-28 and still part of it.
                    if (declared?.Sampling is null && missing.Sampling is null)
                    {
                        missing.Sampling = new SamplingCapability();
                        names.Add("sampling");
                    }

                    break;
                case RequestMethods.RootsList:
                    if (declared?.Roots is null && missing.Roots is null)
                    {
                        missing.Roots = new RootsCapability();
                        names.Add("roots");
                    }
#pragma warning restore MCP9005

                    break;
                case RequestMethods.ElicitationCreate:
                    bool url = request?["params"]?["mode"] is JsonValue mode && mode.GetValueKind() == JsonValueKind.String && mode.GetValue<string>() == "url";
                    if (!DeclaresElicitation(declared?.Elicitation, url) && missing.Elicitation is null)
                    {
                        missing.Elicitation = url ? new ElicitationCapability { Url = new UrlElicitationCapability() } : new ElicitationCapability();
                        names.Add(url ? "elicitation (url mode)" : "elicitation");
                    }

                    break;
                default:
                    throw new McpProtocolException(
                        $"Server '{server}' asked for input '{key}' with a request that is not sampling/createMessage, elicitation/create or roots/list.",
                        McpErrorCode.InternalError);
            }
        }

        if (names.Count > 0)
        {
            throw new MissingRequiredClientCapabilityException(
                missing,
                $"This request needs the client's {string.Join(" and ", names)} capability, which your client did not declare.");
        }
    }

    public static string? MethodOf(JsonNode? request) =>
        request is JsonObject obj && obj["method"] is JsonValue method && method.GetValueKind() == JsonValueKind.String ? method.GetValue<string>() : null;

    /// <summary>An empty elicitation capability means form mode (2025-11-25 backward compatibility); url mode must be named.</summary>
    private static bool DeclaresElicitation(ElicitationCapability? elicitation, bool url) =>
        elicitation is not null && (url ? elicitation.Url is not null : elicitation.Form is not null || elicitation.Url is null);
}
