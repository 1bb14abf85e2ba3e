using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>The gateway executable in stdio mode: stdout belongs to the protocol, logs go to stderr (DESIGN §9).</summary>
public sealed class StdioProcessTests
{
    private const string Rules = """
        { "agents": { "writer": { "allow": { "servers": ["everything", "fixture"] } } } }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stdout_CarriesOnlyJsonRpcMessages_WhileLogsGoToStderr()
    {
        string servers = TestServers.File(("everything", TestServers.Everything()), ("fixture", TestServers.Fixture()));

        // Debug logging, a server that writes to its stderr, a failing call and a refused one: every source of stray output.
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(servers, Rules, ["--agent", "writer", "--log-level", "Debug"], Ct);
        await gateway.InitializeAsync(Ct);
        JsonObject list = await gateway.RequestAsync(1, "tools/list", null, Ct);
        JsonObject echo = await gateway.RequestAsync(2, "tools/call", new JsonObject { ["name"] = "everything_echo", ["arguments"] = new JsonObject { ["message"] = "hi" } }, Ct);
        JsonObject failed = await gateway.RequestAsync(3, "tools/call", new JsonObject { ["name"] = "fixture_protocol_error", ["arguments"] = new JsonObject { ["message"] = "boom" } }, Ct);
        JsonObject refused = await gateway.RequestAsync(4, "tools/call", new JsonObject { ["name"] = "everything_echo", ["arguments"] = new JsonObject { ["agent_id"] = "intruder" } }, Ct);
        gateway.CloseStandardInput();
        int exitCode = await gateway.WaitForExitAsync(Ct);
        await gateway.Stdout.Closed.Within("the end of the gateway's stdout", Ct);
        await gateway.Stderr.Closed.Within("the end of the gateway's stderr", Ct);

        Assert.Equal(0, exitCode);
        Assert.NotEmpty(list["result"]!["tools"]!.AsArray());
        Assert.Equal("Echo: hi", echo["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(-32050, failed["error"]!["code"]!.GetValue<int>());
        Assert.Equal(-32602, refused["error"]!["code"]!.GetValue<int>());
        foreach (string line in gateway.Stdout.Lines)
        {
            Assert.True(IsJsonRpcMessage(line), $"stdout carries a line that is not a JSON-RPC message: {line}");
        }

        string stderr = gateway.Stderr.ToString();
        Assert.Contains("mcp-gateway ready on stdio (2 of 2 servers ready)", stderr, StringComparison.Ordinal);
        Assert.Contains("[everything]", stderr, StringComparison.Ordinal);
        Assert.Contains("named agent 'intruder'", stderr, StringComparison.Ordinal);
    }

    private static bool IsJsonRpcMessage(string line)
    {
        try
        {
            if (JsonNode.Parse(line) is not JsonObject message || message["jsonrpc"]?.GetValue<string>() != "2.0")
            {
                return false;
            }

            bool isRequestOrNotification = message["method"] is JsonValue;
            bool isResponse = message.ContainsKey("id") && (message.ContainsKey("result") ^ message.ContainsKey("error"));
            return isRequestOrNotification || isResponse;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
