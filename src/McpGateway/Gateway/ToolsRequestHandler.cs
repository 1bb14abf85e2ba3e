using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using McpGateway.Policy;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>
/// <c>tools/list</c> and <c>tools/call</c> for agents: the policy filters the list and guards every call with the
/// same decision; a denied tool gets exactly the error an unknown tool gets. Requests and results stay raw JSON so a
/// tool and its results reach the agent as the downstream server sent them, apart from the tool's name.
/// </summary>
internal sealed partial class ToolsRequestHandler(
    GatewayStateProvider stateProvider,
    GatewayOptions options,
    GatewayTools gatewayTools,
    AgentResolver agents,
    ToolCallGate gate,
    TasksRequestHandler tasks,
    ILogger<ToolsRequestHandler> logger)
{
    // The longest call the servers file allows (callTimeoutMs); also far inside what a timer accepts.
    private const long MaxTimeoutMs = 86_400_000;

    public JsonObject ListTools(GatewayRequest request)
    {
        GatewaySession session = request.Session;
        GatewayState state = stateProvider.Current;
        Caller caller = agents.Identify(state, request);
        request.Audit.Caller = caller;
        session.ListedVersion = state.Version;
        // A JsonArray over a JsonElement writes the element as is: the cached list is never copied or re-serialised node by node.
        return CachingHints.OnList(new JsonObject { ["tools"] = JsonArray.Create(state.ToolsFor(caller.Agent)) }, state.CacheTtlMs(ListKind.Tools, caller.Agent));
    }

    public async Task<JsonNode?> CallToolAsync(GatewayRequest request, CancellationToken cancellationToken)
    {
        if (request.Params is not JsonObject parameters || !GatewayTools.TryGetString(parameters, "name", out string name))
        {
            throw new McpProtocolException("tools/call needs params with a tool 'name'.", McpErrorCode.InvalidParams);
        }

        JsonObject? arguments = null;
        if (parameters["arguments"] is JsonNode argumentsNode)
        {
            arguments = argumentsNode as JsonObject ?? throw new McpProtocolException("tools/call 'arguments' must be an object.", McpErrorCode.InvalidParams);
        }

        string? argumentAgent = TakeAgentArgument(arguments);
        GatewayState state = stateProvider.Current;
        request.Audit.Item = name;
        Caller caller = agents.Identify(state, request, argumentAgent);
        request.Audit.Caller = caller;

        if (GatewayTools.IsGatewayTool(name))
        {
            return await CallGatewayToolAsync(state, request, caller, name, arguments, cancellationToken);
        }

        ToolCallDecision decision = await gate.AdmitAsync(gate.Decide(state, caller, name));
        request.Audit.Tool = decision;
        request.Audit.Arguments = arguments;
        if (!decision.IsAllowed)
        {
            if (decision.Verdict == ToolCallVerdict.UnknownTool)
            {
                LogDenied(logger, caller.Agent!, name);
            }

            throw ToolCallGate.Refusal(decision);
        }

        ToolRoute route = decision.Route!;
        agents.Bind(request.Session, caller);
        LogCall(logger, caller.Agent!, route.Server.Name, route.Tool.Name, decision.Policy.Kind);
        parameters["name"] = route.Tool.Name;
        JsonNode? result = await ForwardAsync(route, parameters, request.Upstream, timeout: null, cancellationToken);
        if (parameters.ContainsKey("task"))
        {
            tasks.Remember(route.Server, caller.Agent!, route.Tool.Name, result);
        }

        return result;
    }

    private async Task<JsonNode?> CallGatewayToolAsync(GatewayState state, GatewayRequest request, Caller caller, string name, JsonObject? arguments, CancellationToken cancellationToken)
    {
        if (caller.Agent is null)
        {
            request.Audit.Deny("no-identity", caller.Message);
            return ToolResults.Error(caller.Message!);
        }

        AgentPolicy? agent = state.Policy.FindAgent(caller.Agent);
        if (agent is null)
        {
            // Unknown agents get nothing, told in the same words whatever they ask for.
            LogUnknownAgent(logger, caller.Agent, name);
            request.Audit.Deny("unknown-agent", $"agent '{caller.Agent}' is not in the access rules");
            return name == GatewayTools.ListServers
                ? ToolResults.Structured(new JsonObject { ["servers"] = new JsonArray() })
                : ToolResults.Error(GatewayTools.TryGetString(arguments, "server", out string s) ? GatewayTools.UnknownServerMessage(s) : "Unknown server.");
        }

        agents.Bind(request.Session, caller);
        switch (name)
        {
            case GatewayTools.ListServers:
                return GatewayTools.RunListServers(state, agent);
            case GatewayTools.GetServerTools:
                return gatewayTools.RunGetServerTools(state, agent, arguments);
            default:
                return await RunExecuteToolAsync(state, caller, arguments, request, cancellationToken);
        }
    }

    private async Task<JsonNode?> RunExecuteToolAsync(GatewayState state, Caller caller, JsonObject? arguments, GatewayRequest request, CancellationToken cancellationToken)
    {
        if (!GatewayTools.TryGetString(arguments, "server", out string server) || !GatewayTools.TryGetString(arguments, "tool", out string tool))
        {
            return ToolResults.Error("'server' and 'tool' (strings) are required. Call list_servers and get_server_tools to find them.");
        }

        JsonObject? toolArguments = null;
        if (arguments!["args"] is JsonNode argsNode)
        {
            if (argsNode is not JsonObject argsObject)
            {
                return ToolResults.Error("'args' must be an object of the tool's arguments.");
            }

            toolArguments = argsObject;
            arguments.Remove("args");
            if (TakeAgentArgument(toolArguments) is { } nested && nested != caller.Agent)
            {
                // The identity argument inside args must name the same agent as the call itself.
                Caller refused = agents.Resolve(state, request, nested);
                if (refused.IsRefused || refused.Agent != caller.Agent)
                {
                    request.Audit.Deny("refused", $"'{options.Identity.ArgumentName}' inside args names another agent");
                    return ToolResults.Error(refused.Message ?? $"'{options.Identity.ArgumentName}' inside args names another agent than this call.");
                }
            }
        }

        TimeSpan? timeout = null;
        if (arguments["timeout_ms"] is JsonNode timeoutNode)
        {
            if (timeoutNode.GetValueKind() != JsonValueKind.Number || !timeoutNode.AsValue().TryGetValue(out long ms) || ms is < 1 or > MaxTimeoutMs)
            {
                return ToolResults.Error($"'timeout_ms' must be a whole number of milliseconds from 1 to {MaxTimeoutMs} (one day).");
            }

            timeout = TimeSpan.FromMilliseconds(ms);
        }

        ToolCallDecision decision = await gate.AdmitAsync(gate.Decide(state, caller, server, tool));
        request.Audit.Tool = decision;
        request.Audit.Arguments = toolArguments;
        switch (decision.Verdict)
        {
            case ToolCallVerdict.UnknownServer:
                LogDenied(logger, caller.Agent!, server + "/" + tool);
                return ToolResults.Error(GatewayTools.UnknownServerMessage(server));
            case ToolCallVerdict.UnknownTool:
                LogDenied(logger, caller.Agent!, server + "/" + tool);
                return ToolResults.Error(GatewayTools.UnknownToolMessage(server, tool));
            case ToolCallVerdict.RateLimited:
                return ToolResults.Error(CallRateLimiter.Message(caller.Agent!, decision.RetryAfter, decision.LimitedBy));
        }

        ToolRoute route = decision.Route!;
        LogCall(logger, caller.Agent!, server, tool, decision.Policy.Kind);
        var parameters = new JsonObject { ["name"] = tool };
        if (toolArguments is not null)
        {
            parameters["arguments"] = toolArguments;
        }

        // The agent's progress token (and other metadata) came on the execute_tool request, and so does a retry's
        // answer to the server's input_required result (2026-07-28): the server must see both.
        foreach (string key in (ReadOnlySpan<string>)["_meta", "inputResponses", "requestState"])
        {
            if (request.Params?[key] is JsonNode value)
            {
                parameters[key] = value.DeepClone();
            }
        }

        return await ForwardAsync(route, parameters, request.Upstream, timeout, cancellationToken);
    }

    private static async Task<JsonNode?> ForwardAsync(ToolRoute route, JsonObject parameters, IUpstream upstream, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (!route.Server.IsReady)
        {
            // "... retrying in N s", from the server's supervisor.
            return ToolResults.Error(route.Server.NotAvailableMessage());
        }

        return await Forwarding.SendAsync(route.Server, ModelContextProtocol.Protocol.RequestMethods.ToolsCall, parameters, upstream, timeout ?? route.Server.CallTimeout, cancellationToken);
    }

    /// <summary>Removes the identity argument so no downstream server ever receives it; returns its value.</summary>
    private string? TakeAgentArgument(JsonObject? arguments)
    {
        if (!options.Identity.AcceptArgument || arguments is null || !arguments.TryGetPropertyValue(options.Identity.ArgumentName, out JsonNode? value))
        {
            return null;
        }

        arguments.Remove(options.Identity.ArgumentName);
        return value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Agent '{Agent}' calls {Server}/{Tool} ({Decision}).")]
    private static partial void LogCall(ILogger logger, string agent, string server, string tool, DecisionKind decision);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent '{Agent}' asked for '{Tool}', which it may not use or which does not exist.")]
    private static partial void LogDenied(ILogger logger, string agent, string tool);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent '{Agent}', which is not in the rules, called '{Tool}'.")]
    private static partial void LogUnknownAgent(ILogger logger, string agent, string tool);
}
