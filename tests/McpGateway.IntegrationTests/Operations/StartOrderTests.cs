using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Conformance;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Resilience;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>
/// <c>serve --http</c> binds its port before it starts any server and serves at once with the servers that are ready;
/// <c>validate</c> finds commands that are not there and booleans that are not booleans (issue 11 item 7).
/// </summary>
public sealed partial class StartOrderTests : IDisposable
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-start-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ServeHttp_ServesTheHealthyServer_WhileAHangingServerIsStillStarting()
    {
        // Ten minutes of start timeout: the gateway's "ready" line, which follows every server's first attempt, cannot
        // come during the test, so whatever is served was served before the hanging server's start ended.
        string marker = DownstreamFailureGateways.NewHangingMarker();
        string servers = TestServers.File(("hanging", DownstreamFailureGateways.Hanging(marker, startTimeoutMs: 600_000)), ("healthy", TestServers.Fixture()));
        // At debug level the gateway says when a server's state becomes ready: that line is the event to wait for.
        await using ChildProcess gateway = Serve(servers, """{ "health": { "readyWhen": "any" }, "logging": { "level": "debug" } }""", "0");

        Match listening = await gateway.WaitForLineAsync(ListeningLine());
        var endpoint = new Uri(listening.Groups["where"].Value);
        Uri root = GatewayEndpoints.RootOf(endpoint);
        await gateway.WaitForLineAsync(HealthyConnectedLine());
        JsonObject readiness = await GatewayEndpoints.GetJsonAsync(root, "/readyz", Ct);
        await using McpClient client = await McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint, TransportMode = HttpTransportMode.StreamableHttp, AdditionalHeaders = new Dictionary<string, string> { ["X-Agent-Id"] = "ops" } }),
            new McpClientOptions { ClientInfo = new Implementation { Name = "start-order-test", Version = "1.0" } }.Patient(),
            cancellationToken: Ct);
        JsonObject echoed = await client.CallRawAsync("healthy_echo_args", new JsonObject { ["early"] = true }, Ct);
        JsonObject status = await GatewayEndpoints.GetJsonAsync(root, "/status", Ct);

        Assert.True(readiness["ready"]!.GetValue<bool>());
        Assert.True(echoed["structuredContent"]?["arguments"]?["early"]?.GetValue<bool>());
        Assert.Equal("starting", GatewayEndpoints.Server(status, "hanging")["state"]!.GetValue<string>());
        Assert.Equal("ready", GatewayEndpoints.Server(status, "healthy")["state"]!.GetValue<string>());
        Assert.DoesNotContain("hanging_", string.Join(' ', await client.ListToolNamesAsync(Ct)), StringComparison.Ordinal);
        Assert.DoesNotContain("mcp-gateway ready on", gateway.Output, StringComparison.Ordinal);
        Assert.NotEmpty(ProcessProbe.FindByCommandLine(marker));
    }

    [Fact]
    public async Task ServeHttp_OnATakenPort_ExitsWithOneClearLine_BeforeStartingAnyServer()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string started = Path.Combine(_folder, "server-started");
        var server = new JsonObject { ["command"] = "sh", ["args"] = new JsonArray("-c", "touch \"$0\"; exec sleep 1000", started) };

        await using ChildProcess gateway = Serve(TestServers.File(("marker", server)), "{}", port.ToString(CultureInfo.InvariantCulture));
        Assert.True(await gateway.WaitForExitAsync(), $"serve did not exit within {Patience.Describe}: " + gateway.Output);

        Assert.Equal(ExitCodes.InvalidConfiguration, gateway.ExitCode);
        string line = Assert.Single(gateway.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith($"error: cannot listen on 127.0.0.1:{port}: ", line, StringComparison.Ordinal);
        Assert.False(File.Exists(started), "a server was started before the port was known to be free");
    }

    [Fact]
    public async Task Validate_WarnsWhenAStdioCommandIsNotOnPath_AndStillAcceptsTheFiles()
    {
        Write("servers.json", """{ "mcpServers": { "notes": { "command": "mcp-server-that-is-not-installed" }, "shell": { "command": "sh" } } }""");
        Write("rules.json", Rules);

        CliRun run = await Validate();

        Assert.Equal(ExitCodes.Success, run.ExitCode);
        string warning = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(": warning: $.mcpServers.notes.command: the program it names is not on PATH, so the server cannot start here.", warning, StringComparison.Ordinal);
        Assert.Contains("1 warning(s), printed above.", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_RejectsAQuotedBooleanForEnabled()
    {
        Write("servers.json", """{ "mcpServers": { "shell": { "command": "sh", "enabled": "false" } } }""");
        Write("rules.json", Rules);

        CliRun run = await Validate();

        Assert.Equal(ExitCodes.InvalidConfiguration, run.ExitCode);
        Assert.Contains(": error: $.mcpServers.shell.enabled: expected true or false but found ", run.Error, StringComparison.Ordinal);
        Assert.Contains("Fix: write true or false without quotes.", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "0 enabled")]
    [InlineData("true", "1 enabled")]
    public async Task Validate_AcceptsEnabledFromAVariableWithADefault(string? flag, string enabled)
    {
        Write("servers.json", """{ "mcpServers": { "shell": { "command": "sh", "enabled": "${FLAG:-false}" } } }""");
        Write("rules.json", Rules);

        CliRun run = await Validate(flag is null ? null : new Dictionary<string, string> { ["FLAG"] = flag });

        Assert.Equal(ExitCodes.Success, run.ExitCode);
        Assert.Empty(run.Error);
        Assert.Contains($"valid: 1 server(s) ({enabled})", run.Output, StringComparison.Ordinal);
    }

    private Task<CliRun> Validate(IReadOnlyDictionary<string, string>? variables = null) =>
        OperationsCli.RunAsync(_folder, ["validate", "--config", Path.Combine(_folder, "servers.json"), "--rules", Path.Combine(_folder, "rules.json")], variables);

    /// <summary>Starts <c>serve --http PORT</c> on the files, without waiting for anything.</summary>
    private ChildProcess Serve(string servers, string settings, string port)
    {
        Write("servers.json", servers);
        Write("rules.json", Rules);
        Write("settings.json", settings);
        return ChildProcess.Start(
            GatewayProcess.DotnetHost,
            [RepoPaths.GatewayDll, "serve", .. OperationsCli.FilesIn(_folder), "--http", port],
            _folder);
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_folder, name), text);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [GeneratedRegex(@"mcp-gateway listening on (?<where>\S+); starting the servers")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"Server 'healthy' connected \(protocol ")]
    private static partial Regex HealthyConnectedLine();
}
