using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// The agent's credential stays at the gateway (issue 10, item 4): a downstream server over HTTP receives the headers
/// the servers file configures for it and never the agent's token, API key or identity header, on the call itself
/// and on every other request the gateway makes to it.
/// </summary>
[Collection(OidcGatewayCollection.Name)]
public sealed class CredentialForwardingTests(OidcGateway fixture)
{
    private static readonly string[] s_agentHeaders = ["authorization", "x-api-key", "x-agent-id"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Downstream_NeverReceivesTheAgentsToken_OnlyTheHeadersConfiguredForIt()
    {
        string token = await fixture.TokenAsync(OidcGateway.AgentA);
        var headers = OidcGateway.Bearer(token);
        headers["X-Agent-Id"] = "alpha";

        await AssertCredentialStaysAtTheGatewayAsync(headers, token);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Downstream_NeverReceivesTheAgentsApiKey_OnlyTheHeadersConfiguredForIt(bool bearer)
    {
        var headers = bearer ? fixture.AlphaKey.Bearer() : fixture.AlphaKey.ApiKeyHeader();
        headers["X-Agent-Id"] = "alpha";

        await AssertCredentialStaysAtTheGatewayAsync(headers, fixture.AlphaKey.Key);
    }

    private async Task AssertCredentialStaysAtTheGatewayAsync(Dictionary<string, string> headers, string secret)
    {
        int seenBefore = fixture.Echo.Received.Count;
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: headers);

        JsonObject direct = await client.CallRawAsync("echo_" + HeaderEchoServer.ToolName, new JsonObject(), Ct);
        JsonObject viaExecuteTool = await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = "echo", ["tool"] = HeaderEchoServer.ToolName, ["args"] = new JsonObject() }, Ct);

        foreach (JsonObject result in (JsonObject[])[direct, viaExecuteTool])
        {
            Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
            JsonObject received = (JsonObject)JsonNode.Parse(result.FirstText())!;
            foreach (string name in s_agentHeaders)
            {
                Assert.False(received.ContainsKey(name), $"the downstream server received '{name}': {received.ToJsonString()}");
            }

            Assert.Equal(OidcGateway.ConfiguredValue, received[OidcGateway.ConfiguredHeader.ToLowerInvariant()]?.GetValue<string>());
            Assert.DoesNotContain(secret, received.ToJsonString(), StringComparison.Ordinal);
        }

        // Every request the server ever got (the gateway's own start-up, lists and calls included), not just these calls.
        IReadOnlyDictionary<string, string>[] all = [.. fixture.Echo.Received];
        Assert.True(all.Length > seenBefore);
        Assert.All(all, request =>
        {
            Assert.DoesNotContain(request.Keys, name => s_agentHeaders.Contains(name, StringComparer.OrdinalIgnoreCase));
            Assert.DoesNotContain(request.Values, value => value.Contains(secret, StringComparison.Ordinal));
            Assert.Equal(OidcGateway.ConfiguredValue, request.GetValueOrDefault(OidcGateway.ConfiguredHeader));
        });
    }
}
