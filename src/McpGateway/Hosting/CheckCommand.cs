using System.CommandLine;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Policy;

namespace McpGateway.Hosting;

/// <summary>
/// <c>mcp-gateway check --agent NAME [--server S [--tool T | --prompt P | --resource URI]] [--json]</c>: what the rules
/// let an agent use, and why, without connecting to any server.
/// </summary>
internal static class CheckCommand
{
    // The order the table lists each allowed server's rules in.
    private static readonly ItemKind[] s_itemKinds = [ItemKind.Tool, ItemKind.Resource, ItemKind.Prompt];

    public static Command Create(DiscoveryEnvironment environment)
    {
        var options = new ConfigOptions();
        var agent = new Option<string>("--agent", "-a") { Description = "The agent to check.", Required = true, HelpName = "NAME" };
        var server = new Option<string?>("--server", "-s") { Description = "One server to check (default: every configured server).", HelpName = "SERVER" };
        var tool = new Option<string?>("--tool", "-t") { Description = "One tool of --server to check, by its name on that server.", HelpName = "TOOL" };
        var prompt = new Option<string?>("--prompt") { Description = "One prompt of --server to check, by its name on that server.", HelpName = "PROMPT" };
        var resource = new Option<string?>("--resource") { Description = "One resource of --server to check, by its URI (or a resource template's uriTemplate).", HelpName = "URI" };
        var json = new Option<bool>("--json") { Description = "Print JSON: one object per decision {\"agent\",\"server\",\"kind\",\"item\",\"tool\",\"allowed\",\"reason\"}." };
        var command = new Command("check", "Show which servers (and tools, prompts, resources) an agent may use and which rule decides, without connecting to any server.");
        options.AddTo(command);
        command.Options.Add(agent);
        command.Options.Add(server);
        command.Options.Add(tool);
        command.Options.Add(prompt);
        command.Options.Add(resource);
        command.Options.Add(json);
        (Option<string?> Option, string Kind)[] items = [(tool, "tool"), (prompt, "prompt"), (resource, "resource")];
        command.Validators.Add(result =>
        {
            (Option<string?> Option, string Kind)[] given = [.. items.Where(i => result.GetValue(i.Option) is not null)];
            if (given.Length > 1)
            {
                result.AddError("--tool, --prompt and --resource are mutually exclusive: check one item at a time.");
            }
            else if (given.Length == 1 && result.GetValue(server) is null)
            {
                result.AddError($"--{given[0].Kind} needs --server: {given[0].Kind} rules are per server.");
            }
        });
        command.SetAction(parse =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter error = parse.InvocationConfiguration.Error;
            ConfigLoadResult<ConfigurationSnapshot> result = options.Load(parse, error, environment);
            if (!result.Succeeded)
            {
                error.WriteLine("cannot check: the configuration is invalid (see above).");
                return ExitCodes.InvalidConfiguration;
            }

            ConfigurationSnapshot snapshot = result.Value!;
            string agentName = parse.GetRequiredValue(agent);
            string? serverName = parse.GetValue(server);
            bool asJson = parse.GetValue(json);

            if (serverName is not null)
            {
                PolicyDecision decision = parse.GetValue(tool) is { } toolName ? snapshot.Policy.DecideTool(agentName, serverName, toolName)
                    : parse.GetValue(prompt) is { } promptName ? snapshot.Policy.DecidePrompt(agentName, serverName, promptName)
                    : parse.GetValue(resource) is { } uri ? snapshot.Policy.DecideResource(agentName, serverName, uri)
                    : snapshot.Policy.DecideServer(agentName, serverName);
                if (snapshot.Servers.Find(serverName) is null)
                {
                    error.WriteLine($"note: '{serverName}' is not a configured server; the answer shows what the rules say about that name.");
                }

                if (asJson)
                {
                    WriteJson(output, [decision]);
                }
                else
                {
                    output.WriteLine($"{(decision.IsAllowed ? "ALLOWED" : "DENIED")}  {decision.Reason}");
                }

                return decision.IsAllowed ? ExitCodes.Success : ExitCodes.Denied;
            }

            var decisions = snapshot.Servers.Servers.Select(s => snapshot.Policy.DecideServer(agentName, s.Name)).ToList();
            if (snapshot.Policy.FindAgent(agentName) is null)
            {
                // Most often a typo: say so, and fail, so a script checking an agent notices.
                string? closest = Configuration.JsonNodeReader.Closest(agentName, snapshot.Policy.Agents.Select(a => a.Name));
                error.WriteLine($"error: agent '{agentName}' is not in {snapshot.Rules.SourceFile}: it gets nothing.{(closest is null ? string.Empty : $" Did you mean '{closest}'?")} Names are case-sensitive.");
            }

            int exitCode = snapshot.Policy.FindAgent(agentName) is null ? ExitCodes.Denied : ExitCodes.Success;
            if (asJson)
            {
                WriteJson(output, decisions, asArray: true);
                return exitCode;
            }

            WriteTable(output, snapshot, agentName, decisions);
            return exitCode;
        });
        return command;
    }

    private static void WriteTable(TextWriter output, ConfigurationSnapshot snapshot, string agentName, List<PolicyDecision> decisions)
    {
        AgentPolicy? policy = snapshot.Policy.FindAgent(agentName);
        output.WriteLine(policy is null
            ? $"agent '{agentName}' is not in {snapshot.Rules.SourceFile}: it gets nothing."
            : $"agent '{agentName}' ({snapshot.Rules.SourceFile}):");
        if (decisions.Count == 0)
        {
            output.WriteLine("  no servers are configured.");
            return;
        }

        int width = Math.Max(6, decisions.Max(d => d.Server.Length));
        foreach (PolicyDecision decision in decisions)
        {
            ServerConfig config = snapshot.Servers.Find(decision.Server)!;
            string state = !config.Enabled ? "disabled" : decision.IsAllowed ? "allowed" : "denied";
            output.WriteLine($"  {decision.Server.PadRight(width)}  {state,-8}  {decision.Reason}");
            if (decision.IsAllowed && policy is not null)
            {
                foreach (string line in DescribeItemRules(policy, decision.Server))
                {
                    output.WriteLine($"  {new string(' ', width)}            {line}");
                }
            }
        }
    }

    // Tools, prompts and resources are only known once the server runs; what can be said now is which rules apply.
    private static IEnumerable<string> DescribeItemRules(AgentPolicy policy, string server)
    {
        foreach (ItemKind kind in s_itemKinds)
        {
            string word = kind switch { ItemKind.Tool => "tools", ItemKind.Resource => "resources", _ => "prompts" };
            foreach (ItemRuleConfig rule in policy.Rules.Allow.RulesFor(kind)!.Where(r => Glob.IsMatch(r.Server.Pattern, server)))
            {
                yield return $"{word} allowed: {Patterns(rule)}  ({rule.Server.Source})";
            }

            foreach (ItemRuleConfig rule in policy.Rules.Deny.RulesFor(kind)!.Where(r => Glob.IsMatch(r.Server.Pattern, server)))
            {
                yield return $"{word} denied:  {Patterns(rule)}  ({rule.Server.Source})";
            }

            ItemAccess access = policy.ItemRules(server, kind);
            if (access.HasAllowList)
            {
                continue;
            }

            yield return kind == ItemKind.Tool ? "tools allowed: all (no tool list restricts this server)"
                : access.WithheldBy is not null ? $"{word}: withheld (tools restricted by an allow list)  ({access.WithheldBy})"
                : $"{word} allowed: all (no list restricts this server)";
        }
    }

    private static string Patterns(ItemRuleConfig rule) => rule.Patterns.Count == 0 ? "none" : string.Join(", ", rule.Patterns.Select(p => p.Pattern));

    private static void WriteJson(TextWriter output, IReadOnlyList<PolicyDecision> decisions, bool asArray = false)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            if (asArray)
            {
                writer.WriteStartArray();
            }

            foreach (PolicyDecision decision in decisions)
            {
                writer.WriteStartObject();
                writer.WriteString("agent", decision.Agent);
                writer.WriteString("server", decision.Server);
                writer.WriteString("kind", decision.Item switch
                {
                    ItemKind.Tool => "tool",
                    ItemKind.Prompt => "prompt",
                    ItemKind.Resource => "resource",
                    _ => "server",
                });
                if (decision.ItemName is null)
                {
                    writer.WriteNull("item");
                }
                else
                {
                    writer.WriteString("item", decision.ItemName);
                }

                if (decision.Tool is null)
                {
                    writer.WriteNull("tool");
                }
                else
                {
                    writer.WriteString("tool", decision.Tool);
                }

                writer.WriteBoolean("allowed", decision.IsAllowed);
                writer.WriteString("reason", decision.Reason);
                writer.WriteEndObject();
            }

            if (asArray)
            {
                writer.WriteEndArray();
            }
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
