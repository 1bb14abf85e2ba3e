using System.Net;
using System.Text.Json.Nodes;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// API keys on HTTP (issue 10, item 3 and 5): who a key is, what it may do, and every way of presenting a wrong one.
/// With keys configured and self-asserted identity left at its default, a header or argument may only repeat who
/// the key says the caller is.
/// </summary>
[Collection(ApiKeyGatewayCollection.Name)]
public sealed class ApiKeyAuthenticationTests(ApiKeyGateway fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private InProcessGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task NoCredentials_Get401_WithTheProtectedResourceMetadataChallenge()
    {
        RawResponse response = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), null, null, Ct);

        Assert.Equal(401, response.Status);
        Assert.NotNull(response.WwwAuthenticate);
        Assert.StartsWith("Bearer ", response.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Contains($"resource_metadata=\"{MetadataUrl("/mcp")}\"", response.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Contains("API key", response.ErrorMessage, StringComparison.Ordinal);
    }

    /// <summary>
    /// RFC 9728: both forms name the resource the gateway protects, its MCP endpoint (it has no other). With only API keys
    /// there is no authorization server to name, so the list is empty (the JWT tests check it names the issuer).
    /// </summary>
    [Theory]
    [InlineData("/mcp")]
    [InlineData("")]
    public async Task ProtectedResourceMetadata_IsServed_WithResourceAndAuthorizationServers(string path)
    {
        using HttpResponseMessage response = await SecurityTestKit.Http.GetAsync(MetadataUrl(path), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        JsonObject metadata = (JsonObject)JsonNode.Parse(body)!;
        Assert.Equal($"http://{Gateway.Endpoint.Authority}/mcp", metadata["resource"]?.GetValue<string>());
        Assert.Equal("[]", metadata["authorization_servers"]?.ToJsonString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Key_AsBearerOrXApiKey_ActsAsTheKeysAgent(bool bearer)
    {
        McpClient alpha = await ConnectAsync(bearer ? fixture.Alpha.Bearer() : fixture.Alpha.ApiKeyHeader());
        McpClient beta = await ConnectAsync(bearer ? fixture.Beta.Bearer() : fixture.Beta.ApiKeyHeader());

        string[] alphaTools = await alpha.ListToolNamesAsync(Ct);
        string[] betaTools = await beta.ListToolNamesAsync(Ct);
        JsonObject echo = await alpha.CallRawAsync("everything_echo", new JsonObject { ["message"] = "keyed" }, Ct);
        McpProtocolException? betaCallsAlphaTool = await beta.CallErrorAsync("fixture_pid", cancellationToken: Ct);

        Assert.Equal(ApiKeyGateway.AlphaTools, alphaTools.Order(StringComparer.Ordinal));
        Assert.Equal(ApiKeyGateway.BetaTools, betaTools.Order(StringComparer.Ordinal));
        Assert.Equal("Echo: keyed", echo.FirstText());
        Assert.Equal("Unknown tool: 'fixture_pid'", betaCallsAlphaTool?.RemoteMessage());
    }

    [Fact]
    public async Task AgentHeader_NamingTheKeysOwnAgent_IsAccepted()
    {
        McpClient client = await ConnectAsync(With(fixture.Alpha.Bearer(), ("X-Agent-Id", "alpha")));

        string[] tools = await client.ListToolNamesAsync(Ct);
        JsonObject result = await client.CallRawAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "alpha", ["text"] = "me" }, Ct);

        Assert.Equal(ApiKeyGateway.AlphaTools, tools.Order(StringComparer.Ordinal));
        Assert.Equal(new JsonObject { ["text"] = "me" }.ToJsonString(), JsonNode.Parse(result.FirstText())!.ToJsonString());
    }

    [Fact]
    public async Task AgentHeader_NamingAnotherAgent_DoesNotSwitchAgents_AndIsRefusedWithAClearError()
    {
        McpClient client = await ConnectAsync(With(fixture.Beta.Bearer(), ("X-Agent-Id", "alpha")));

        McpProtocolException list = await Assert.ThrowsAsync<McpProtocolException>(() => client.ListToolNamesAsync(Ct));
        McpProtocolException? call = await client.CallErrorAsync("fixture_pid", cancellationToken: Ct);

        Assert.Equal("This credential acts as agent 'beta' and cannot act as agent 'alpha'.", list.RemoteMessage());
        Assert.NotNull(call);
        Assert.Equal(McpErrorCode.InvalidParams, call.ErrorCode);
        Assert.Equal("This credential acts as agent 'beta' and cannot act as agent 'alpha'.", call.RemoteMessage());
    }

    [Fact]
    public async Task AgentArgument_NamingAnotherAgent_IsDeniedWithAClearError_AndAudited()
    {
        McpClient client = await ConnectAsync(fixture.Beta.ApiKeyHeader());
        int before = (await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct)).Count;

        McpProtocolException? otherAgentsTool = await client.CallErrorAsync("fixture_pid", new JsonObject { ["agent_id"] = "alpha" }, Ct);
        McpProtocolException? ownTool = await client.CallErrorAsync("fixture_echo_args", new JsonObject { ["agent_id"] = "alpha", ["text"] = "x" }, Ct);
        List<JsonObject> audit = await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct);

        const string Refusal = "This credential acts as agent 'beta' and cannot act as agent 'alpha'.";
        Assert.NotNull(otherAgentsTool);
        Assert.Equal(McpErrorCode.InvalidParams, otherAgentsTool.ErrorCode);
        Assert.Equal(Refusal, otherAgentsTool.RemoteMessage());
        Assert.Equal(Refusal, ownTool?.RemoteMessage());

        // The tests of this collection run one at a time: the records after `before` are this test's.
        JsonObject[] calls = [.. audit.Skip(before).Where(r => r["method"]?.GetValue<string>() == "tools/call")];
        Assert.Equal(["fixture_pid", "fixture_echo_args"], calls.Select(r => r["item"]?.GetValue<string>()));
        Assert.All(calls, record =>
        {
            Assert.Equal("beta", record["agent"]?.GetValue<string>());
            Assert.Equal("api-key", record["identitySource"]?.GetValue<string>());
            Assert.Equal("key:" + fixture.Beta.Id, record["credentialId"]?.GetValue<string>());
            Assert.Equal("refused", record["decision"]?.GetValue<string>());
            Assert.Equal($"Impersonation: {Refusal} (claimed 'alpha')", record["rule"]?.GetValue<string>());
            Assert.Equal(-32602, record["errorCode"]?.GetValue<int>());
        });
        Assert.DoesNotContain(fixture.Beta.Key, File.ReadAllText(fixture.AuditFile), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> WrongKeys() => new()
    {
        { "unknown key", "mgw_0badc0de_" + new string('x', 43) },
        { "wrong secret", "WRONG-SECRET" },
        { "not a gateway key", "mgw_not-a-key" },
        { "revoked", "REVOKED" },
        { "expired", "EXPIRED" },
    };

    /// <summary>The caller learns nothing but 401; the audit records why, with the key id when there is one, never the key.</summary>
    [Theory]
    [MemberData(nameof(WrongKeys))]
    public async Task WrongKey_AsBearerOrXApiKey_Gets401_AndTheAuditSaysWhy(string why, string presented)
    {
        string key = presented switch
        {
            "WRONG-SECRET" => SecurityTestKit.WrongSecret(fixture.Alpha),
            "REVOKED" => fixture.Revoked.Key,
            "EXPIRED" => fixture.Expired.Key,
            _ => presented,
        };
        int before = (await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct)).Count;

        RawResponse bearer = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), new Dictionary<string, string> { ["Authorization"] = "Bearer " + key }, null, Ct);
        RawResponse header = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), new Dictionary<string, string> { ["X-API-Key"] = key }, null, Ct);
        List<JsonObject> audit = await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct);

        Assert.True(bearer.Status == 401, $"{why}: {bearer}");
        Assert.True(header.Status == 401, $"{why}: {header}");
        Assert.Contains("resource_metadata=", bearer.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Equal(bearer.Body, header.Body);
        Assert.DoesNotContain(key, bearer.Body, StringComparison.Ordinal);
        JsonObject[] refusals = SecurityTestKit.HttpRefusals(audit.Skip(before));
        Assert.Equal(2, refusals.Length);
        Assert.All(refusals, r =>
        {
            Assert.Equal($"invalid API key ({why})", r["rule"]?.GetValue<string>());
            Assert.Equal(401, r["errorCode"]?.GetValue<int>());
            Assert.Equal(ApiKey.IdOf(key) is { } id ? "key:" + id : null, r["credentialId"]?.GetValue<string>());
        });
    }

    [Fact]
    public async Task Keys_NeverAppearInTheGatewaysLogOrAudit()
    {
        TestKey[] keys = [fixture.Alpha, fixture.AlphaSecond, fixture.Beta, fixture.Revoked, fixture.Expired];
        foreach (TestKey key in keys)
        {
            await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolCall("fixture_echo_args", new JsonObject { ["agent_id"] = "someone-else" }), key.Bearer(), null, Ct);
            await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), key.ApiKeyHeader(), null, Ct);
        }

        await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct);
        string logs = Gateway.Logs.All;
        string audit = File.ReadAllText(fixture.AuditFile);
        foreach (TestKey key in keys)
        {
            string secret = key.Key[(ApiKey.Prefix.Length + key.Id.Length + 1)..];
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, audit, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task WrongKey_InXApiKey_IsNotRescuedByAValidBearerKey()
    {
        var headers = With(fixture.Alpha.Bearer(), ("X-API-Key", SecurityTestKit.WrongSecret(fixture.Beta)));

        RawResponse response = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), headers, null, Ct);

        Assert.Equal(401, response.Status);
    }

    private string MetadataUrl(string path) => $"http://{Gateway.Endpoint.Authority}/.well-known/oauth-protected-resource{path}";

    private Task<McpClient> ConnectAsync(Dictionary<string, string> headers) =>
        Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: headers);

    private static Dictionary<string, string> With(Dictionary<string, string> headers, params (string Name, string Value)[] more)
    {
        foreach ((string name, string value) in more)
        {
            headers[name] = value;
        }

        return headers;
    }
}
