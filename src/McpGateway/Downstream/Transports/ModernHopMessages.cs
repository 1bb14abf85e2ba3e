using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Downstream;

/// <summary>
/// What the gateway changes on the raw messages of the downstream hop, below the SDK client, so that a 2026-07-28 server
/// is told the truth about the agent and its multi round-trip results reach the gateway whole.
/// <list type="bullet">
/// <item>The SDK client writes its own (the gateway's) capabilities into every request's
/// <c>_meta["io.modelcontextprotocol/clientCapabilities"]</c>; a request forwarded for an agent carries that agent's
/// client features instead (sampling, elicitation, roots), so the server refuses what the agent cannot answer
/// (MissingRequiredClientCapability, -32021) and asks only for what it can. It also carries the log level the agent
/// asked for (<c>io.modelcontextprotocol/logLevel</c>): a 2026-07-28 server logs only for requests that name one.</item>
/// <item>The SDK client answers an <c>input_required</c> result itself, through typed handlers that see neither the
/// server's input-request keys nor its <c>requestState</c>; the gateway resolves or relays those results itself
/// (see <c>Gateway.Forwarding</c>), so the SDK is shown them under a private <c>resultType</c> and
/// <see cref="RestoreInputRequired"/> puts the real one back.</item>
/// </list>
/// </summary>
internal static class ModernHopMessages
{
    public const string InputRequired = "input_required";

    private const string HiddenInputRequired = "mcp-gateway/input_required";
    private const string CapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";
    private const string LogLevelKey = "io.modelcontextprotocol/logLevel";
    private const string AgentCapabilitiesItem = "mcp-gateway.agent-capabilities";
    private const string AgentLogLevelItem = "mcp-gateway.agent-log-level";
    private static readonly string[] s_clientFeatures = ["sampling", "elicitation", "roots"];

    /// <summary>True for a result whose <c>resultType</c> is <c>input_required</c>.</summary>
    public static bool IsInputRequired(JsonNode? result) => ResultTypeOf(result) == InputRequired;

    /// <summary>Marks a request forwarded for an agent with the agent's capabilities (null: the agent declared none) and log level.</summary>
    public static void ForAgent(JsonRpcRequest request, ClientCapabilities? capabilities, string? logLevel)
    {
        request.Context ??= new JsonRpcMessageContext();
        request.Context.Items ??= new Dictionary<string, object?>();
        request.Context.Items[AgentCapabilitiesItem] = capabilities ?? new ClientCapabilities();
        request.Context.Items[AgentLogLevelItem] = logLevel;
    }

    /// <summary>Outgoing: replaces the client features in a marked request's per-request capabilities with the agent's, and adds its log level.</summary>
    public static void ApplyAgentCapabilities(JsonRpcMessage message)
    {
        if (message is not JsonRpcRequest { Params: JsonObject parameters } request ||
            request.Context?.Items?.TryGetValue(AgentCapabilitiesItem, out object? value) != true || value is not ClientCapabilities agent ||
            parameters["_meta"] is not JsonObject meta || meta[CapabilitiesKey] is not JsonObject declared)
        {
            // A 2025-11-25 server has no per-request capabilities: it was told the gateway's at initialize.
            return;
        }

        if (request.Context.Items.TryGetValue(AgentLogLevelItem, out object? level) && level is string logLevel)
        {
            meta[LogLevelKey] = logLevel;
        }

        var ofAgent = (JsonObject)JsonSerializer.SerializeToNode(agent, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ClientCapabilities)))!;
        foreach (string feature in s_clientFeatures)
        {
            if (ofAgent[feature] is JsonNode capability)
            {
                declared[feature] = capability.DeepClone();
            }
            else
            {
                declared.Remove(feature);
            }
        }
    }

    /// <summary>Incoming: an <c>input_required</c> result goes to the SDK under a <c>resultType</c> it does not act on.</summary>
    public static void HideInputRequired(JsonRpcMessage message)
    {
        if (message is JsonRpcResponse { Result: JsonObject result } && ResultTypeOf(result) == InputRequired)
        {
            result["resultType"] = HiddenInputRequired;
        }
    }

    /// <summary>Gives a result hidden by <see cref="HideInputRequired"/> its <c>input_required</c> back.</summary>
    public static void RestoreInputRequired(JsonNode? result)
    {
        if (result is JsonObject obj && ResultTypeOf(obj) == HiddenInputRequired)
        {
            obj["resultType"] = InputRequired;
        }
    }

    private static string? ResultTypeOf(JsonNode? result) =>
        result is JsonObject obj && obj["resultType"] is JsonValue type && type.GetValueKind() == JsonValueKind.String ? type.GetValue<string>() : null;
}
