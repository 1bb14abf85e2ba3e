using System.Net;
using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// Secrets the gateway holds (a stdio server's env value, a remote server's header value, API keys, a bearer token)
/// and text it must not repeat (a remote server's error body, session ids) are planted as canaries; after a realistic
/// session (lists, calls, tool errors, protocol errors, refused credentials, an identity refusal, validation of bad
/// configuration) not one of them may appear in any response body, in the gateway's log, in the audit file or in a
/// validation diagnostic.
/// </summary>
public sealed class HardeningCanaryTests
{
    private const string Resource = "https://gateway.test/mcp";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Canaries_AfterARealisticSession_AppearInNoResponseLogAuditRecordOrDiagnostic()
    {
        var canaries = new Canaries();
        string folder = Directory.CreateTempSubdirectory("mcp-gateway-canaries-").FullName;
        string envSecret = canaries.New("stdio env value");
        string headerSecret = canaries.New("remote header value");
        string bodySecret = canaries.New("remote error body credential");
        await using FailingDownstream remote = await FailingDownstream.StartAsync(FailingDownstream.ErrorBody(bodySecret), Ct);
        canaries.Add("remote error body end", "END-OF-REMOTE-BODY");
        string alice = TestKeys.Add(Path.Combine(folder, "keys.json"), "alice", canaries);
        string carol = TestKeys.Add(Path.Combine(folder, "keys.json"), "carol", canaries);
        using var issuer = new TestTokenIssuer();
        issuer.WriteJwks(Path.Combine(folder, "jwks.json"));
        string bob = issuer.Token("bob", Resource, canaries);
        string forgedKey = alice[..(McpGateway.Identity.ApiKeys.ApiKey.Prefix.Length + 9)] + canaries.New("forged-key-secret");
        string forgedToken = bob[..(bob.LastIndexOf('.') + 1)] + canaries.New("forged-token-signature");

        string servers = TestServers.File(
            ("fx", new JsonObject { ["command"] = RepoPaths.FixtureServer, ["env"] = new JsonObject { ["FIXTURE_TOKEN"] = envSecret } }),
            ("remote", new JsonObject { ["url"] = remote.Url.ToString(), ["headers"] = new JsonObject { ["Authorization"] = "Bearer " + headerSecret } }));
        const string Rules = """
            {"agents": {
              "alice": {"allow": {"servers": ["fx", "remote"]}},
              "bob": {"allow": {"servers": ["fx"]}},
              "carol": {"allow": {"servers": ["fx"], "tools": {"fx": ["echo_args"]}}}
            }}
            """;
        string settings = new JsonObject
        {
            ["authentication"] = new JsonObject
            {
                ["resource"] = Resource,
                ["apiKeys"] = new JsonObject { ["file"] = "keys.json" },
                ["jwt"] = new JsonObject { ["issuer"] = TestTokenIssuer.Issuer, ["jwksFile"] = "jwks.json" },
            },
            ["audit"] = new JsonObject { ["file"] = "audit.jsonl", ["arguments"] = true },
        }.ToJsonString();

        InProcessGateway gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: Ct, settingsJson: settings, folder: folder);
        var recorded = new RecordingHandler();
        string rawResponses;
        try
        {
            var http = new RawMcpHttp(gateway.Endpoint);
            await using McpClient asAlice = await ConnectAsync(gateway, recorded, "Authorization", "Bearer " + alice);
            await using McpClient asBob = await ConnectAsync(gateway, recorded, "Authorization", "Bearer " + bob);
            await using McpClient asCarol = await ConnectAsync(gateway, recorded, "X-API-Key", carol);
            foreach (McpClient client in (McpClient[])[asAlice, asBob, asCarol])
            {
                await RunSessionAsync(client);
            }

            // The identity argument may only repeat the authenticated agent.
            McpProtocolException? impersonation = await asAlice.CallErrorAsync("fx_echo_args", new JsonObject { ["agent_id"] = "bob" }, Ct);
            Assert.NotNull(impersonation);
            McpProtocolException? remoteTool = await asAlice.CallErrorAsync("remote_anything", new JsonObject(), Ct);
            Assert.NotNull(remoteTool);

            var refused = new List<HttpReply>();
            foreach ((string name, string value) in ((string, string)[])[("Authorization", "Bearer " + forgedKey), ("X-API-Key", forgedKey), ("Authorization", "Bearer " + forgedToken), ("X-Agent-Id", "alice")])
            {
                refused.Add(await http.PostAsync(RawMcpHttp.Initialize(), Ct, headers: [new(name, value)]));
                refused.Add(await http.PostAsync(RawMcpHttp.ToolCall(2, "fx_echo_args"), Ct, headers: [new(name, value)]));
            }

            Assert.All(refused, r => Assert.Equal(HttpStatusCode.Unauthorized, r.Status));
            rawResponses = string.Join('\n', refused.Select(r => r.Body + "\n" + string.Join('\n', r.Headers.Select(h => h.Key + ": " + string.Join(", ", h.Value)))));
        }
        finally
        {
            // Stopping the gateway flushes the audit log.
            await gateway.DisposeAsync();
        }

