using System.Net;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>
/// A gateway with API keys for <see cref="StatusEndpointTests"/>: <c>ops</c> is an admin agent (<c>admin.agents</c>),
/// <c>reader</c> is not. The tests only read from it.
/// </summary>
public sealed class AdminGateway : IAsyncLifetime
{
    public const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } }, "reader": { "allow": { "servers": ["fixture"] } } } }""";
    public const string Settings = """{ "admin": { "agents": ["ops"] } }""";

    public string Folder { get; } = Directory.CreateTempSubdirectory("mcp-gateway-admin-").FullName;

    internal InProcessGateway Gateway { get; private set; } = null!;

    public Uri Root => GatewayEndpoints.RootOf(Gateway.Endpoint);

    public string AdminKey { get; private set; } = null!;

    public string ReaderKey { get; private set; } = null!;

    public static string Servers => TestServers.File(("fixture", TestServers.Fixture()), ("off", new JsonObject { ["command"] = RepoPaths.FixtureServer, ["enabled"] = false }));

    public async ValueTask InitializeAsync()
    {
        InProcessGateway.WriteFiles(Servers, Rules, Settings, Folder);
        AdminKey = await OperationsCli.AddKeyAsync(Folder, "ops");
        ReaderKey = await OperationsCli.AddKeyAsync(Folder, "reader");
        Gateway = await InProcessGateway.StartAsync(Servers, Rules, cancellationToken: TestContext.Current.CancellationToken, settingsJson: Settings, folder: Folder);
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary><c>/status</c> and <c>mcp-gateway status</c>: what they show, what they never show, and who may see them (issue 11 item 8).</summary>
public sealed class StatusEndpointTests(AdminGateway admin) : IClassFixture<AdminGateway>, IAsyncDisposable
{
    private static readonly TimeSpan s_firstRetry = TimeSpan.FromSeconds(7);

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-status-").FullName;
    private InProcessGateway? _gateway;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Status_ShowsReadyRestartingAndDisabledServers_WithTheirCountsAndLastError()
    {
        // 'crashing' is refused a restart while the block file exists, so once it crashes it stays restarting.
        string block = Path.Combine(_folder, "block");
        var crashing = new JsonObject
        {
            ["command"] = "sh",
            ["args"] = new JsonArray("-c", "if [ -e \"$0\" ]; then echo blocked >&2; exit 1; fi; exec \"$1\"", block, RepoPaths.FixtureServer),
        };
        var off = new JsonObject { ["command"] = RepoPaths.FixtureServer, ["enabled"] = false };

        // On a fake clock that moves only when the test says: the crash is retried once, when the test advances past
        // the first reconnect delay, and the second delay never ends, so the status stays as the failed retry left it.
        var clock = new TestClock();
        var options = new GatewayOptions { Downstream = new() { InitialReconnectDelay = s_firstRetry, Jitter = 0 } };
        _gateway = await InProcessGateway.StartAsync(
            TestServers.File(("fine", TestServers.Fixture()), ("crashing", crashing), ("off", off)),
            """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""",
            options,
            cancellationToken: Ct,
            configureServices: services => services.AddSingleton<TimeProvider>(clock));
        Uri root = GatewayEndpoints.RootOf(_gateway.Endpoint);
        DownstreamServer restarted = _gateway.Downstream.Find("crashing")!;
        McpClient client = await _gateway.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct);
        File.WriteAllText(block, string.Empty);
        Task retryScheduled = clock.NextWaitOfAsync(s_firstRetry, Ct);
        await CrashAsync(client, "crashing_crash");
        await retryScheduled.Within("the supervisor to schedule the first retry", Ct);
        clock.Advance(s_firstRetry);
        await ResilienceHelpers.WaitForAsync(restarted, s => s.Status is { State: DownstreamState.Restarting, Restarts: >= 1 }, "restarting after a failed retry", Ct);
        await _gateway.Logs.WaitForAsync("[crashing] blocked", Ct);

        JsonObject status = await GatewayEndpoints.GetJsonAsync(root, "/status", Ct);

        Assert.Equal(GatewayVersionText(), status["version"]!.GetValue<string>());
        Assert.True(status["ready"]!.GetValue<bool>());
        Assert.True(status["sessions"]!.GetValue<int>() >= 1);
        Assert.True(status["uptimeSeconds"]!.GetValue<double>() >= 0);
        Assert.Equal(0, status["configuration"]!["reloads"]!.GetValue<int>());
        Assert.Equal(["fine", "crashing", "off"], status["servers"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));

        JsonObject fine = GatewayEndpoints.Server(status, "fine");
        Assert.Equal(("ready", "stdio", false, 0), (fine["state"]!.GetValue<string>(), fine["transport"]!.GetValue<string>(), fine["required"]!.GetValue<bool>(), fine["restarts"]!.GetValue<int>()));
        Assert.Equal(8, fine["tools"]!.GetValue<int>());
        Assert.Equal((0, 0, 0), (fine["resources"]!.GetValue<int>(), fine["resourceTemplates"]!.GetValue<int>(), fine["prompts"]!.GetValue<int>()));
        Assert.False(string.IsNullOrEmpty(fine["protocolVersion"]?.GetValue<string>()));
        Assert.True(DateTimeOffset.TryParse(fine["since"]!.GetValue<string>(), out _));
        Assert.Null(fine["lastError"]);
        Assert.Null(fine["retryAt"]);

        JsonObject restarting = GatewayEndpoints.Server(status, "crashing");
        Assert.Equal(("restarting", 1), (restarting["state"]!.GetValue<string>(), restarting["restarts"]!.GetValue<int>()));
        Assert.Contains("blocked", restarting["stderrTail"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(restarting["lastError"]?.GetValue<string>()));
        Assert.True(DateTimeOffset.TryParse(restarting["retryAt"]?.GetValue<string>(), out _), restarting.ToJsonString());
        Assert.Null(restarting["protocolVersion"]);

        JsonObject disabled = GatewayEndpoints.Server(status, "off");
        Assert.Equal("disabled", disabled["state"]!.GetValue<string>());
        Assert.Null(disabled["tools"]);
        Assert.DoesNotContain("crashing_crash", await client.ListToolNamesAsync(Ct));
    }

    [Fact]
    public async Task StatusStatusCommandAndLog_NeverShowACommandArgumentEnvironmentValueUrlOrHeaderOfAServer()
    {
        // Letters only: a run of letters and digits this long would be masked as a credential anyway, which would
        // hide a value that the status should never have included in the first place.
        string canary = "canary" + new string(Random.Shared.GetItems<char>("abcdefghijklmnopqrstuvwxyz", 12));
        var local = new JsonObject
        {
            ["command"] = RepoPaths.FixtureServer,
            ["args"] = new JsonArray("--label=" + canary),
            ["env"] = new JsonObject { ["API_TOKEN"] = canary },
        };
        var remote = new JsonObject
        {
            ["url"] = $"http://127.0.0.1:9/{canary}/mcp?token={canary}",
            ["headers"] = new JsonObject { ["Authorization"] = "Bearer " + canary, ["X-Tenant"] = canary },
            ["startTimeoutMs"] = 5000,
        };
        var missing = new JsonObject { ["command"] = $"/nonexistent/{canary}/mcp-server", ["args"] = new JsonArray(canary) };
        var talkative = new JsonObject
        {
            ["command"] = "sh",
            ["args"] = new JsonArray("-c", "echo \"starting with $API_TOKEN\" >&2; exit 1"),
            ["env"] = new JsonObject { ["API_TOKEN"] = canary },
        };
        // On a fake clock that never moves, no server that failed is retried: the talkative server's one process and
        // its stderr line stay what the status shows (each restart would start a new tail).
        _gateway = await InProcessGateway.StartAsync(
            TestServers.File(("local", local), ("remote", remote), ("missing", missing), ("talkative", talkative)),
            """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""",
            cancellationToken: Ct,
            configureServices: services => services.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow)));
        string root = GatewayEndpoints.RootOf(_gateway.Endpoint).ToString().TrimEnd('/');
        await _gateway.Logs.WaitForAsync("[talkative] starting with", Ct);

        JsonObject parsed = await GatewayEndpoints.GetJsonAsync(new Uri(root), "/status", Ct);
        string status = parsed.ToJsonString();
        CliRun table = await OperationsCli.RunAsync(_folder, ["status", "--url", root]);
        CliRun json = await OperationsCli.RunAsync(_folder, ["status", "--url", root, "--json"]);

        Assert.Equal((ExitCodes.Success, ExitCodes.Success), (table.ExitCode, json.ExitCode));
        Assert.Equal("ready", GatewayEndpoints.Server(parsed, "local")["state"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(GatewayEndpoints.Server(parsed, "remote")["lastError"]?.GetValue<string>()), status);
        Assert.Equal("could not start: '[redacted]' was not found (not a file, and not on PATH)", GatewayEndpoints.Server(parsed, "missing")["lastError"]?.GetValue<string>());
        Assert.Equal(["starting with [redacted]"], GatewayEndpoints.Server(parsed, "talkative")["stderrTail"]!.AsArray().Select(l => l!.GetValue<string>()));
        // The log gets the stderr line redacted the same way (ServerRedaction), and the reasons too.
        Assert.Contains("Information McpGateway.Downstream.talkative: [talkative] starting with [redacted]", _gateway.Logs.Lines);
        string log = string.Join(Environment.NewLine, _gateway.Logs.Lines.Where(l => l.Contains(canary, StringComparison.Ordinal)));
        foreach ((string what, string text) in (ValueTuple<string, string>[])[("/status", status), ("status", table.Output + table.Error), ("status --json", json.Output + json.Error), ("the log", log)])
        {
            Assert.False(text.Contains(canary, StringComparison.Ordinal), $"{what} shows a server's secret:{Environment.NewLine}{text}");
        }
    }

    [Fact]
    public async Task StatusReloadAndMetrics_WithApiKeys_NeedAnAdminKey_WhileTheProbesStayOpen()
    {
        (HttpStatusCode anonymous, _) = await GatewayEndpoints.GetAsync(admin.Root, "/status", Ct);
        (HttpStatusCode reader, _) = await GatewayEndpoints.GetAsync(admin.Root, "/status", Ct, admin.ReaderKey);
        (HttpStatusCode ops, _) = await GatewayEndpoints.GetAsync(admin.Root, "/status", Ct, admin.AdminKey);
        (HttpStatusCode reloadAnonymous, _) = await GatewayEndpoints.SendAsync(HttpMethod.Post, admin.Root, "/admin/reload", null, Ct);
        (HttpStatusCode reloadReader, _) = await GatewayEndpoints.SendAsync(HttpMethod.Post, admin.Root, "/admin/reload", admin.ReaderKey, Ct);
        (HttpStatusCode metricsAnonymous, _) = await GatewayEndpoints.GetAsync(admin.Root, "/metrics", Ct);
        (HttpStatusCode metricsReader, _) = await GatewayEndpoints.GetAsync(admin.Root, "/metrics", Ct, admin.ReaderKey);
        (HttpStatusCode metricsOps, string metrics) = await GatewayEndpoints.GetAsync(admin.Root, "/metrics", Ct, admin.AdminKey);
        (HttpStatusCode healthz, _) = await GatewayEndpoints.GetAsync(admin.Root, "/healthz", Ct);
        (HttpStatusCode readyz, _) = await GatewayEndpoints.GetAsync(admin.Root, "/readyz", Ct);

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.OK), (anonymous, reader, ops));
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden), (reloadAnonymous, reloadReader));
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.OK), (metricsAnonymous, metricsReader, metricsOps));
        Assert.Contains("# TYPE ", metrics, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (healthz, readyz));
    }

    [Fact]
    public async Task StatusCommand_WithAnAdminKey_PrintsATable_OrTheJson()
    {
        string url = admin.Root.ToString().TrimEnd('/');

        CliRun table = await OperationsCli.RunAsync(_folder, ["status", "--url", url, "--key", admin.AdminKey]);
        CliRun json = await OperationsCli.RunAsync(_folder, ["status", "--url", url, "--json"], new Dictionary<string, string> { [StatusCommand.KeyVariable] = admin.AdminKey });

        Assert.Equal(ExitCodes.Success, table.ExitCode);
        string[] lines = table.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith($"mcp-gateway {GatewayVersionText()}  ready  sessions ", lines[0], StringComparison.Ordinal);
        Assert.Equal(["SERVER", "STATE", "TRANSPORT", "TOOLS", "RESTARTS", "LAST", "ERROR"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["fixture", "ready", "stdio", "8", "0"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["off", "disabled", "stdio"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(4, lines.Length);
        Assert.Equal(ExitCodes.Success, json.ExitCode);
        JsonObject status = JsonNode.Parse(json.Output)!.AsObject();
        Assert.Equal(["fixture", "off"], status["servers"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));
        Assert.DoesNotContain(admin.AdminKey, table.Output + table.Error + json.Output + json.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusCommand_WithoutAnAdminKey_OrWithoutAGateway_ExitsFive()
    {
        string url = admin.Root.ToString().TrimEnd('/');
        using var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        int port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        CliRun anonymous = await OperationsCli.RunAsync(_folder, ["status", "--url", url]);
        CliRun reader = await OperationsCli.RunAsync(_folder, ["status", "--url", url, "--key", admin.ReaderKey]);
        CliRun nobody = await OperationsCli.RunAsync(_folder, ["status", "--url", $"http://127.0.0.1:{port}"]);

        Assert.Equal((ExitCodes.Unreachable, ExitCodes.Unreachable, ExitCodes.Unreachable), (anonymous.ExitCode, reader.ExitCode, nobody.ExitCode));
        Assert.Equal($"error: {url}/status answered 401 Unauthorized: pass an admin key with --key or ${StatusCommand.KeyVariable}.", anonymous.Error.Trim());
        Assert.Equal($"error: {url}/status answered 403 Forbidden: pass an admin key with --key or ${StatusCommand.KeyVariable}.", reader.Error.Trim());
        Assert.StartsWith($"error: cannot reach http://127.0.0.1:{port}: ", nobody.Error, StringComparison.Ordinal);
        Assert.Empty(anonymous.Output + reader.Output + nobody.Output);
    }

    [Fact]
    public async Task SettingsEdit_AdminAgents_ChangesWhoMaySeeStatus_AtOnce()
    {
        InProcessGateway.WriteFiles(AdminGateway.Servers, AdminGateway.Rules, AdminGateway.Settings, _folder);
        string opsKey = await OperationsCli.AddKeyAsync(_folder, "ops");
        string readerKey = await OperationsCli.AddKeyAsync(_folder, "reader");
        _gateway = await InProcessGateway.StartAsync(AdminGateway.Servers, AdminGateway.Rules, cancellationToken: Ct, settingsJson: AdminGateway.Settings, folder: _folder);
        Uri root = GatewayEndpoints.RootOf(_gateway.Endpoint);
        (HttpStatusCode opsBefore, _) = await GatewayEndpoints.GetAsync(root, "/status", Ct, opsKey);

        using (ReloadWatch reloads = ReloadWatch.On(_gateway))
        {
            File.WriteAllText(Path.Combine(_folder, "settings.json"), """{ "admin": { "agents": ["reader"] } }""");
            Assert.Empty((await reloads.AppliedAsync(Ct)).Notes);
        }

        (HttpStatusCode opsAfter, _) = await GatewayEndpoints.GetAsync(root, "/status", Ct, opsKey);
        (HttpStatusCode readerAfter, _) = await GatewayEndpoints.GetAsync(root, "/status", Ct, readerKey);

        Assert.Equal(HttpStatusCode.OK, opsBefore);
        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.OK), (opsAfter, readerAfter));
    }

    [Fact]
    public async Task Status_CountsUptimeFromTheStart_NotFromTheFirstRequest()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _gateway = await InProcessGateway.StartAsync(
            TestServers.File(("fixture", TestServers.Fixture())),
            """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""",
            cancellationToken: Ct,
            configureServices: services => services.AddSingleton<TimeProvider>(clock));
        clock.Advance(TimeSpan.FromMinutes(10));

        JsonObject status = await GatewayEndpoints.GetJsonAsync(GatewayEndpoints.RootOf(_gateway.Endpoint), "/status", Ct);

        Assert.Equal(600, status["uptimeSeconds"]!.GetValue<double>());
    }

    private static string GatewayVersionText() => GatewayVersion.Value;

    private static async Task CrashAsync(McpClient client, string tool)
    {
        try
        {
            await client.CallRawAsync(tool, cancellationToken: Ct);
        }
        catch (McpException)
        {
            // The server dies while answering: what that call gets is another test's business.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }
}
