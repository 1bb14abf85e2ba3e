using System.Globalization;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>No child process outlives the gateway executable, however it is asked to stop (DESIGN §8).</summary>
public sealed class ShutdownTests
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string TwoFixtures => TestServers.File(("one", TestServers.Fixture()), ("two", TestServers.Fixture()));

    [Fact]
    public async Task Sigterm_StopsAnHttpGateway_AndEveryServerItStarted()
    {
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(TwoFixtures, Rules, ["--http", "0"], Ct);
        int[] children;
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = gateway.Endpoint!,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Agent-Id"] = "ops" },
        });

        // A connected agent (with its open event stream) must not hold the shutdown up.
        await using (McpClient client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" }.Patient(), cancellationToken: Ct))
        {
            children = [await PidAsync(client, "one_pid"), await PidAsync(client, "two_pid")];
            Assert.All(children, pid => Assert.True(ProcessProbe.IsAlive(pid)));

            await gateway.SignalAsync("TERM", Ct);
            int exitCode = await gateway.WaitForExitAsync(Ct);
            Assert.Equal(0, exitCode);
        }

        int[] survivors = await ProcessProbe.WaitForExitAsync(children, Ct);
        Assert.True(survivors.Length == 0, $"server processes {string.Join(", ", survivors)} outlived the gateway.");
    }

    [Fact]
    public async Task Sigterm_DuringACall_AnswersTheCallWithAnError_AndStops()
    {
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(TwoFixtures, Rules, ["--http", "0", "--log-level", "Debug"], Ct);
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = gateway.Endpoint!,
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["X-Agent-Id"] = "ops" },
        });
        await using McpClient client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" }.Patient(), cancellationToken: Ct);
        int child = await PidAsync(client, "one_pid");

        // Far longer than the test: only the shutdown can end this call.
        Task<McpProtocolException?> call = client.CallErrorAsync("one_slow", new JsonObject { ["ms"] = 600_000 }, Ct);
        await gateway.Stderr.WaitForAsync(line => line.Contains("calls one/slow", StringComparison.Ordinal), "the gateway's log of the call to one/slow", Ct);
        await gateway.SignalAsync("TERM", Ct);
        int exitCode = await gateway.WaitForExitAsync(Ct);
        Exception? failure = await Record.ExceptionAsync(() => call.Within("the answer to the call in flight", Ct));

        Assert.Equal(0, exitCode);
        Assert.True(failure is null, $"the call in flight got no answer before the gateway exited: {failure}");
        McpProtocolException? error = await call;
        Assert.NotNull(error);
        Assert.Contains("'one'", error.RemoteMessage(), StringComparison.Ordinal);
        Assert.Empty(await ProcessProbe.WaitForExitAsync([child], Ct));
    }

    [Fact]
    public async Task ClosingStdin_StopsAStdioGateway_AndEveryServerItStarted()
    {
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(TwoFixtures, Rules, ["--agent", "ops"], Ct);
        await gateway.InitializeAsync(Ct);
        int[] children =
        [
            RawPid(await gateway.RequestAsync(1, "tools/call", new JsonObject { ["name"] = "one_pid" }, Ct)),
            RawPid(await gateway.RequestAsync(2, "tools/call", new JsonObject { ["name"] = "two_pid" }, Ct)),
        ];
        Assert.All(children, pid => Assert.True(ProcessProbe.IsAlive(pid)));

        gateway.CloseStandardInput();
        int exitCode = await gateway.WaitForExitAsync(Ct);

        Assert.Equal(0, exitCode);
        int[] survivors = await ProcessProbe.WaitForExitAsync(children, Ct);
        Assert.True(survivors.Length == 0, $"server processes {string.Join(", ", survivors)} outlived the gateway.");
    }

    private static async Task<int> PidAsync(McpClient client, string tool) =>
        int.Parse((await client.CallRawAsync(tool, cancellationToken: Ct)).FirstText(), CultureInfo.InvariantCulture);

    private static int RawPid(JsonObject response) =>
        int.Parse(((JsonObject)response["result"]!).FirstText(), CultureInfo.InvariantCulture);
}
