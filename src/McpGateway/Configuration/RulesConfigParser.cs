using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Policy;

namespace McpGateway.Configuration;

/// <summary>
/// Reads the access-rules file in either accepted shape and normalises both into <see cref="RulesConfig"/>.
/// Unknown keys are errors here (a misspelt "deny" must never grant silently).
/// </summary>
internal static class RulesConfigParser
{
    private static readonly string[] s_topLevel = ["access_rules", "agents", "defaults", "$schema"];
    private static readonly string[] s_seedAgent = ["servers", "tools", "resources", "prompts", "description"];
    private static readonly string[] s_agentsAgent = ["allow", "deny", "description"];
    private static readonly string[] s_accessList = ["servers", "tools", "resources", "prompts"];
    private static readonly string[] s_defaults = ["deny_on_missing_agent", "default_agent"];

    private const string ServersFix = "write an array of server names or patterns, for example [\"github\", \"docs-*\"], or \"*\" for all.";

    private static readonly ItemSyntax s_tools = new(
        ItemKind.Tool,
        "tools",
        "write an array of tool names or patterns, for example [\"get_*\", \"search\"], or \"*\" for all.",
        "write \"*\", an array of tool names, or an object keyed by server name.",
        "write \"*\" for all tools of the allowed servers, or {\"server\": [\"tool\", ...]}.",
        "write an object keyed by server name: {\"github\": [\"get_*\"]}.");

    private static readonly ItemSyntax s_resources = new(
        ItemKind.Resource,
        "resources",
        "write an array of resource URIs or URI patterns, for example [\"file:///docs/*\", \"memory://notes\"], or \"*\" for all.",
        "write \"*\", an array of resource URI patterns, or an object keyed by server name.",
        "write \"*\" for all resources of the allowed servers, or {\"server\": [\"file:///docs/*\", ...]}.",
        "write an object keyed by server name: {\"docs\": [\"file:///docs/*\"]}.");

    private static readonly ItemSyntax s_prompts = new(
        ItemKind.Prompt,
        "prompts",
        "write an array of prompt names or patterns, for example [\"summarize\", \"review_*\"], or \"*\" for all.",
        "write \"*\", an array of prompt names, or an object keyed by server name.",
        "write \"*\" for all prompts of the allowed servers, or {\"server\": [\"prompt\", ...]}.",
        "write an object keyed by server name: {\"github\": [\"summarize\"]}.");

    private static readonly ItemSyntax[] s_itemSyntaxes = [s_tools, s_resources, s_prompts];

    public static ConfigLoadResult<RulesConfig> Parse(ConfigDocument document)
    {
        DiagnosticBag bag = document.Diagnostics;
        var reader = new JsonNodeReader(document);
        if (document.Root is null)
        {
            return new ConfigLoadResult<RulesConfig>(null, bag.Items);
        }

        JsonObject? root = reader.Object(document.Root, JsonPath.Root, "the rules file is a JSON object: {\"agents\": {...}} or {\"access_rules\": {...}}.");
        if (root is null)
        {
            return new ConfigLoadResult<RulesConfig>(null, bag.Items);
        }

        reader.UnknownProperties(root, JsonPath.Root, s_topLevel, asErrors: true, "rules file");

        bool hasSeed = root.ContainsKey("access_rules");
        bool hasAgents = root.ContainsKey("agents");
        var agents = new List<AgentRulesConfig>();
        RulesShape shape;
        if (hasSeed && hasAgents)
        {
            bag.Error(JsonPath.Root, "the file has both 'access_rules' and 'agents'.", "use one shape: move every agent under 'agents' (with allow/deny) or under 'access_rules'.");
            shape = RulesShape.Agents;
        }
        else if (hasSeed)
        {
            shape = RulesShape.AccessRules;
            ReadAgents(reader, root["access_rules"], "$.access_rules", agents, ParseSeedAgent);
        }
        else if (hasAgents)
        {
            shape = RulesShape.Agents;
            ReadAgents(reader, root["agents"], "$.agents", agents, ParseAgentsAgent);
        }
        else
        {
            bag.Error(JsonPath.Root, "no 'agents' or 'access_rules' object.", "add \"agents\": {\"my-agent\": {\"allow\": {\"servers\": [\"github\"]}}}.");
            return new ConfigLoadResult<RulesConfig>(null, bag.Items);
        }

        RulesDefaultsConfig defaults = ParseDefaults(reader, root["defaults"], root.ContainsKey("defaults"), agents);
        var config = new RulesConfig { SourceFile = document.File, Positions = document.Positions, IsSubstituted = document.IsSubstituted, Shape = shape, Agents = agents, Defaults = defaults };
        return new ConfigLoadResult<RulesConfig>(bag.HasErrors ? null : config, bag.Items);
    }