        string diagnostics = await ValidateBadConfigurationAsync(folder, canaries, envSecret, headerSecret);
        string audit = string.Join('\n', Directory.GetFiles(folder, "audit.jsonl*").Select(File.ReadAllText));
        string log = gateway.Logs.All;

        Assert.Contains(remote.Authorizations, a => a == "Bearer " + headerSecret);
        Assert.Contains("\"agent\":\"alice\"", audit, StringComparison.Ordinal);
        Assert.Contains("\"agent\":\"bob\"", audit, StringComparison.Ordinal);
        Assert.Contains("\"agent\":\"carol\"", audit, StringComparison.Ordinal);
        Assert.Contains("Server 'remote' is unavailable", log, StringComparison.Ordinal);
        Assert.Contains("upstream exploded", log, StringComparison.Ordinal);
        canaries.AssertNoneIn("a response body to an agent", recorded.Text);
        canaries.AssertNoneIn("a refused request's response", rawResponses);
        canaries.AssertNoneIn("the gateway's log (debug level)", log);
        canaries.AssertNoneIn("the audit file", audit);
        canaries.AssertNoneIn("validation diagnostics", diagnostics);
    }

    [Fact]
    public async Task SessionIdsAndRemoteErrorBodies_NeverReachTheLogOfTheRealProcess_AtTheDefaultLevel()
    {
        var canaries = new Canaries();
        string bodySecret = canaries.New("remote error body credential");
        await using FailingDownstream remote = await FailingDownstream.StartAsync(FailingDownstream.ErrorBody(bodySecret), Ct);
        canaries.Add("remote error body end", "END-OF-REMOTE-BODY");
        string servers = TestServers.File(("fx", TestServers.Fixture()), ("remote", new JsonObject { ["url"] = remote.Url.ToString() }));
        const string Rules = """{"agents": {"a": {"allow": {"servers": ["*"]}}, "b": {"allow": {"servers": ["fx"]}}}, "defaults": {"default_agent": "a"}}""";

        await using GatewayProcess gateway = await GatewayProcess.StartAsync(servers, Rules, ["--http", "127.0.0.1:0"], Ct);
        var http = new RawMcpHttp(gateway.Endpoint!);
        var sessions = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            string session = await http.OpenSessionAsync(Ct, i % 2 == 0 ? null : RawMcpHttp.Agent("b"));
            canaries.Add("session id " + i, session);
            sessions.Add(session);
            await http.PostAsync(RawMcpHttp.ToolCall(2, "fx_echo_args"), Ct, session);
            await http.PostAsync(RawMcpHttp.ToolCall(3, "fx_protocol_error", new JsonObject { ["message"] = "boom" }), Ct, session);
            await http.PostAsync(RawMcpHttp.ToolCall(4, "remote_anything"), Ct, session);
            await http.PostAsync(RawMcpHttp.ToolCall(5, "fx_echo_args"), Ct, session, headers: RawMcpHttp.Agent("a"));
        }

        await http.DeleteAsync(sessions[0], Ct);
        await http.PostAsync(RawMcpHttp.ToolCall(6, "fx_echo_args"), Ct, sessions[0]);
        await http.PostAsync(RawMcpHttp.ToolCall(7, "fx_echo_args"), Ct, sessions[1] + "x");
        await http.PostAsync("""{"jsonrpc":"2.0","id":8,"id":9,"method":"tools/list"}""", Ct, sessions[2]);

        // The gateway logs the failure of 'remote' at start and at every retry: wait for one, then for the process to stop.
        await gateway.Stderr.WaitForAsync(l => l.Contains("Server 'remote' is unavailable", StringComparison.Ordinal), "the log of 'remote' being unavailable", Ct);
        await gateway.SignalAsync("TERM", Ct);
        await gateway.WaitForExitAsync(Ct);
        await gateway.Stderr.Closed.Within("the end of the gateway's stderr", Ct);
        string log = gateway.Stderr.ToString();

        Assert.Contains("upstream exploded", log, StringComparison.Ordinal);
        Assert.DoesNotContain(gateway.Stderr.Lines, l => l.Length > 1000);
        canaries.AssertNoneIn("the gateway's stderr (default level)", log);
    }

    /// <summary>The fixture's tools the way an agent uses them: lists, a call, a failing tool, a protocol error, an unknown tool, the gateway's own tools.</summary>
    private static async Task RunSessionAsync(McpClient client)
    {
        await client.ListToolsRawAsync(Ct);
        await client.CallRawAsync("fx_echo_args", new JsonObject { ["note"] = "hello" }, Ct);
        await client.CallErrorAsync("fx_fail", new JsonObject(), Ct);
        await client.CallErrorAsync("fx_protocol_error", new JsonObject { ["message"] = "the tool refused" }, Ct);
        await client.CallErrorAsync("fx_no_such_tool", new JsonObject(), Ct);
        await client.CallRawAsync("list_servers", null, Ct);
        await client.CallRawAsync("get_server_tools", new JsonObject { ["server"] = "fx" }, Ct);
        await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = "fx", ["tool"] = "echo_args", ["args"] = new JsonObject { ["n"] = 1 } }, Ct);
        await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ResourcesList }, Ct);
    }

    private static async Task<McpClient> ConnectAsync(InProcessGateway gateway, RecordingHandler recorded, string header, string value)
    {
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions
            {
                Endpoint = gateway.Endpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string> { [header] = value },
            },
            new HttpClient(recorded, disposeHandler: false));
        return await McpClient.CreateAsync(
            transport,
            new McpClientOptions { ClientInfo = new Implementation { Name = "canary-test", Version = "1.0" }, ProtocolVersion = RawMcpHttp.ProtocolVersion }.Patient(),
            cancellationToken: Ct);
    }

    /// <summary>What validation prints for configuration whose secrets came out wrong (a stray newline, a value that is no URL), and for the good files.</summary>
    private static async Task<string> ValidateBadConfigurationAsync(string folder, Canaries canaries, string envSecret, string headerSecret)
    {
        string urlSecret = canaries.New("url from the environment");
        string settingsSecret = canaries.New("settings value from the environment");
        var variables = new Dictionary<string, string>
        {
            ["REMOTE_TOKEN"] = headerSecret + "\n",
            ["REMOTE_URL"] = "not a url " + urlSecret,
            ["FIXTURE_TOKEN"] = envSecret,
            ["AUDIT_SIZE"] = settingsSecret,
        };
        string servers = Path.Combine(folder, "bad-servers.json");
        File.WriteAllText(servers, """
            {"mcpServers": {
              "fx": {"command": "fixture", "env": {"FIXTURE_TOKEN": "${FIXTURE_TOKEN}"}, "cwd": 5},
              "remote": {"url": "${REMOTE_URL}", "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}", "X-Literal": "x\r\ny"}},
              "other": {"url": "https://h/mcp?token=${FIXTURE_TOKEN}", "headers": {"Authorization": 7}}
            }}
            """);
        string badSettings = Path.Combine(folder, "bad-settings.json");
        File.WriteAllText(badSettings, """{"audit": {"file": "a.jsonl", "maxFileBytes": "${AUDIT_SIZE}"}, "http": {"listen": "${AUDIT_SIZE}"}}""");
        var environment = new DiscoveryEnvironment(name => variables.GetValueOrDefault(name), File.Exists, folder, folder) { AddSettingsVariables = _ => { } };

        var output = new StringWriter();
        var error = new StringWriter();
        int bad = await GatewayCli.RunAsync(["validate", "--config", servers, "--rules", Path.Combine(folder, "rules.json"), "--settings", badSettings], environment, output, error, Ct);
        int good = await GatewayCli.RunAsync(["validate", "--config", Path.Combine(folder, "servers.json"), "--rules", Path.Combine(folder, "rules.json"), "--settings", Path.Combine(folder, "settings.json")], environment, output, error, Ct);
        ConfigLoadResult<ServersConfig> parsed = ConfigurationLoader.ParseServers("bad-servers.json", File.ReadAllText(servers), name => variables.GetValueOrDefault(name));

        Assert.Equal(ExitCodes.InvalidConfiguration, bad);
        Assert.True(good == ExitCodes.Success, error.ToString());
        Assert.Contains("$.mcpServers.remote.headers.Authorization", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("$.mcpServers.remote.url", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("$.audit.maxFileBytes", error.ToString(), StringComparison.Ordinal);
        Assert.False(parsed.Succeeded);
        return output + "\n" + error + "\n" + string.Join('\n', parsed.Diagnostics);
    }
}
