using System.Net;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Audit;

/// <summary>
/// What one audit record says for each kind of decision and outcome (issue 10, item 10): who (agent, identity
/// source, credential id, session fingerprint, address), what (method, server, exposed and original tool), the
/// decision with the rule that made it, and the outcome; the same record whichever path answered; never a secret.
/// </summary>
public sealed class AuditRecordTests(AuditGateways gateways) : IClassFixture<AuditGateways>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Where the agent calls from, and a tool of server-everything (or of hasty, its copy with a short call timeout) with how its call ends.</summary>
    public static TheoryData<string, string, string> FastAndFullPathCalls()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string where in (string[])["keys over http", "header over http", "stdio"])
        {
            data.Add(where, "everything_echo", "result");
            data.Add(where, "everything_get-sum", "tool-error");
            data.Add(where, "hasty_trigger-long-running-operation", "timeout");
        }

        return data;
    }

    [Fact]
    public async Task AllowedCall_RecordsWhoCalledWhatWhereAndTheResult()
    {
        AuditedGateway gateway = gateways.Keys;
        TestKey alpha = gateway.Key("alpha");
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: alpha.Header);
        AuditMark mark = await gateway.MarkAsync(Ct);

        JsonObject result = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "allowed call", ["n"] = 7 }, Ct);

        JsonObject record = Assert.Single(await gateway.RecordsSinceAsync(mark, 1, Ct));
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
        Assert.Equal("alpha", Text(record, "agent"));
        Assert.Equal("api-key", Text(record, "identitySource"));
        Assert.Equal(alpha.CredentialId, Text(record, "credentialId"));
        Assert.Equal(gateway.Fingerprint(client.SessionId!), Text(record, "session"));
        Assert.Equal("127.0.0.1", Text(record, "clientAddress"));
        Assert.Equal("tools/call", Text(record, "method"));
        Assert.Equal("fixture", Text(record, "server"));
        Assert.Equal("fixture_echo_args", Text(record, "item"));
        Assert.Equal("echo_args", Text(record, "originalItem"));
        Assert.Equal("allowed", Text(record, "decision"));
        Assert.StartsWith("allowed: tool 'echo_args' of server 'fixture' is listed for agent 'alpha'", Text(record, "rule"), StringComparison.Ordinal);
        Assert.Equal("result", Text(record, "outcome"));
        Assert.Null(record["errorCode"]);
        Assert.Null(record["error"]);
        Assert.True(record["latencyMs"]!.GetValue<double>() >= 0, record.ToJsonString());
        Assert.True(record["requestBytes"]!.GetValue<long>() > 0, record.ToJsonString());
        Assert.True(record["responseBytes"]!.GetValue<long>() > 0, record.ToJsonString());
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["text"] = "allowed call", ["n"] = 7 }, record["arguments"]), record.ToJsonString());
        Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse(Text(record, "time")!, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromHours(1), record.ToJsonString());
    }

    [Fact]
    public async Task ToolThatRanAndFailed_IsRecordedAsAToolError()
    {
        AuditedGateway gateway = gateways.Keys;
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: gateway.Key("alpha").Header);
        AuditMark mark = await gateway.MarkAsync(Ct);

        JsonObject result = await client.CallRawAsync("fixture_fail", new JsonObject(), Ct);

        JsonObject record = Assert.Single(await gateway.RecordsSinceAsync(mark, 1, Ct));
        Assert.True(result["isError"]?.GetValue<bool>(), result.ToJsonString());
        Assert.Equal("allowed", Text(record, "decision"));
        Assert.Equal("tool-error", Text(record, "outcome"));
        Assert.Equal("fail", Text(record, "originalItem"));
        Assert.Null(record["errorCode"]);
    }

    [Fact]
    public async Task DownstreamProtocolError_IsRecordedWithItsCodeAndMessage()
    {
        AuditedGateway gateway = gateways.Keys;
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: gateway.Key("alpha").Header);
        AuditMark mark = await gateway.MarkAsync(Ct);

        McpProtocolException? error = await client.CallErrorAsync("fixture_protocol_error", new JsonObject { ["message"] = "the fixture refused" }, Ct);

        JsonObject record = Assert.Single(await gateway.RecordsSinceAsync(mark, 1, Ct));
        Assert.Equal(-32050, (int)error!.ErrorCode);
        Assert.Equal("allowed", Text(record, "decision"));
        Assert.Equal("protocol-error", Text(record, "outcome"));
        Assert.Equal(-32050, record["errorCode"]?.GetValue<int>());
        Assert.Equal("the fixture refused", Text(record, "error"));
    }

    [Fact]
    public async Task UnknownAndHiddenTools_AreRecordedAsUnknownAndDenied_WithWhatDecided_WhileTheAgentCannotTellThemApart()
    {
        AuditedGateway gateway = gateways.Keys;
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: gateway.Key("alpha").Header);
        AuditMark mark = await gateway.MarkAsync(Ct);

        McpProtocolException? unknown = await client.CallErrorAsync("fixture_no_such_tool", new JsonObject(), Ct);
        McpProtocolException? hidden = await client.CallErrorAsync("fixture_a_b", new JsonObject(), Ct);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 2, Ct);
        JsonObject unknownRecord = records.Single(r => Text(r, "item") == "fixture_no_such_tool");
        JsonObject hiddenRecord = records.Single(r => Text(r, "item") == "fixture_a_b");
        Assert.Equal(McpErrorCode.InvalidParams, unknown!.ErrorCode);
        Assert.Equal(McpErrorCode.InvalidParams, hidden!.ErrorCode);
        Assert.Equal(unknown.RemoteMessage().Replace("fixture_no_such_tool", "NAME", StringComparison.Ordinal), hidden.RemoteMessage().Replace("fixture_a_b", "NAME", StringComparison.Ordinal));

        Assert.Equal("unknown", Text(unknownRecord, "decision"));
        Assert.Equal("no such tool", Text(unknownRecord, "rule"));
        Assert.Null(unknownRecord["server"]);
        Assert.Equal("denied", Text(hiddenRecord, "decision"));
        Assert.Equal("fixture", Text(hiddenRecord, "server"));
        Assert.Equal("a_b", Text(hiddenRecord, "originalItem"));
        Assert.StartsWith("denied: tool 'a_b' of server 'fixture'", Text(hiddenRecord, "rule"), StringComparison.Ordinal);
        Assert.Contains("agents.alpha.allow.tools.fixture", Text(hiddenRecord, "rule"), StringComparison.Ordinal);
        foreach (JsonObject record in records)
        {
            Assert.Equal("alpha", Text(record, "agent"));
            Assert.Equal("protocol-error", Text(record, "outcome"));
            Assert.Equal((int)McpErrorCode.InvalidParams, record["errorCode"]?.GetValue<int>());
        }
    }

    [Fact]
    public async Task ImpersonationAttempt_IsRecordedAsRefused_WithTheAgentItIsAndTheAgentItClaimed()
    {
        AuditedGateway gateway = gateways.Keys;
        TestKey alpha = gateway.Key("alpha");
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: alpha.Header);
        AuditMark mark = await gateway.MarkAsync(Ct);

        McpProtocolException? error = await client.CallErrorAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "beta", ["text"] = "as beta" }, Ct);

        JsonObject record = Assert.Single(await gateway.RecordsSinceAsync(mark, 1, Ct));
        Assert.Equal(McpErrorCode.InvalidParams, error!.ErrorCode);
        Assert.Equal("alpha", Text(record, "agent"));
        Assert.Equal("api-key", Text(record, "identitySource"));
        Assert.Equal(alpha.CredentialId, Text(record, "credentialId"));
        Assert.Equal("refused", Text(record, "decision"));
        Assert.StartsWith("Impersonation: ", Text(record, "rule"), StringComparison.Ordinal);
        Assert.EndsWith("(claimed 'beta')", Text(record, "rule"), StringComparison.Ordinal);
        Assert.Equal("fixture_echo_args", Text(record, "item"));
        Assert.Equal("protocol-error", Text(record, "outcome"));
    }

    [Fact]
    public async Task CredentialRefusedAtTheHttpLevel_IsRecordedWithTheKeyId_AndNeverTheKey()
    {
        AuditedGateway gateway = gateways.Keys;
        TestKey alpha = gateway.Key("alpha");
        string wrongSecret = $"mgw_{alpha.Id}_{new string('W', 43)}";
        string unknownId = alpha.Id == "0badc0de" ? "0badc0df" : "0badc0de";
        string unknownKey = $"mgw_{unknownId}_{new string('U', 43)}";
        using var http = new HttpClient();
        AuditMark mark = await gateway.MarkAsync(Ct);

        using HttpResponseMessage wrong = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, AuditGateways.Initialize, new Dictionary<string, string> { ["Authorization"] = "Bearer " + wrongSecret }, Ct);
        using HttpResponseMessage unknown = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, AuditGateways.Initialize, new Dictionary<string, string> { ["X-API-Key"] = unknownKey }, Ct);
        using HttpResponseMessage none = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, AuditGateways.Initialize, null, Ct);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 3, Ct);
        Assert.All(new[] { wrong, unknown, none }, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.All(records, r =>
        {
            Assert.Equal("http", Text(r, "method"));
            Assert.Equal("refused", Text(r, "decision"));
            Assert.Equal("refused", Text(r, "outcome"));
            Assert.Equal(401, r["errorCode"]?.GetValue<int>());
            Assert.Equal("127.0.0.1", Text(r, "clientAddress"));
            Assert.Null(r["agent"]);
        });
        JsonObject wrongRecord = records.Single(r => Text(r, "credentialId") == alpha.CredentialId);
        JsonObject unknownRecord = records.Single(r => Text(r, "credentialId") == "key:" + unknownId);
        JsonObject noneRecord = records.Single(r => r["credentialId"] is null);
        Assert.Equal("invalid API key (wrong secret)", Text(wrongRecord, "rule"));
        Assert.Equal("api-key", Text(wrongRecord, "identitySource"));
        Assert.Equal("invalid API key (unknown key)", Text(unknownRecord, "rule"));
        Assert.Equal("no credentials", Text(noneRecord, "rule"));
        Assert.Equal("none", Text(noneRecord, "identitySource"));

        string text = gateway.AllText();
        Assert.DoesNotContain(wrongSecret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(unknownKey, text, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('W', 43), text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CallOverTheAgentsBudget_IsRecordedAsRateLimited_TheSameOnBothPaths()
    {
        AuditedGateway gateway = gateways.Keys;
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: gateway.Key("limited").Header);
        var arguments = new JsonObject { ["message"] = "budget" };
        for (int i = 0; i < AuditGateways.LimitedBudget; i++)
        {
            await client.CallRawAsync("everything_echo", arguments.DeepClone().AsObject(), Ct);
        }

        AuditMark mark = await gateway.MarkAsync(Ct);
        long taken = gateway.Forwarder.Taken;

        (JsonObject? _, McpProtocolException? fast) = await CallAsync(client, "everything_echo", arguments, meta: false);
        Assert.Equal(taken + 1, gateway.Forwarder.Taken);
        (JsonObject? _, McpProtocolException? full) = await CallAsync(client, "everything_echo", arguments, meta: true);
        Assert.Equal(taken + 1, gateway.Forwarder.Taken);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 2, Ct);
        Assert.Equal(-32029, (int)fast!.ErrorCode);
        Assert.Equal(-32029, (int)full!.ErrorCode);
        Assert.Equal("rate-limited", Text(records[0], "decision"));
        Assert.Equal($"{AuditGateways.LimitedBudget} calls per 3600 s", Text(records[0], "rule"));
        Assert.Equal("protocol-error", Text(records[0], "outcome"));
        Assert.Equal(-32029, records[0]["errorCode"]?.GetValue<int>());
        Assert.Equal("limited", Text(records[0], "agent"));
        AssertSameApartFromMeasurements(records[0], records[1]);
    }

    [Fact]
    public async Task RequestOverTheHttpRateLimit_IsRecordedAs429()
    {
        var settings = new JsonObject { ["limits"] = new JsonObject { ["rate"] = new JsonObject { ["windowSeconds"] = 3600, ["httpRequests"] = 2 } } };
        await using AuditedGateway gateway = await AuditedGateway.StartAsync(AuditGateways.Servers, AuditGateways.Rules, Ct, settings: settings, stateless: true);
        using var http = new HttpClient();
        var header = new Dictionary<string, string> { ["X-Agent-Id"] = "alpha" };
        const string call = """{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"fixture_echo_args","arguments":{"text":"limited"}}}""";
        AuditMark mark = await gateway.MarkAsync(Ct);

        using HttpResponseMessage first = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, call, header, Ct);
        using HttpResponseMessage second = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, call, header, Ct);
        using HttpResponseMessage third = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, call, header, Ct);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 3, Ct);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal(2, records.Count(r => Text(r, "method") == "tools/call" && Text(r, "outcome") == "result"));
        JsonObject refused = records.Single(r => Text(r, "method") == "http");
        Assert.Equal("refused", Text(refused, "decision"));
        Assert.Equal("refused", Text(refused, "outcome"));
        Assert.Equal(429, refused["errorCode"]?.GetValue<int>());
        Assert.Equal("HTTP request rate: 2 per 3600 s", Text(refused, "rule"));
        Assert.Equal("none", Text(refused, "identitySource"));
        Assert.Equal("127.0.0.1", Text(refused, "clientAddress"));
    }

    [Theory]
    [MemberData(nameof(FastAndFullPathCalls))]
    public async Task SameCall_OnTheFastPathAndTheFullPath_GetsTheSameRecord_ApartFromTimeLatencyAndSizes(string where, string tool, string outcome)
    {
        (AuditedGateway gateway, McpClient client) = await ConnectAsync(where);
        JsonObject arguments = tool switch
        {
            "everything_echo" => new JsonObject { ["message"] = "same record" },
            // Not numbers: the tool runs and fails.
            "everything_get-sum" => new JsonObject { ["a"] = "one", ["b"] = new JsonObject { ["n"] = 2 } },
            // Far longer than the call timeout: the gateway gives up on it.
            _ => new JsonObject { ["duration"] = 30, ["steps"] = 2 },
        };
        AuditMark mark = await gateway.MarkAsync(Ct);
        long taken = gateway.Forwarder.Taken;

        (JsonObject? fastResult, McpProtocolException? fastError) = await CallAsync(client, tool, arguments, meta: false);
        Assert.Equal(taken + 1, gateway.Forwarder.Taken);
        (JsonObject? fullResult, McpProtocolException? fullError) = await CallAsync(client, tool, arguments, meta: true);
        Assert.Equal(taken + 1, gateway.Forwarder.Taken);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 2, Ct);
        Assert.Equal(fastError?.Message, fullError?.Message);
        Assert.Equal(fastResult?["isError"]?.GetValue<bool>(), fullResult?["isError"]?.GetValue<bool>());
        Assert.Equal(tool, Text(records[0], "item"));
        Assert.Equal(outcome, Text(records[0], "outcome"));
        AssertSameApartFromMeasurements(records[0], records[1]);
    }

    [Fact]
    public async Task Records_HoldTheSessionFingerprintAndKeyId_ButNeverTheKeyTheSessionIdOrASecretArgument()
    {
        AuditedGateway gateway = gateways.Keys;
        TestKey alpha = gateway.Key("alpha");
        string canary = "canary-" + Guid.NewGuid().ToString("N");
        McpClient viaBearer = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: alpha.Header);
        McpClient viaHeader = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: new Dictionary<string, string> { ["X-API-Key"] = alpha.Key });
        AuditMark mark = await gateway.MarkAsync(Ct);

        await viaBearer.CallRawAsync("fixture_echo_args", new JsonObject { ["api_key"] = canary, ["password"] = canary, ["note"] = "visible" }, Ct);
        await CallAsync(viaBearer, "fixture_echo_args", new JsonObject { ["nested"] = new JsonObject { ["client_secret"] = canary } }, meta: true);
        await viaHeader.CallRawAsync("fixture_echo_args", new JsonObject { ["session"] = viaHeader.SessionId }, Ct);
        await viaHeader.ListToolsRawAsync(Ct);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 4, Ct);
        string text = gateway.AllText();
        foreach (string secret in (string[])[alpha.Key, alpha.Key[(alpha.Key.LastIndexOf('_') + 1)..], viaBearer.SessionId!, viaHeader.SessionId!, canary])
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        Assert.Equal(2, records.Count(r => Text(r, "session") == gateway.Fingerprint(viaBearer.SessionId!)));
        Assert.Equal(2, records.Count(r => Text(r, "session") == gateway.Fingerprint(viaHeader.SessionId!)));
        Assert.All(records, r => Assert.Equal(alpha.CredentialId, Text(r, "credentialId")));
        JsonObject flat = records.Single(r => r["arguments"]?["note"] is not null)["arguments"]!.AsObject();
        JsonObject nested = records.Single(r => r["arguments"]?["nested"] is not null)["arguments"]!["nested"]!.AsObject();
        JsonObject session = records.Single(r => r["arguments"]?["session"] is not null)["arguments"]!.AsObject();
        Assert.Equal("[redacted]", Text(flat, "api_key"));
        Assert.Equal("[redacted]", Text(flat, "password"));
        Assert.Equal("visible", Text(flat, "note"));
        Assert.Equal("[redacted]", Text(nested, "client_secret"));
        Assert.Equal("[redacted]", Text(session, "session"));
        Assert.Single(records, r => Text(r, "method") == "tools/list");
    }

    /// <summary>A client of one of the gateways, identified as alpha in the way <paramref name="where"/> names.</summary>
    private async Task<(AuditedGateway Gateway, McpClient Client)> ConnectAsync(string where)
    {
        switch (where)
        {
            case "keys over http":
                return (gateways.Keys, await gateways.Keys.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: gateways.Keys.Key("alpha").Header));
            case "header over http":
                return (gateways.Open, await gateways.Open.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "alpha", cancellationToken: Ct));
            default:
                // A stdio session is bound to the agent its first call names; calls without agent_id then take the fast path.
                McpClient client = await gateways.Open.Gateway.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);
                AuditMark mark = await gateways.Open.MarkAsync(Ct);
                await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "alpha" }, Ct);
                await gateways.Open.RecordsSinceAsync(mark, 1, Ct);
                return (gateways.Open, client);
        }
    }

    /// <summary>
    /// One call, plain (which the fast path takes) or with an empty <c>_meta</c> (which it leaves to the SDK path):
    /// the result, or the JSON-RPC error.
    /// </summary>
    private static async Task<(JsonObject? Result, McpProtocolException? Error)> CallAsync(McpClient client, string tool, JsonObject arguments, bool meta)
    {
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments.DeepClone() };
        if (meta)
        {
            parameters["_meta"] = new JsonObject();
        }

        try
        {
            JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = parameters }, Ct);
            return ((JsonObject)response.Result!, null);
        }
        catch (McpProtocolException ex)
        {
            return (null, ex);
        }
    }

    private static void AssertSameApartFromMeasurements(JsonObject fast, JsonObject full)
    {
        JsonObject a = WithoutMeasurements(fast), b = WithoutMeasurements(full);
        Assert.True(JsonNode.DeepEquals(a, b), $"fast path: {fast.ToJsonString()}{Environment.NewLine}full path: {full.ToJsonString()}");
    }

    private static JsonObject WithoutMeasurements(JsonObject record)
    {
        JsonObject copy = record.DeepClone().AsObject();
        foreach (string measured in (string[])["time", "latencyMs", "requestBytes", "responseBytes"])
        {
            Assert.True(copy.Remove(measured) || measured == "responseBytes", $"no '{measured}' in {record.ToJsonString()}");
        }

        return copy;
    }

    private static string? Text(JsonObject record, string name) => record[name]?.GetValue<string>();
}
