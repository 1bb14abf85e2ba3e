using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpGateway.Benchmarks;

/// <summary>100 servers × 100 tools = 10,000 tools, rules for 1,000 agents: one agent's tools/list, and routing a call.</summary>
[MemoryDiagnoser]
public class CatalogBenchmarks
{
    private ConfigurationSnapshot _config = null!;
    private ToolCatalog _catalog = null!;
    private GatewayTools _gatewayTools = null!;
    private GatewayState _warm = null!;

    [GlobalSetup]
    public void Setup()
    {
        string[] names = [.. Enumerable.Range(0, 100).Select(i => $"server-{i:D3}")];
        var servers = new ServersConfig { Servers = [.. names.Select(n => new ServerConfig { Name = n, Transport = ServerTransport.Stdio, Command = "x" })] };
        var options = new GatewayOptions();
        var downstream = servers.Servers.Select(s => new DownstreamServer(s, options.Downstream, NullLoggerFactory.Instance, TimeProvider.System)).ToList();
        string[] verbs = ["read", "list", "get", "delete", "update", "create", "search", "drop", "sync", "find"];
        foreach (DownstreamServer server in downstream)
        {
            server.SetLastKnownTools([.. Enumerable.Range(0, 100).Select(t =>
            {
                string name = $"{verbs[t % 10]}_thing_{t / 10:D2}";
                var definition = (JsonObject)JsonNode.Parse($$$"""{"name":"{{{name}}}","description":"Does {{{name}}}.","inputSchema":{"type":"object","properties":{"id":{"type":"string"},"limit":{"type":"integer"}},"required":["id"]}}""")!;
                return new DownstreamTool(name, definition);
            })]);
        }

        PolicySnapshot policy = Scale.Policy(names, agents: 1000);
        _config = new ConfigurationSnapshot(servers, policy.Rules, policy);
        _catalog = ToolCatalog.Build(downstream, "_", new HashSet<string>(GatewayTools.Names), NullLogger.Instance, []);
        _gatewayTools = new GatewayTools(options);
        _warm = NewState();
        _warm.ToolsFor("agent-0500");
    }

    /// <summary>Building one agent's tools/list from 10,000 tools (done once per agent per configuration change).</summary>
    [Benchmark]
    public int ToolsList_FirstForAnAgent() => NewState().ToolsFor("agent-0500").GetArrayLength();

    /// <summary>Every later tools/list of that agent: the cached, serialised list.</summary>
    [Benchmark]
    public JsonValueKind ToolsList_Cached() => _warm.ToolsFor("agent-0500").ValueKind;

    /// <summary>Resolving an exposed tool name to its server and tool (exact lookup, never splitting on '_').</summary>
    [Benchmark]
    public bool Route_ExposedName() => _catalog.TryRoute("server-042_read_thing_07", out _);

    /// <summary>The whole tool-call decision (identity given, route, policy, budget): what a tools/call costs before it leaves the gateway.</summary>
    [Benchmark]
    public bool Route_AndDecide() => s_gate.AdmitAsync(s_gate.Decide(_warm, s_caller, "server-042_read_thing_07")).Result.IsAllowed;

    private static readonly ToolCallGate s_gate = new(CallRateLimiter.Unlimited);
    private static readonly McpGateway.Identity.Caller s_caller = new("agent-0500", McpGateway.Identity.IdentitySource.ApiKey, "key:00000000");

    private GatewayState NewState() =>
        new(_config, _catalog, PromptCatalog.Build([], "_", NullLogger.Instance, []), ResourceCatalog.Build([]), 0, _gatewayTools, ExposureMode.Proxy);
}
