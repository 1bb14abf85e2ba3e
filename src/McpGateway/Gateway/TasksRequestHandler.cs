using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Identity;
using ModelContextProtocol;

namespace McpGateway.Gateway;

/// <summary>
/// Tasks (long-running tool calls): a <c>tools/call</c> with a <c>task</c> field is answered with a task that lives on
/// the server that created it. The gateway remembers which server and which agent each task belongs to, and routes
/// <c>tasks/get</c>, <c>tasks/result</c> and <c>tasks/cancel</c> there; <c>tasks/list</c> lists the agent's own tasks.
/// Another agent asking about a task gets the error an unknown task gets.
/// </summary>
internal sealed class TasksRequestHandler(GatewayStateProvider stateProvider, AgentResolver agents, TimeProvider time)
{
    public const string Get = "tasks/get";
    public const string Result = "tasks/result";
    public const string List = "tasks/list";
    public const string Cancel = "tasks/cancel";

    // Kept past the task's own ttl so a late poll still finds its server (which then answers for itself).
    private static readonly TimeSpan s_grace = TimeSpan.FromHours(1);
    private static readonly TimeSpan s_defaultTtl = TimeSpan.FromHours(24);
    private const int PruneEvery = 256;

    private readonly ConcurrentDictionary<string, TaskOwner> _tasks = new(StringComparer.Ordinal);
    private int _sincePrune;

    /// <summary>Who made a task, with which tool: each later request about it is decided for that tool again (rules change).</summary>
    private sealed record TaskOwner(DownstreamServer Server, string Agent, string Tool, DateTimeOffset Expires);

    public static bool Handles(string method) => method is Get or Result or List or Cancel;

    /// <summary>Remembers the task in a <c>tools/call</c> result (a <c>CreateTaskResult</c>), if there is one.</summary>
    public void Remember(DownstreamServer server, string agent, string tool, JsonNode? result)
    {
        if (result is not JsonObject { } obj || obj["task"] is not JsonObject task || !TryGetString(task, "taskId", out string taskId))
        {
            return;
        }

        TimeSpan ttl = task["ttl"] is JsonValue ttlValue && ttlValue.GetValueKind() == JsonValueKind.Number && ttlValue.TryGetValue(out long ms) && ms > 0
            ? TimeSpan.FromMilliseconds(Math.Min(ms, (long)s_defaultTtl.TotalMilliseconds))
            : s_defaultTtl;
        _tasks[taskId] = new TaskOwner(server, agent, tool, time.GetUtcNow() + ttl + s_grace);
        if (Interlocked.Increment(ref _sincePrune) % PruneEvery == 0)
        {
            Prune();
        }
    }

    public async Task<JsonNode?> HandleAsync(GatewayRequest request, CancellationToken cancellationToken)
    {
        GatewayState state = stateProvider.Current;
        Caller identity = agents.Identify(state, request);
        request.Audit.Caller = identity;
        if (identity.Agent is null)
        {
            throw new McpProtocolException(identity.Message!, McpErrorCode.InvalidParams);
        }

        string method = request.Message.Method;
        if (method == List)
        {
            return await ListAsync(identity.Agent, request, cancellationToken);
        }

        if (!TryGetString(request.Params, "taskId", out string taskId))
        {
            throw new McpProtocolException($"{method} needs params with a 'taskId'.", McpErrorCode.InvalidParams);
        }

        if (!_tasks.TryGetValue(taskId, out TaskOwner? owner) || owner.Agent != identity.Agent ||
            !state.Servers.TryGetValue(owner.Server.Name, out DownstreamServer? server) || !ReferenceEquals(server, owner.Server) || !state.Policy.DecideTool(identity.Agent, server.Name, owner.Tool).IsAllowed)
        {
            throw new McpProtocolException($"Unknown task: '{taskId}'", McpErrorCode.InvalidParams);
        }

        var parameters = (JsonObject)request.Params!.DeepClone();
        // tasks/result waits for the task to finish: it may take as long as the task is kept.
        TimeSpan timeout = method == Result ? Timeout.InfiniteTimeSpan : server.CallTimeout;
        return await Forwarding.SendAsync(server, method, parameters, request.Upstream, timeout, cancellationToken);
    }

    /// <summary>The agent's own tasks, as each server that holds one of them lists them now.</summary>
    private async Task<JsonNode?> ListAsync(string agent, GatewayRequest request, CancellationToken cancellationToken)
    {
        GatewayState state = stateProvider.Current;
        var mine = _tasks.Where(entry => entry.Value.Agent == agent && state.Policy.DecideTool(agent, entry.Value.Server.Name, entry.Value.Tool).IsAllowed).ToList();
        var tasks = new JsonArray();
        foreach (IGrouping<DownstreamServer, KeyValuePair<string, TaskOwner>> group in mine.GroupBy(entry => entry.Value.Server))
        {
            DownstreamServer server = group.Key;
            if (!server.IsReady || !state.MayUse(agent, server))
            {
                continue;
            }

            var ids = group.Select(entry => entry.Key).ToHashSet(StringComparer.Ordinal);
            string? cursor = null;
            do
            {
                var parameters = new JsonObject();
                if (cursor is not null)
                {
                    parameters["cursor"] = cursor;
                }

                JsonNode? page = await Forwarding.SendAsync(server, List, parameters, request.Upstream, server.CallTimeout, cancellationToken);
                if (page?["tasks"] is JsonArray listed)
                {
                    foreach (JsonNode? task in listed)
                    {
                        if (task is JsonObject t && TryGetString(t, "taskId", out string id) && ids.Contains(id))
                        {
                            tasks.Add(t.DeepClone());
                        }
                    }
                }

                cursor = page is JsonObject p && TryGetString(p, "nextCursor", out string next) ? next : null;
            }
            while (cursor is not null);
        }

        return new JsonObject { ["tasks"] = tasks };
    }

    private void Prune()
    {
        DateTimeOffset now = time.GetUtcNow();
        foreach (KeyValuePair<string, TaskOwner> entry in _tasks)
        {
            if (entry.Value.Expires < now)
            {
                _tasks.TryRemove(entry);
            }
        }
    }

    private static bool TryGetString(JsonObject? obj, string name, out string value)
    {
        value = string.Empty;
        if (obj?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            value = v.GetValue<string>();
            return true;
        }

        return false;
    }
}
