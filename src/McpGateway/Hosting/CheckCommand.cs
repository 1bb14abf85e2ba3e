using System.CommandLine;
using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Policy;

namespace McpGateway.Hosting;

/// <summary>
/// <c>mcp-gateway check --agent NAME [--server S [--tool T]] [--json]</c>: what the rules let an agent use, and why,
/// without connecting to any server.
/// </summary>
internal static class CheckCommand
{
    public static Command Create(DiscoveryEnvironment environment)
    {
        var options = new ConfigOptions();
        var agent = new Option<string>("--agent", "-a") { Description = "The agent to check.", Required = true, HelpName = "NAME" };
        var server = new Option<string?>("--server", "-s") { Description = "One server to check (default: every configured server).", HelpName = "SERVER" };
        var tool = new Option<string?>("--tool", "-t") { Description = "One tool of --server to check, by its name on that server.", HelpName = "TOOL" };
        var json = new Option<bool>("--json") { Description = "Print JSON: one object per decision {\"agent\",\"server\",\"tool\",\"allowed\",\"reason\"}." };
        var command = new Command("check", "Show which servers (and tools) an agent may use and which rule decides, without connecting to any server.");
        options.AddTo(command);
        command.Options.Add(agent);
        command.Options.Add(server);
        command.Options.Add(tool);
        command.Options.Add(json);
        command.Validators.Add(result =>
        {
            if (result.GetValue(tool) is not null && result.GetValue(server) is null)
            {
                result.AddError("--tool needs --server: tool rules are per server.");
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
            string? toolName = parse.GetValue(tool);
            bool asJson = parse.GetValue(json);

            if (serverName is not null)
            {
                PolicyDecision decision = toolName is null
                    ? snapshot.Policy.DecideServer(agentName, serverName)
                    : snapshot.Policy.DecideTool(agentName, serverName, toolName);
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
            if (asJson)
            {
                WriteJson(output, decisions, asArray: true);
                return ExitCodes.Success;
            }

            WriteTable(output, snapshot, agentName, decisions);
            return ExitCodes.Success;
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
                foreach (string line in DescribeToolRules(policy.Rules, decision.Server))
                {
                    output.WriteLine($"  {new string(' ', width)}            {line}");
                }
            }
        }
    }

    // Tools are only known once the server runs; what can be said now is which tool rules apply.
    private static IEnumerable<string> DescribeToolRules(AgentRulesConfig rules, string server)
    {
        bool anyAllow = false;
        foreach (ToolRuleConfig rule in rules.Allow.Tools.Where(r => Glob.IsMatch(r.Server.Pattern, server)))
        {
            anyAllow = true;
            yield return $"tools allowed: {string.Join(", ", rule.Tools.Select(t => t.Pattern))}  ({rule.Server.Source})";
        }

        foreach (ToolRuleConfig rule in rules.Deny.Tools.Where(r => Glob.IsMatch(r.Server.Pattern, server)))
        {
            yield return $"tools denied:  {string.Join(", ", rule.Tools.Select(t => t.Pattern))}  ({rule.Server.Source})";
        }

        if (!anyAllow)
        {
            yield return "tools allowed: all (no tool list restricts this server)";
        }
    }

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