    private static void ReadAgents(
        JsonNodeReader reader,
        JsonNode? node,
        string path,
        List<AgentRulesConfig> agents,
        Func<JsonNodeReader, string, JsonObject, string, AgentRulesConfig> parse)
    {
        JsonObject? obj = reader.Object(node, path, "write an object whose keys are agent names.");
        if (obj is null)
        {
            return;
        }

        foreach ((string name, JsonNode? agentNode) in obj)
        {
            string agentPath = JsonPath.Property(path, name);
            if (name.Trim().Length == 0)
            {
                reader.Diagnostics.Error(agentPath, "an agent name must have visible characters.", "name the agent, for example \"researcher\".");
                continue;
            }

            JsonObject? agentObj = reader.Object(agentNode, agentPath, "describe the agent's rules as an object.");
            if (agentObj is not null)
            {
                agents.Add(parse(reader, name, agentObj, agentPath));
            }
        }
    }

    private static AgentRulesConfig ParseSeedAgent(JsonNodeReader reader, string name, JsonObject obj, string path)
    {
        reader.UnknownProperties(obj, path, s_seedAgent, asErrors: true, "agent");
        ReadDescription(reader, obj, path);
        string serversPath = JsonPath.Property(path, "servers");
        IReadOnlyList<RulePattern> servers = obj.ContainsKey("servers") ? Patterns(reader, obj["servers"], serversPath, ServersFix) : [];
        return new AgentRulesConfig
        {
            Name = name,
            SourcePath = path,
            Allow = new AccessListConfig
            {
                Servers = servers,
                Tools = SeedItemRules(reader, obj, path, s_tools, servers),
                Resources = SeedItemRules(reader, obj, path, s_resources, servers),
                Prompts = SeedItemRules(reader, obj, path, s_prompts, servers),
                ServersSource = serversPath,
                SourcePath = path,
            },
        };
    }

    /// <summary>An access_rules agent's <c>tools</c>, <c>resources</c> or <c>prompts</c>: "*", an array for every allowed server, or an object keyed by server.</summary>
    private static List<ItemRuleConfig> SeedItemRules(JsonNodeReader reader, JsonObject obj, string path, ItemSyntax syntax, IReadOnlyList<RulePattern> servers)
    {
        var rules = new List<ItemRuleConfig>();
        if (!obj.ContainsKey(syntax.Key))
        {
            return rules;
        }

        string itemsPath = JsonPath.Property(path, syntax.Key);
        JsonNode? node = obj[syntax.Key];
        switch (node)
        {
            case JsonValue or JsonArray:
                // "tools": "*" or ["a", "b"]: the patterns apply to every server the agent may use.
                IReadOnlyList<RulePattern> patterns = Patterns(reader, node, itemsPath, syntax.SeedValueFix);
                if (syntax.Kind == ItemKind.Tool)
                {
                    WarnAboutGatewayTools(reader, patterns);
                }

                rules.Add(new ItemRuleConfig(new RulePattern("*", itemsPath), patterns));
                break;
            case JsonObject perServer:
                rules.AddRange(ItemRules(reader, perServer, itemsPath, syntax.ListFix));
                if (syntax.Kind == ItemKind.Tool)
                {
                    WarnAboutImplicitGrants(reader, servers, perServer, itemsPath);
                }

                break;
            default:
                reader.Diagnostics.Error(itemsPath, $"expected \"*\", an array or an object but found {JsonNodeReader.Describe(node)}.", syntax.SeedShapeFix);
                break;
        }

        return rules;
    }

    // The FastMCP guide's own gateway gave an allowed server that its "tools" map leaves out no tools; here such a
    // server gets all of them (DESIGN's implicit grant, the same in both shapes). Say so, so that nobody who brings a
    // file from that guide gets more access than they meant without being told.
    private static void WarnAboutImplicitGrants(JsonNodeReader reader, IReadOnlyList<RulePattern> servers, JsonObject perServer, string toolsPath)
    {
        foreach (RulePattern server in servers)
        {
            if (!server.IsWildcard && !perServer.ContainsKey(server.Pattern) && !perServer.Select(kv => kv.Key).Any(k => Glob.IsMatch(k, server.Pattern)))
            {
                string key = reader.IsSubstituted(server.Source) ? "SERVER" : server.Pattern;
                reader.Diagnostics.Warning(
                    server.Source,
                    $"server {Shown(reader, server.Source, server.Pattern)} is allowed but not named in 'tools', so all of its tools are allowed (implicit grant).",
                    $"to allow none of its tools write \"{key}\": [] in {toolsPath}; to allow all of them say so with \"{key}\": \"*\".");
            }
        }
    }

