using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Conformance;

/// <summary>
/// The official MCP conformance suite against real processes: server mode against the conformance fixture directly and
/// against the gateway fronting it (empty prefix), and client mode against the gateway's downstream side. Every check
/// of every scenario must pass; the suite runs once per target and each scenario is judged from its checks.json.
/// </summary>
public sealed class ConformanceSuiteTests(ConformanceRuns runs) : IClassFixture<ConformanceRuns>
{
    public static TheoryData<string> ActiveServerScenarios() => new(ConformanceSuite.ActiveServerScenarios);

    public static TheoryData<string> ClientScenarios() => new(ConformanceSuite.ClientScenarios.Keys);

    [Theory]
    [MemberData(nameof(ActiveServerScenarios))]
    public async Task ServerScenario_AgainstTheFixture_EveryCheckPasses(string scenario)
    {
        ConformanceSuite.SkipUnlessInstalled();
        SuiteRun run = await runs.AgainstFixture.WaitAsync(TestContext.Current.CancellationToken);

        AssertScenarioPassed(run, scenario, "the conformance fixture");
    }

    [Theory]
    [MemberData(nameof(ActiveServerScenarios))]
    public async Task ServerScenario_ThroughTheGateway_EveryCheckPasses(string scenario)
    {
        ConformanceSuite.SkipUnlessInstalled();
        SuiteRun run = await runs.ThroughGateway.WaitAsync(TestContext.Current.CancellationToken);

        AssertScenarioPassed(run, scenario, "the gateway fronting the conformance fixture");
    }

    /// <summary>Guards the scenario list above: a new suite version with other active scenarios must update it.</summary>
    [Fact]
    public async Task ServerSuite_RunsExactlyTheActiveScenariosTheseTestsKnow()
    {
        ConformanceSuite.SkipUnlessInstalled();
        SuiteRun run = await runs.AgainstFixture.WaitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(ConformanceSuite.ActiveServerScenarios.Order(StringComparer.Ordinal), run.Scenarios.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Client mode: the suite serves a test server and runs the driver with its URL; the driver starts the gateway over
    /// stdio with that server as its only downstream server and, for tools_call, calls the tool through the gateway.
    /// </summary>
    [Theory]
    [MemberData(nameof(ClientScenarios))]
    public async Task ClientScenario_GatewayDownstreamSide_EveryCheckPasses(string scenario)
    {
        ConformanceSuite.SkipUnlessInstalled();

        SuiteRun run = await ConformanceSuite.RunClientScenarioAsync(scenario, [ConformanceSuite.Node, ConformanceSuite.GatewayClientDriver, RepoPaths.GatewayDll]);

        // A client that never reaches the suite's server produces no checks at all, which the suite counts as a pass.
        string required = ConformanceSuite.ClientScenarios[scenario];
        IReadOnlyList<Check> checks = run.Scenarios.GetValueOrDefault(scenario) ?? [];
        var problems = new List<string>();
        if (!checks.Any(c => c.Id == required && c.Status == "SUCCESS"))
        {
            problems.Add($"the required check '{required}' did not pass (it is missing when the client never reached the suite's server)");
        }

        problems.AddRange(checks.Where(c => c.Failed).Select(c => c.ToString()));
        if (run.ExitCode != 0)
        {
            problems.Add($"the suite exited with code {run.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(stopped)"}");
        }

        if (problems.Count > 0)
        {
            Assert.Fail($"Client scenario '{scenario}' through the gateway's downstream side failed:{Environment.NewLine}  " +
                string.Join(Environment.NewLine + "  ", problems) + Environment.NewLine + "Suite output (with the driver's and the gateway's):" + Environment.NewLine + run.Output);
        }
    }

    private static void AssertScenarioPassed(SuiteRun run, string scenario, string target)
    {
        if (!run.Scenarios.TryGetValue(scenario, out IReadOnlyList<Check>? checks))
        {
            Assert.Fail($"The suite wrote no checks.json for '{scenario}' against {target}.{Environment.NewLine}Suite output:{Environment.NewLine}{run.Output}{Environment.NewLine}Server log:{Environment.NewLine}{run.ServerLog}");
        }

        var problems = new List<string>();
        foreach (Check check in checks)
        {
            if (check.Failed)
            {
                problems.Add(check.ToString());
            }
            else if (PassedOnAnErrorResult(scenario, check))
            {
                problems.Add($"{check} but the tool result it judged is an error: {check.Details?["result"]?.ToJsonString()}");
            }
            else if (check.Status == "INFO" || MentionsJsonRpcError(check.Details))
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"{scenario}: {check} {check.Details?.ToJsonString()}");
            }
        }

        if (problems.Count == 0 && !checks.Any(c => c.Status == "SUCCESS"))
        {
            problems.Add("no check passed");
        }

        if (problems.Count > 0)
        {
            var message = new StringBuilder($"Scenario '{scenario}' against {target} did not pass ({checks.Count} checks):");
            foreach (string problem in problems)
            {
                message.AppendLine().Append("  ").Append(problem);
            }

            Assert.Fail(message.ToString());
        }
    }

