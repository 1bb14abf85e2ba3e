using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Audit;

/// <summary>How a load test calls the tool, and so which path answers.</summary>
public enum AuditedCall
{
    /// <summary>A plain <c>tools/call</c> of a stdio tool: the fast path takes it.</summary>
    Plain,

    /// <summary>The same call with a progress token in <c>_meta</c>: the fast path declines, the SDK path answers.</summary>
    Progress,

    /// <summary>The tool called through the gateway's <c>execute_tool</c>: always the SDK path.</summary>
    ExecuteTool,
}

/// <summary>
/// The audit under load (issue 10, item 10): 16 sessions calling at once, on every path, and after the gateway is
/// disposed the log holds exactly one record per call, none lost and none twice, whichever path answered it.
/// </summary>
[Collection(AuditLoadCollection.Name)]
public sealed class AuditLoadTests
{
    private const int Sessions = 16;
    private const int CallsPerSession = 500;
    private const string Rules = """{"agents": {"agent": {"allow": {"servers": ["fast"]}}}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Servers => TestServers.File(("fast", TestServers.Fixture("fast")));

    [Fact]
    public async Task HttpFastPath_UnderLoad_EveryCallHasExactlyOneRecord()
    {
        await using AuditedGateway gateway = await AuditedGateway.StartAsync(Servers, Rules, Ct, audit: new JsonObject { ["arguments"] = true }, keysFor: ["agent"]);
        TestKey key = gateway.Key("agent");

        LoadOutcome load = await RunLoadAsync(gateway, () => gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: key.Header), _ => AuditedCall.Plain);

        IReadOnlyList<JsonObject> records = await gateway.StopAndReadAllAsync();
        AssertOneRecordPerCall(gateway, load, records);
        Assert.Equal(load.Count(AuditedCall.Plain), load.Taken);
        Assert.All(records, r => Assert.Equal(key.CredentialId, r["credentialId"]?.GetValue<string>()));
        Assert.All(records, r => Assert.Equal("api-key", r["identitySource"]?.GetValue<string>()));
    }

    [Fact]
    public async Task HttpCallsTheFastPathDeclines_UnderLoad_EveryCallHasExactlyOneRecord()
    {
        await using AuditedGateway gateway = await AuditedGateway.StartAsync(Servers, Rules, Ct, audit: new JsonObject { ["arguments"] = true });

        LoadOutcome load = await RunLoadAsync(gateway, () => gateway.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "agent", cancellationToken: Ct), i => i % 2 == 0 ? AuditedCall.Progress : AuditedCall.ExecuteTool);

        IReadOnlyList<JsonObject> records = await gateway.StopAndReadAllAsync();
        AssertOneRecordPerCall(gateway, load, records);
        Assert.Equal(0, load.Taken);
    }

    [Fact]
    public async Task StdioCallsOnBothPaths_UnderLoad_EveryCallHasExactlyOneRecord_AndTheFastShareIsWhatTheFastPathTook()
    {
        var options = new GatewayOptions { Identity = new IdentityOptions { FixedAgent = "agent" } };
        await using AuditedGateway gateway = await AuditedGateway.StartAsync(Servers, Rules, Ct, audit: new JsonObject { ["arguments"] = true }, options: options);

        LoadOutcome load = await RunLoadAsync(gateway, () => gateway.Gateway.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct), i => i % 4 == 3 ? AuditedCall.Progress : AuditedCall.Plain);

        IReadOnlyList<JsonObject> records = await gateway.StopAndReadAllAsync();
        AssertOneRecordPerCall(gateway, load, records);
        Assert.Equal(load.Count(AuditedCall.Plain), load.Taken);
        Assert.Equal((long)(Sessions * CallsPerSession * 3 / 4), load.Taken);
        Assert.All(records, r => Assert.Equal("stdio-agent", r["identitySource"]?.GetValue<string>()));
    }

    [Fact]
    public async Task SmallMaxFileBytes_UnderLoad_RotatesAndTheFilesTogetherHoldEveryCall()
    {
        const long maxFileBytes = 16 * 1024;
        await using AuditedGateway gateway = await AuditedGateway.StartAsync(
            Servers, Rules, Ct, audit: new JsonObject { ["arguments"] = true, ["maxFileBytes"] = maxFileBytes, ["maxFiles"] = 1000 });

        LoadOutcome load = await RunLoadAsync(gateway, () => gateway.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "agent", cancellationToken: Ct), i => i % 8 == 7 ? AuditedCall.Progress : AuditedCall.Plain, callsPerSession: 100);

        IReadOnlyList<JsonObject> records = await gateway.StopAndReadAllAsync();
        IReadOnlyList<string> files = gateway.AuditFiles();
        AssertOneRecordPerCall(gateway, load, records);
        Assert.True(files.Count > 10, $"expected the log to rotate many times, found {files.Count} files");
        Assert.All(files, f => Assert.True(new FileInfo(f).Length <= maxFileBytes, $"{f} holds {new FileInfo(f).Length} bytes"));
    }

    /// <summary>
    /// The same checks for every load: each call was answered, the log lost and failed nothing, there is one
    /// <c>tools/call</c> record per call, and each call's unique argument is in exactly one record, whose item says
    /// how it was called.
    /// </summary>
    private static void AssertOneRecordPerCall(AuditedGateway gateway, LoadOutcome load, IReadOnlyList<JsonObject> records)
    {
        Assert.True(load.Failures.IsEmpty, string.Join(Environment.NewLine, load.Failures.Take(10)));
        Assert.Equal(0, gateway.Log.Failed);
        Assert.Equal(gateway.Log.Enqueued, gateway.Log.Written);

        JsonObject[] calls = [.. records.Where(r => r["method"]?.GetValue<string>() == RequestMethods.ToolsCall)];

        var byValue = calls
            .GroupBy(r => r["arguments"]?["message"]?.GetValue<string>() ?? "(no message)", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        string[] missing = [.. load.Calls.Keys.Where(v => !byValue.ContainsKey(v))];
        string[] twice = [.. byValue.Where(g => g.Value.Length > 1).Select(g => g.Key)];
        string[] unexpected = [.. byValue.Keys.Where(v => !load.Calls.ContainsKey(v))];
        Assert.True(missing.Length == 0, $"{missing.Length} calls have no record, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.True(twice.Length == 0, $"{twice.Length} calls have more than one record, e.g. {string.Join(", ", twice.Take(5))}");
        Assert.True(unexpected.Length == 0, $"{unexpected.Length} records match no call, e.g. {string.Join(", ", unexpected.Take(5))}");
        Assert.Equal(load.Calls.Count, calls.Length);
        Assert.Equal(load.Calls.Count, records.Count);

        foreach ((string value, AuditedCall kind) in load.Calls)
        {
            JsonObject record = byValue[value][0];
            Assert.Equal(kind == AuditedCall.ExecuteTool ? "fast/echo" : "fast_echo", record["item"]?.GetValue<string>());
            Assert.Equal("echo", record["originalItem"]?.GetValue<string>());
            Assert.Equal("allowed", record["decision"]?.GetValue<string>());
            Assert.Equal("result", record["outcome"]?.GetValue<string>());
            Assert.Equal("agent", record["agent"]?.GetValue<string>());
        }
    }

    /// <summary>
    /// Opens <see cref="Sessions"/> sessions and has each make its calls one after another, all sessions at once; each
    /// call carries a unique message, which the fast fixture echoes back and the audit records as its argument.
    /// </summary>
    private static async Task<LoadOutcome> RunLoadAsync(AuditedGateway gateway, Func<Task<McpClient>> connect, Func<int, AuditedCall> kindOf, int callsPerSession = CallsPerSession)
    {
        McpClient[] clients = await Task.WhenAll(Enumerable.Range(0, Sessions).Select(_ => connect()));
        var calls = new ConcurrentDictionary<string, AuditedCall>(StringComparer.Ordinal);
        var failures = new ConcurrentQueue<string>();
        long takenBefore = gateway.Forwarder.Taken;
        await Task.WhenAll(clients.Select((client, session) => Task.Run(async () =>
        {
            for (int i = 0; i < callsPerSession; i++)
            {
                AuditedCall kind = kindOf(i);
                string value = string.Create(CultureInfo.InvariantCulture, $"load-{session:D2}-{i:D4}-{kind}");
                calls[value] = kind;
                try
                {
                    JsonObject result = await CallAsync(client, kind, value);
                    string? text = result["content"]?[0]?["text"]?.GetValue<string>();
                    if (text != value)
                    {
                        failures.Enqueue($"{value}: answered {result.ToJsonString()}");
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    failures.Enqueue($"{value}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }, Ct)));

        return new LoadOutcome(calls, failures, gateway.Forwarder.Taken - takenBefore);
    }

    private static async Task<JsonObject> CallAsync(McpClient client, AuditedCall kind, string value)
    {
        var message = new JsonObject { ["message"] = value };
        JsonObject parameters = kind switch
        {
            AuditedCall.Plain => new JsonObject { ["name"] = "fast_echo", ["arguments"] = message },
            AuditedCall.Progress => new JsonObject { ["name"] = "fast_echo", ["arguments"] = message, ["_meta"] = new JsonObject { ["progressToken"] = "progress-" + value } },
            _ => new JsonObject { ["name"] = "execute_tool", ["arguments"] = new JsonObject { ["server"] = "fast", ["tool"] = "echo", ["args"] = message } },
        };
        JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = parameters }, Ct);
        return (JsonObject)response.Result!;
    }

    /// <summary>Every call made (its unique value and how it was called), the calls that went wrong, and how many the fast path took.</summary>
    private sealed record LoadOutcome(ConcurrentDictionary<string, AuditedCall> Calls, ConcurrentQueue<string> Failures, long Taken)
    {
        public long Count(AuditedCall kind) => Calls.Values.Count(k => k == kind);
    }
}

/// <summary>The load tests run one at a time: each puts 16 sessions of load on a two-core machine.</summary>
[CollectionDefinition(Name)]
public sealed class AuditLoadCollection
{
    public const string Name = "audit load";
}