    private static AgentRulesConfig ParseAgentsAgent(JsonNodeReader reader, string name, JsonObject obj, string path)
    {
        reader.UnknownProperties(obj, path, s_agentsAgent, asErrors: true, "agent");
        ReadDescription(reader, obj, path);
        if (!obj.ContainsKey("allow"))
        {
            reader.Diagnostics.Warning(path, $"agent '{name}' has no 'allow' section and can use nothing.", "add \"allow\": {\"servers\": [...]}, or remove the agent.");
        }
        else if (obj["allow"] is JsonObject allow && !allow.ContainsKey("servers"))
        {
            string[] kinds = [.. s_itemSyntaxes.Where(k => allow.ContainsKey(k.Key)).Select(k => k.Key)];
            if (kinds.Length > 0)
            {
                // "tool rules ... these tools", "tool and prompt rules ... these tools and prompts".
                string singular = JoinWords(kinds.Select(k => k[..^1]));
                string plural = JoinWords(kinds);
                reader.Diagnostics.Warning(
                    JsonPath.Property(path, "allow"),
                    $"agent '{name}' has {singular} rules but no 'servers' list, so it may use no server and these {plural} stay out of reach.",
                    $"add \"servers\": [...] naming the servers whose {plural} it may use.");
            }
        }

        return new AgentRulesConfig
        {
            Name = name,
            SourcePath = path,
            Allow = obj.ContainsKey("allow") ? AccessList(reader, obj["allow"], JsonPath.Property(path, "allow")) : AccessListConfig.Empty,
            Deny = obj.ContainsKey("deny") ? AccessList(reader, obj["deny"], JsonPath.Property(path, "deny")) : AccessListConfig.Empty,
        };
    }

    private static AccessListConfig AccessList(JsonNodeReader reader, JsonNode? node, string path)
    {
        JsonObject? obj = reader.Object(node, path, "write {\"servers\": [...], \"tools\": {\"server\": [...]}}.");
        if (obj is null)
        {
            return AccessListConfig.Empty;
        }

        reader.UnknownProperties(obj, path, s_accessList, asErrors: true, "allow/deny");
        string serversPath = JsonPath.Property(path, "servers");
        IReadOnlyList<RulePattern>? servers = obj.ContainsKey("servers") ? Patterns(reader, obj["servers"], serversPath, ServersFix) : null;
        return new AccessListConfig
        {
            Servers = servers,
            Tools = PerServerItemRules(reader, obj, path, s_tools),
            Resources = PerServerItemRules(reader, obj, path, s_resources),
            Prompts = PerServerItemRules(reader, obj, path, s_prompts),
            ServersSource = serversPath,
            SourcePath = path,
        };
    }

    /// <summary>An allow or deny list's <c>tools</c>, <c>resources</c> or <c>prompts</c>: always an object keyed by server.</summary>
    private static List<ItemRuleConfig> PerServerItemRules(JsonNodeReader reader, JsonObject obj, string path, ItemSyntax syntax)
    {
        if (!obj.ContainsKey(syntax.Key))
        {
            return [];
        }

        string itemsPath = JsonPath.Property(path, syntax.Key);
        JsonObject? perServer = reader.Object(obj[syntax.Key], itemsPath, syntax.MapFix);
        return perServer is null ? [] : ItemRules(reader, perServer, itemsPath, syntax.ListFix);
    }

    private static List<ItemRuleConfig> ItemRules(JsonNodeReader reader, JsonObject perServer, string path, string fix)
    {
        var rules = new List<ItemRuleConfig>(perServer.Count);
        foreach ((string server, JsonNode? list) in perServer)
        {
            string serverPath = JsonPath.Property(path, server);
            if (server.Length == 0)
            {
                reader.Diagnostics.Error(serverPath, "the server key is empty.", "write the server's name as the key.");
                continue;
            }

            rules.Add(new ItemRuleConfig(new RulePattern(server, serverPath), Patterns(reader, list, serverPath, fix)));
        }

        return rules;
    }

    /// <summary>An array of patterns, or the single string "*" as shorthand for ["*"].</summary>
    private static IReadOnlyList<RulePattern> Patterns(JsonNodeReader reader, JsonNode? node, string path, string fix)
    {
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            string text = value.GetValue<string>();
            if (text == "*")
            {
                return [new RulePattern("*", path)];
            }

            if (reader.IsSubstituted(path))
            {
                // Never echo what came from the environment.
                reader.Diagnostics.Error(path, "a single string here must be \"*\", not the value it has (from the environment).", "write an array with one entry: [\"${NAME}\"].");
            }
            else
            {
                reader.Diagnostics.Error(path, $"a single string here must be \"*\", not '{text}'.", $"write [\"{text}\"] for one entry.");
            }

            return [];
        }

