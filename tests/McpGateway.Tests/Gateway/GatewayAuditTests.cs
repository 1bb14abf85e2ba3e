using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.Tests.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Gateway;

/// <summary>
/// The audit builders with a real audit log writing to a file: one record per decision, with the facts of the
/// decision and the outcome, the latency on the injected clock, a session fingerprint instead of the session id, and
/// arguments only when the operator asked for them.
/// </summary>
public sealed class GatewayAuditTests : IAsyncDisposable
{
    private const string SessionId = "0f8e2b5c-session-id-that-is-a-secret";

    private readonly TempFolder _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 7, 28, 10, 0, 0, TimeSpan.Zero));
    private readonly GatewayStates _states = new();
    private readonly GatewayState _state;
    private readonly ToolCallGate _gate = new(CallRateLimiter.Unlimited);
    private readonly GatewaySession _session = new(stateless: false) { SessionId = SessionId, ClientAddress = "10.0.0.9" };

    public GatewayAuditTests() => _state = _states.Build();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ToolCall_Allowed_RecordsTheDecisionTheRouteAndTheOutcome()
    {
        ToolCallDecision decision = _gate.Decide(_state, new Caller("alpha", IdentitySource.ApiKey, CredentialId: "key:0a"), "db_query");

        JsonObject record = await WriteOneAsync(audit => audit.ToolCall(decision, _session, "10.0.0.9", Received(250), 120, CallOutcome.Result(2048)));

        Assert.Equal(new DateTimeOffset(2026, 7, 28, 10, 0, 0, 250, TimeSpan.Zero), DateTimeOffset.Parse(record["time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("alpha", record["agent"]!.GetValue<string>());
        Assert.Equal("api-key", record["identitySource"]!.GetValue<string>());
        Assert.Equal("key:0a", record["credentialId"]!.GetValue<string>());
        Assert.Equal(_session.Fingerprint, record["session"]!.GetValue<string>());
        Assert.Equal("10.0.0.9", record["clientAddress"]!.GetValue<string>());
        Assert.Equal("tools/call", record["method"]!.GetValue<string>());
        Assert.Equal("db", record["server"]!.GetValue<string>());
        Assert.Equal("db_query", record["item"]!.GetValue<string>());
        Assert.Equal("query", record["originalItem"]!.GetValue<string>());
        Assert.Equal("allowed", record["decision"]!.GetValue<string>());
        Assert.StartsWith("allowed:", record["rule"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("result", record["outcome"]!.GetValue<string>());
        Assert.Equal(250, record["latencyMs"]!.GetValue<double>());
        Assert.Equal(120, record["requestBytes"]!.GetValue<long>());
        Assert.Equal(2048, record["responseBytes"]!.GetValue<long>());
        Assert.DoesNotContain(SessionId, record.ToJsonString(), StringComparison.Ordinal);
        Assert.False(record.ContainsKey("arguments"));
    }

    [Fact]
    public async Task ToolCall_HiddenTool_IsRecordedAsDenied_ThoughTheAgentWasToldUnknown()
    {
        ToolCallDecision decision = _gate.Decide(_state, new Caller("alpha", IdentitySource.Header), "db_drop_table");

        JsonObject record = await WriteOneAsync(audit => audit.ToolCall(decision, _session, null, Received(1), 80, new CallOutcome(AuditOutcome.ProtocolError, -32602, "Unknown tool: 'db_drop_table'")));

        Assert.Equal("denied", record["decision"]!.GetValue<string>());
        Assert.StartsWith("denied:", record["rule"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("drop_table", record["originalItem"]!.GetValue<string>());
        Assert.Equal("protocol-error", record["outcome"]!.GetValue<string>());
        Assert.Equal(-32602, record["errorCode"]!.GetValue<int>());
        Assert.Equal("Unknown tool: 'db_drop_table'", record["error"]!.GetValue<string>());
        Assert.Equal("header", record["identitySource"]!.GetValue<string>());
    }

    [Fact]
    public async Task ToolCall_UnknownTool_HasNoServer_AndSaysThereIsNoSuchTool()
    {
        ToolCallDecision decision = _gate.Decide(_state, new Caller("alpha", IdentitySource.Header), "nothing_at_all");

        JsonObject record = await WriteOneAsync(audit => audit.ToolCall(decision, _session, null, Received(1), 80, new CallOutcome(AuditOutcome.ProtocolError, -32602)));

        Assert.Equal("unknown", record["decision"]!.GetValue<string>());
        Assert.Equal("no such tool", record["rule"]!.GetValue<string>());
        Assert.False(record.ContainsKey("server"));
        Assert.False(record.ContainsKey("originalItem"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ToolCall_Arguments_AreRecordedRedacted_OnlyWhenTheOperatorAskedForThem(bool includeArguments)
    {
        ToolCallDecision decision = _gate.Decide(_state, new Caller("alpha", IdentitySource.Header), "db_query");
        JsonNode arguments = JsonNode.Parse("""{"sql": "select 1", "password": "hunter2"}""")!;

        JsonObject record = await WriteOneAsync(audit => audit.ToolCall(decision, _session, null, Received(1), 80, CallOutcome.Result(), arguments), includeArguments);

        Assert.DoesNotContain("hunter2", record.ToJsonString(), StringComparison.Ordinal);
        if (includeArguments)
        {
            Assert.Equal("select 1", record["arguments"]!["sql"]!.GetValue<string>());
            Assert.Equal("[redacted]", record["arguments"]!["password"]!.GetValue<string>());
        }
        else
        {
            Assert.False(record.ContainsKey("arguments"));
        }
    }

    [Fact]
    public async Task Request_AllowedToolCall_IsTheSameRecordTheFastPathWrites()
    {
        ToolCallDecision decision = _gate.Decide(_state, new Caller("alpha", IdentitySource.Header), "db_query");
        long receivedAt = Received(40);
        GatewayRequest request = Request(RequestMethods.ToolsCall, receivedAt);
        request.Audit.Caller = decision.Caller;
        request.Audit.Tool = decision;

        JsonObject viaRequest = await WriteOneAsync(audit => audit.Request(request, CallOutcome.Result(99), 150));
        JsonObject viaToolCall = await WriteOneAsync(audit => audit.ToolCall(decision, _session, "10.0.0.9", receivedAt, 150, CallOutcome.Result(99)));

        Assert.True(JsonNode.DeepEquals(viaToolCall, viaRequest), $"{viaToolCall.ToJsonString()}\n{viaRequest.ToJsonString()}");
    }

    [Fact]
    public async Task Request_OtherThanAToolCall_IsBuiltFromWhatTheHandlersDecided()
    {
        GatewayRequest request = Request(RequestMethods.ResourcesRead, Received(5));
        request.Audit.Caller = new Caller("beta", IdentitySource.Session);
        request.Audit.Deny("denied", "no rule allows this resource", server: "db", item: "gateway://db/secret");

        JsonObject record = await WriteOneAsync(audit => audit.Request(request, new CallOutcome(AuditOutcome.ProtocolError, -32002), 64));

        Assert.Equal("beta", record["agent"]!.GetValue<string>());
        Assert.Equal("session", record["identitySource"]!.GetValue<string>());
        Assert.Equal("resources/read", record["method"]!.GetValue<string>());
        Assert.Equal("db", record["server"]!.GetValue<string>());
        Assert.Equal("gateway://db/secret", record["item"]!.GetValue<string>());
        Assert.Equal("denied", record["decision"]!.GetValue<string>());
        Assert.Equal("no rule allows this resource", record["rule"]!.GetValue<string>());
        Assert.Equal(5, record["latencyMs"]!.GetValue<double>());
    }

    [Fact]
    public async Task Request_RefusedIdentity_NamesTheAgentTheRequestReallyIs()
    {
        GatewayRequest request = Request(RequestMethods.ToolsList, Received(1));
        request.Audit.Caller = new Caller(null, IdentitySource.ApiKey, "key:0a", IdentityRefusal.Impersonation, "no", ClaimedAgent: "beta", EstablishedAgent: "alpha");
        request.Audit.Deny("refused", "impersonation");

        JsonObject record = await WriteOneAsync(audit => audit.Request(request, new CallOutcome(AuditOutcome.ProtocolError, -32602), 10));

        Assert.Equal("alpha", record["agent"]!.GetValue<string>());
        Assert.Equal("refused", record["decision"]!.GetValue<string>());
        Assert.Equal("key:0a", record["credentialId"]!.GetValue<string>());
    }

    [Fact]
    public async Task HttpRefused_IsARefusalWithTheHttpStatus()
    {
        JsonObject record = await WriteOneAsync(audit => audit.HttpRefused(null, "none", null, "10.0.0.9", "the session limit", 429));

        Assert.Equal("http", record["method"]!.GetValue<string>());
        Assert.Equal("refused", record["decision"]!.GetValue<string>());
        Assert.Equal("the session limit", record["rule"]!.GetValue<string>());
        Assert.Equal("refused", record["outcome"]!.GetValue<string>());
        Assert.Equal(429, record["errorCode"]!.GetValue<int>());
        Assert.False(record.ContainsKey("agent"));
    }

    [Fact]
    public async Task WithoutALog_NothingIsWritten_AndArgumentsAreNotAskedFor()
    {
        var audit = new GatewayAudit(_clock, includeArguments: true);
        ToolCallDecision decision = _gate.Decide(_state, new Caller("alpha", IdentitySource.Header), "db_query");

        await audit.ToolCall(decision, _session, null, Received(1), 1, CallOutcome.Result());
        await audit.HttpRefused(null, "none", null, null, "x", 400);

        Assert.False(audit.Enabled);
        Assert.False(audit.IncludeArguments);
        Assert.Empty(Directory.GetFiles(_folder.Path));
    }

    /// <summary>A timestamp <paramref name="milliseconds"/> before the clock's now: the request's latency once written.</summary>
    private long Received(int milliseconds)
    {
        long at = _clock.GetTimestamp();
        _clock.Advance(TimeSpan.FromMilliseconds(milliseconds));
        return at;
    }

    private GatewayRequest Request(string method, long receivedAt) =>
        new(_session, new JsonRpcRequest { Id = new RequestId(1), Method = method }, IdentityClaims.None, NoUpstream.Instance)
        {
            ClientAddress = "10.0.0.9",
            ReceivedAt = receivedAt,
        };

    private async Task<JsonObject> WriteOneAsync(Func<GatewayAudit, ValueTask> write, bool includeArguments = false)
    {
        string path = _folder.File(Guid.NewGuid().ToString("N") + ".jsonl");
        await using (var log = new AuditLog(new AuditOptions { Path = path, IncludeArguments = includeArguments }, new ListLogger()))
        {
            await write(new GatewayAudit(_clock, includeArguments, log));
            await log.FlushAsync(Ct);
        }

        return JsonNode.Parse(Assert.Single(AuditFixture.Lines(path)))!.AsObject();
    }

    public async ValueTask DisposeAsync()
    {
        await _states.DisposeAsync();
        _folder.Dispose();
    }
}
