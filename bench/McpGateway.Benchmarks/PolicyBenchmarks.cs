using BenchmarkDotNet.Attributes;
using McpGateway.Configuration;
using McpGateway.Policy;

namespace McpGateway.Benchmarks;

/// <summary>One policy decision, with rules of realistic size: 1,000 agents, 100 servers.</summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private PolicySnapshot _policy = null!;
    private AgentPolicy _agent = null!;

    [GlobalSetup]
    public void Setup()
    {
        string[] servers = [.. Enumerable.Range(0, 100).Select(i => $"server-{i:D3}")];
        _policy = Scale.Policy(servers, agents: 1000);
        _agent = _policy.FindAgent("agent-0500")!;
    }

    /// <summary>Agent looked up by name, then server and tool steps (explicit deny, pattern deny, explicit allow, pattern allow).</summary>
    [Benchmark(Baseline = true)]
    public bool DecideTool_ByAgentName() => _policy.DecideTool("agent-0500", "server-042", "read_thing_07").IsAllowed;

    /// <summary>The hot path's form: the session already holds its agent's compiled rules.</summary>
    [Benchmark]
    public bool DecideTool_CompiledAgent() => _agent.DecideTool("server-042", "read_thing_07").IsAllowed;

    [Benchmark]
    public bool DecideTool_DeniedByPattern() => _agent.DecideTool("server-042", "delete_thing_07").IsAllowed;

    [Benchmark]
    public bool DecideTool_UnknownAgent() => _policy.DecideTool("nobody", "server-042", "read_thing_07").IsAllowed;

    /// <summary>A prompt allowed by a pattern of the server's prompt list.</summary>
    [Benchmark]
    public bool DecidePrompt_AllowedByPattern() => _agent.DecidePrompt("server-042", "summarize_thread").IsAllowed;

    /// <summary>A resource URI with slashes matched by a pattern (after the deny patterns are scanned).</summary>
    [Benchmark]
    public bool DecideResource_AllowedByPattern() => _agent.DecideResource("server-042", "file:///data/reports/2026/q1.csv").IsAllowed;

    /// <summary>The secure default: a resource of a server whose tools an allow list restricts, with no resource list.</summary>
    [Benchmark]
    public bool DecideResource_Withheld() => _agent.DecideResource("server-041", "file:///data/reports/2026/q1.csv").IsAllowed;
}

/// <summary>Rules and servers at the scale the load benchmark uses.</summary>
public static class Scale
{
    public static PolicySnapshot Policy(string[] servers, int agents)
    {
        var rules = new System.Text.StringBuilder("{\"agents\": {");
        for (int a = 0; a < agents; a++)
        {
            if (a > 0)
            {
                rules.Append(',');
            }

            // Each agent: a tenth of the servers by name plus a pattern, read tools allowed on some, deletes denied;
            // resources and prompts granted on one server, secrets and admin prompts denied everywhere.
            string named = string.Join(",", Enumerable.Range(0, 10).Select(k => $"\"{servers[(a + (k * 10)) % servers.Length]}\""));
            rules.Append($$$"""
                "agent-{{{a:D4}}}": {
                  "allow": {
                    "servers": [{{{named}}}, "server-04?"],
                    "tools": {"server-042": ["read_*", "list_*", "get_thing_01"], "server-04?": ["*_thing_0?"]},
                    "resources": {"server-042": ["memory://graph", "file:///data/*"]},
                    "prompts": {"server-042": ["review", "summarize_*"]}
                  },
                  "deny": {
                    "tools": {"*": ["delete_*", "drop_*"]},
                    "resources": {"*": ["file:///data/secrets/*"]},
                    "prompts": {"*": ["admin_*"]}
                  }
                }
                """);
        }

        rules.Append("}}");
        ConfigLoadResult<RulesConfig> parsed = ConfigurationLoader.ParseRules("bench-rules.json", rules.ToString(), _ => null);
        return PolicySnapshot.Compile(parsed.Value ?? throw new InvalidOperationException(string.Join("; ", parsed.Errors)), servers);
    }
}