        if (node is not JsonArray array)
        {
            reader.Diagnostics.Error(path, $"expected an array but found {JsonNodeReader.Describe(node)}.", fix);
            return [];
        }

        var patterns = new List<RulePattern>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            string itemPath = JsonPath.Index(path, i);
            string? pattern = reader.String(array[i], itemPath, fix);
            if (pattern is null)
            {
                continue;
            }

            if (pattern.Trim().Length != pattern.Length)
            {
                reader.Diagnostics.Error(
                    itemPath,
                    $"{Shown(reader, itemPath, pattern)} has leading or trailing spaces; names are matched exactly.",
                    reader.IsSubstituted(itemPath) ? "remove the spaces from the variable's value." : $"write \"{pattern.Trim()}\".");
                continue;
            }

            patterns.Add(new RulePattern(pattern, itemPath));
        }

        return patterns;
    }

    /// <summary>How a message names a value: quoted, or (when it came from the environment, and may be a secret) not at all.</summary>
    private static string Shown(JsonNodeReader reader, string path, string value) =>
        reader.IsSubstituted(path) ? "the value (from the environment)" : $"'{value}'";

    private static string JoinWords(IEnumerable<string> words)
    {
        string[] all = [.. words];
        return all.Length == 1 ? all[0] : string.Join(", ", all[..^1]) + " and " + all[^1];
    }

    private static void ReadDescription(JsonNodeReader reader, JsonObject obj, string path)
    {
        if (obj.ContainsKey("description"))
        {
            reader.String(obj["description"], JsonPath.Property(path, "description"), "write a short sentence.", allowEmpty: true);
        }
    }

    private static void WarnAboutGatewayTools(JsonNodeReader reader, IReadOnlyList<RulePattern> patterns)
    {
        foreach (RulePattern pattern in patterns)
        {
            if (pattern.Pattern is "list_servers" or "get_server_tools" or "execute_tool")
            {
                reader.Diagnostics.Warning(pattern.Source, $"'{pattern.Pattern}' is one of the gateway's own tools, which every known agent has; this entry matches downstream tools only.", "remove it.");
            }
        }
    }

    private static RulesDefaultsConfig ParseDefaults(JsonNodeReader reader, JsonNode? node, bool present, List<AgentRulesConfig> agents)
    {
        if (!present)
        {
            return new RulesDefaultsConfig();
        }

        const string path = "$.defaults";
        JsonObject? obj = reader.Object(node, path, "write {\"default_agent\": \"name\", \"deny_on_missing_agent\": true}.");
        if (obj is null)
        {
            return new RulesDefaultsConfig();
        }

        reader.UnknownProperties(obj, path, s_defaults, asErrors: true, "defaults");
        bool deny = true;
        if (obj.ContainsKey("deny_on_missing_agent"))
        {
            string denyPath = JsonPath.Property(path, "deny_on_missing_agent");
            deny = reader.Boolean(obj["deny_on_missing_agent"], denyPath) ?? true;
            if (!deny)
            {
                reader.Diagnostics.Warning(
                    denyPath,
                    "false is accepted, but agents that are not in the rules are still denied everything: this gateway never gives an unknown agent access.",
                    "to serve callers that give no identity, set \"default_agent\" to an agent with the rights they should have.");
            }
        }

        string? defaultAgent = null;
        if (obj.ContainsKey("default_agent"))
        {
            string agentPath = JsonPath.Property(path, "default_agent");
            defaultAgent = reader.String(obj["default_agent"], agentPath, "write the name of an agent defined in this file.");
            if (defaultAgent is not null && !agents.Exists(a => a.Name == defaultAgent))
            {
                string? closest = JsonNodeReader.Closest(defaultAgent, agents.Select(a => a.Name));
                reader.Diagnostics.Error(
                    agentPath,
                    $"{Shown(reader, agentPath, defaultAgent)} is not an agent in this file (names are case-sensitive).",
                    closest is not null ? $"did you mean '{closest}'?" : "define the agent, or name one that is defined.");
            }
        }

        return new RulesDefaultsConfig { DenyOnMissingAgent = deny, DefaultAgent = defaultAgent };
    }

    /// <summary>How one kind of item is written, and what to say when it is written wrong.</summary>
    private sealed record ItemSyntax(ItemKind Kind, string Key, string ListFix, string SeedValueFix, string SeedShapeFix, string MapFix);
}
