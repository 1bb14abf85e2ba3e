using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Policy;

namespace McpGateway.Gateway;

/// <summary>
/// The gateway's own tools, present in both modes: <c>list_servers</c>, <c>get_server_tools</c> and
/// <c>execute_tool</c>. They use the same policy decisions as listing and calling, and answer "unknown" for
/// anything the agent may not use, so hidden servers and tools are never revealed (not even by count).
/// </summary>
internal sealed class GatewayTools
{
    public const string ListServers = "list_servers";
    public const string GetServerTools = "get_server_tools";
    public const string ExecuteTool = "execute_tool";

    public static IReadOnlyList<string> Names { get; } = [ListServers, GetServerTools, ExecuteTool];

    private readonly GatewayOptions _options;

    public GatewayTools(GatewayOptions options)
    {
        _options = options;
        DefinitionsUtf8 = [.. BuildDefinitions().Select(d => JsonSerializer.SerializeToUtf8Bytes(d, GatewayJsonContext.Default.JsonObject))];
    }

    /// <summary>The three definitions, serialised, in listing order.</summary>
    public IReadOnlyList<byte[]> DefinitionsUtf8 { get; }

    public static bool IsGatewayTool(string name) => name is ListServers or GetServerTools or ExecuteTool;

    public static string UnknownServerMessage(string server) =>
        $"Unknown server: '{server}'. Call {ListServers} to see the servers you may use.";

    public static string UnknownToolMessage(string server, string tool) =>
        $"Unknown tool: '{tool}' on server '{server}'. Call {GetServerTools} to see the tools you may use.";

    /// <summary><c>list_servers</c>: the servers this agent may use, with descriptions; never commands, URLs, env or headers.</summary>
    public static JsonObject RunListServers(GatewayState state, AgentPolicy agent)
    {
        var servers = new JsonArray();
        foreach (string name in agent.AllowedServers)
        {
            if (state.Config.Servers.Find(name) is not { Enabled: true } config)
            {
                continue;
            }

            int permitted = 0;
            bool available = false;
            foreach (ToolRoute route in state.Catalog.ForServer(name))
            {
                available = route.Available;
                if (route.Available && agent.DecideTool(name, route.Tool.Name).IsAllowed)
                {
                    permitted++;
                }
            }

            servers.Add(new JsonObject
            {
                ["name"] = name,
                ["description"] = config.Description ?? string.Empty,
                ["transport"] = config.TransportName,
                ["available"] = available || state.IsServerReady(name),
                ["tools"] = permitted,
            });
        }

        return ToolResults.Structured(new JsonObject { ["servers"] = servers });
    }

    /// <summary><c>get_server_tools</c>: one server's permitted tools, filtered by names, glob pattern and a schema-token budget.</summary>
    public JsonObject RunGetServerTools(GatewayState state, AgentPolicy agent, JsonObject? arguments)
    {
        if (!TryGetString(arguments, "server", out string? server))
        {
            return ToolResults.Error("The 'server' argument (a string) is required. Call list_servers to see the servers you may use.");
        }

        if (!agent.DecideServer(server).IsAllowed || state.Config.Servers.Find(server) is not { Enabled: true })
        {
            return ToolResults.Error(UnknownServerMessage(server));
        }

        HashSet<string>? names = null;
        if (arguments?["names"] is JsonNode namesNode)
        {
            if (namesNode is not JsonArray array || array.Any(n => n?.GetValueKind() != JsonValueKind.String))
            {
                return ToolResults.Error("'names' must be an array of tool names.");
            }

            names = new HashSet<string>(array.Select(n => n!.GetValue<string>()), StringComparer.Ordinal);
        }

        string? pattern = null;
        if (arguments?["pattern"] is JsonNode patternNode && !TryGetString(arguments, "pattern", out pattern))
        {
            return ToolResults.Error("'pattern' must be a glob string such as \"get_*\".");
        }

        long? budget = null;
        if (arguments?["max_schema_tokens"] is JsonNode budgetNode)
        {
            if (budgetNode.GetValueKind() != JsonValueKind.Number || !budgetNode.AsValue().TryGetValue(out long parsed) || parsed < 1)
            {
                return ToolResults.Error("'max_schema_tokens' must be a positive whole number.");
            }

            budget = parsed;
        }

        var tools = new JsonArray();
        var omitted = new JsonArray();
        long used = 0;
        foreach (ToolRoute route in state.Catalog.ForServer(server))
        {
            if (!route.Available || !agent.DecideTool(server, route.Tool.Name).IsAllowed)
            {
                continue;
            }

            if ((names is not null && !names.Contains(route.Tool.Name)) || (pattern is not null && !Glob.IsMatch(pattern, route.Tool.Name)))
            {
                continue;
            }

            // A rough, tokenizer-free estimate: about four bytes of JSON per token.
            long cost = (route.OriginalDefinitionUtf8.Length + 3) / 4;
            if (budget is not null && used + cost > budget)
            {
                omitted.Add(route.Tool.Name);
                continue;
            }

            used += cost;
            tools.Add(Describe(route, state.Mode));
        }

        var result = new JsonObject
        {
            ["server"] = server,
            ["returned"] = tools.Count,
            ["tools"] = tools,
        };
        if (omitted.Count > 0)
        {
            result["omitted_for_budget"] = omitted;
        }

        if (budget is not null)
        {
            result["estimated_schema_tokens"] = used;
        }

        return ToolResults.Structured(result);
    }