    /// <summary>Some checks only look for a text in the result: an error result ("Tool not found") would pass them.</summary>
    private static bool PassedOnAnErrorResult(string scenario, Check check) =>
        check.Status == "SUCCESS" && scenario != "tools-call-error" && check.Details?["result"]?["isError"]?.GetValueKind() == System.Text.Json.JsonValueKind.True;

    /// <summary>A JSON-RPC error anywhere in the details, also inside SSE event data: worth a note even when the check passed.</summary>
    private static bool MentionsJsonRpcError(JsonNode? node) => node switch
    {
        JsonObject obj => obj["error"] is JsonObject error && error.ContainsKey("code") || obj.Any(p => MentionsJsonRpcError(p.Value)),
        JsonArray array => array.Any(MentionsJsonRpcError),
        JsonValue value when value.TryGetValue(out string? text) && text.StartsWith('{') => MentionsJsonRpcError(ParseOrNull(text)),
        _ => false,
    };

    private static JsonNode? ParseOrNull(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}

/// <summary>The suite's server-mode runs the tests share: each target is started and tested once, on first use.</summary>
public sealed partial class ConformanceRuns
{
    private readonly Lazy<Task<SuiteRun>> _againstFixture = new(RunAgainstFixtureAsync);
    private readonly Lazy<Task<SuiteRun>> _throughGateway = new(RunThroughGatewayAsync);

    internal Task<SuiteRun> AgainstFixture => _againstFixture.Value;

    internal Task<SuiteRun> ThroughGateway => _throughGateway.Value;

    private static async Task<SuiteRun> RunAgainstFixtureAsync()
    {
        await using ChildProcess fixture = ChildProcess.Start(RepoPaths.FixtureServer, ["conformance", "--http", "0"]);
        Match ready = await fixture.WaitForLineAsync(FixtureReady());
        SuiteRun run = await ConformanceSuite.RunServerSuiteAsync(new Uri(ready.Groups["url"].Value));
        return run with { ServerLog = fixture.Output };
    }

    /// <summary>The gateway as users run it, over HTTP, with the fixture as its only server (stdio, empty prefix) and every server allowed to callers without identity.</summary>
    private static async Task<SuiteRun> RunThroughGatewayAsync()
    {
        DirectoryInfo config = Directory.CreateTempSubdirectory("mcp-conformance-gateway-");
        try
        {
            JsonObject fixture = TestServers.Fixture("conformance");
            fixture["prefix"] = string.Empty;
            string servers = Path.Combine(config.FullName, "servers.json");
            string rules = Path.Combine(config.FullName, "rules.json");
            await File.WriteAllTextAsync(servers, TestServers.File(("conformance", fixture)));
            await File.WriteAllTextAsync(rules, """{"agents": {"default": {"allow": {"servers": ["*"]}}}}""");

            await using ChildProcess gateway = ChildProcess.Start("dotnet", [RepoPaths.GatewayDll, "serve", "--config", servers, "--rules", rules, "--http", "0"]);
            Match ready = await gateway.WaitForLineAsync(GatewayReady());
            SuiteRun run = await ConformanceSuite.RunServerSuiteAsync(new Uri(ready.Groups["url"].Value));
            return run with { ServerLog = gateway.Output };
        }
        finally
        {
            config.Delete(recursive: true);
        }
    }

    [GeneratedRegex(@"conformance fixture ready on (?<url>http://\S+)")]
    private static partial Regex FixtureReady();

    [GeneratedRegex(@"mcp-gateway ready on (?<url>http://\S+) \(")]
    private static partial Regex GatewayReady();
}
