using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Gateway;

/// <summary>Each agent sees exactly its tools, can call every one of them, and gets "unknown tool" for everything else.</summary>
public abstract class ToolListingTests<TGateway>(TGateway fixture) : IClassFixture<TGateway>
    where TGateway : ThreeAgentsGateway
{
    public static TheoryData<ServedTransport, string> Cases()
    {
        var data = new TheoryData<ServedTransport, string>();
        foreach (ServedTransport transport in Enum.GetValues<ServedTransport>())
        {
            foreach (string agent in (string[])["alpha", "beta", "gamma"])
            {
                data.Add(transport, agent);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ListTools_ShowsExactlyTheAgentsTools(ServedTransport transport, string agent)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        McpClient client = await ConnectAsAsync(transport, agent, ct);

        string[] names = await client.ListToolNamesAsync(ct);

        string[] expected = fixture.Mode == ExposureMode.Proxy ? ThreeAgentsGateway.ProxyTools[agent] : ThreeAgentsGateway.GatewayToolNames;
        Assert.Equal(expected.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task CallTool_ListedToolsReachTheirServer_OthersGetTheUnknownToolError(ServedTransport transport, string agent)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        McpClient client = await ConnectAsAsync(transport, agent, ct);
        HashSet<string> listed = [.. await client.ListToolNamesAsync(ct)];
        IEnumerable<string> everyName = ThreeAgentsGateway.ProxyTools.Values.SelectMany(v => v)
            .Append("everything_get-env").Append("fixture_crash").Append("no_such_tool").Distinct();

        foreach (string name in everyName)
        {
            McpProtocolException? error = await client.CallErrorAsync(name, ThreeAgentsGateway.SafeArguments(name), ct);
            if (listed.Contains(name))
            {
                Assert.False(error is not null && error.RemoteMessage().Contains("Unknown tool", StringComparison.Ordinal), $"{name} is listed for {agent} but the call was refused: {error?.Message}");
            }
            else
            {
                Assert.NotNull(error);
                Assert.Equal(McpErrorCode.InvalidParams, error.ErrorCode);
                Assert.Equal($"Unknown tool: '{name}'", error.RemoteMessage());
            }
        }
    }

    /// <summary>HTTP agents name themselves with the header; a stdio agent with the agent_id argument of its first call.</summary>
    private async Task<McpClient> ConnectAsAsync(ServedTransport transport, string agent, CancellationToken ct)
    {
        if (transport != ServedTransport.Stdio)
        {
            return await fixture.ConnectAsync(transport, agent, ct);
        }

        McpClient client = await fixture.ConnectAsync(transport, null, ct);
        JsonObject result = await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = agent }, ct);
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
        return client;
    }
}

public sealed class ProxyToolListingTests(ProxyGateway fixture) : ToolListingTests<ProxyGateway>(fixture);

public sealed class DiscoveryToolListingTests(DiscoveryGateway fixture) : ToolListingTests<DiscoveryGateway>(fixture);