    private static JsonObject Describe(ToolRoute route, ExposureMode mode)
    {
        // The definition exactly as the server sent it (original name), plus how to call it through the gateway.
        var definition = (JsonObject)JsonNode.Parse(route.OriginalDefinitionUtf8)!;
        var described = new JsonObject { ["name"] = route.Tool.Name };
        if (mode == ExposureMode.Proxy)
        {
            described["exposed_name"] = route.ExposedName;
        }

        foreach ((string key, JsonNode? value) in definition.ToList())
        {
            if (key != "name")
            {
                definition.Remove(key);
                described[key] = value;
            }
        }

        return described;
    }

    public static bool TryGetString(JsonObject? arguments, string name, out string value)
    {
        if (arguments?[name] is JsonValue node && node.GetValueKind() == JsonValueKind.String && node.GetValue<string>() is { Length: > 0 } text)
        {
            value = text;
            return true;
        }

        value = string.Empty;
        return false;
    }

    private List<JsonObject> BuildDefinitions()
    {
        JsonObject AgentProperty() => new()
        {
            ["type"] = "string",
            ["description"] = "Your agent name. Needed only until the gateway knows who you are; later calls in this session may omit it.",
        };

        JsonObject Properties(params (string Name, JsonObject Schema)[] properties)
        {
            var result = new JsonObject();
            foreach ((string name, JsonObject schema) in properties)
            {
                result[name] = schema;
            }

            if (_options.Identity.AcceptArgument)
            {
                result[_options.Identity.ArgumentName] = AgentProperty();
            }

            return result;
        }

        var readOnly = new JsonObject { ["readOnlyHint"] = true, ["destructiveHint"] = false, ["openWorldHint"] = false };
        return
        [
            new JsonObject
            {
                ["name"] = ListServers,
                ["title"] = "List servers",
                ["description"] = "List the MCP servers behind this gateway that you may use: name, description, whether it is available now, and how many of its tools you may call. Next, call get_server_tools for a server's tools.",
                ["inputSchema"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = Properties(),
                },
                ["annotations"] = readOnly.DeepClone(),
            },
            new JsonObject
            {
                ["name"] = GetServerTools,
                ["title"] = "Get a server's tools",
                ["description"] = "Get the tools of one server that you may call, with their input schemas. Filter with 'names' (exact tool names) or 'pattern' (a glob such as \"get_*\"), and cap the size with 'max_schema_tokens'; tools that do not fit are named in 'omitted_for_budget'. Call them with execute_tool.",
                ["inputSchema"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = Properties(
                        ("server", new JsonObject { ["type"] = "string", ["description"] = "Server name, as list_servers gives it." }),
                        ("names", new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" }, ["description"] = "Only these tools (exact names)." }),
                        ("pattern", new JsonObject { ["type"] = "string", ["description"] = "Only tools whose name matches this glob (* and ?)." }),
                        ("max_schema_tokens", new JsonObject { ["type"] = "integer", ["minimum"] = 1, ["description"] = "Approximate token budget for the returned definitions." })),
                    ["required"] = new JsonArray("server"),
                },
                ["annotations"] = readOnly.DeepClone(),
            },
            new JsonObject
            {
                ["name"] = ExecuteTool,
                ["title"] = "Call a server's tool",
                ["description"] = "Call one tool of one server with arguments, and get its result unchanged.",
                ["inputSchema"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = Properties(
                        ("server", new JsonObject { ["type"] = "string", ["description"] = "Server name, as list_servers gives it." }),
                        ("tool", new JsonObject { ["type"] = "string", ["description"] = "Tool name on that server, as get_server_tools gives it." }),
                        ("args", new JsonObject { ["type"] = "object", ["description"] = "The tool's arguments, as its input schema describes them." }),
                        ("timeout_ms", new JsonObject { ["type"] = "integer", ["minimum"] = 1, ["description"] = "Give up after this many milliseconds." })),
                    ["required"] = new JsonArray("server", "tool"),
                },
                ["annotations"] = new JsonObject { ["openWorldHint"] = true },
            },
        ];
    }
}
