using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// Clients connected straight to a downstream server, without the gateway: the reference a fidelity test compares the
/// gateway's answers with. They offer no client capabilities, like the gateway's own downstream clients, so servers
/// that tailor their tools to the client (server-everything) list the same tools to both.
/// </summary>
internal static class DirectServers
{
    public static Task<McpClient> EverythingAsync(CancellationToken cancellationToken) =>
        ConnectAsync("everything", "node", [RepoPaths.ReferenceServer("everything")], cancellationToken);

    public static Task<McpClient> FixtureAsync(CancellationToken cancellationToken) =>
        ConnectAsync("fixture", RepoPaths.FixtureServer, [], cancellationToken);

    public static Task<McpClient> ConnectAsync(string name, string command, IList<string> arguments, CancellationToken cancellationToken)
    {
        RepoPaths.RequireNodeModules();
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = name,
            Command = command,
            Arguments = arguments,
        });
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "integration-test-direct", Version = "1.0" },
            ProtocolVersion = "2025-11-25",

            // The capabilities the gateway offers downstream servers, so both see the same tool lists.
            Capabilities = new ClientCapabilities
            {
                Elicitation = new ElicitationCapability { Form = new FormElicitationCapability(), Url = new UrlElicitationCapability() },
            },
            Handlers = new McpClientHandlers
            {
                SamplingHandler = (_, _, _) => throw new NotSupportedException("not used by these tests"),
                ElicitationHandler = (_, _) => throw new NotSupportedException("not used by these tests"),
                RootsHandler = (_, _) => throw new NotSupportedException("not used by these tests"),
            },
        }.Patient();
        return McpClient.CreateAsync(transport, options, cancellationToken: cancellationToken);
    }

    /// <summary>Sends <c>tools/call</c> with exactly these params (fields beyond name and arguments included).</summary>
    public static async Task<JsonObject> CallWithParamsRawAsync(this McpClient client, JsonObject parameters, CancellationToken cancellationToken)
    {
        JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = parameters }, cancellationToken);
        return (JsonObject)response.Result!;
    }

    /// <summary>The JSON-RPC error of a <c>tools/call</c> with exactly these params, or null when it succeeds.</summary>
    public static async Task<McpProtocolException?> CallWithParamsErrorAsync(this McpClient client, JsonObject parameters, CancellationToken cancellationToken)
    {
        try
        {
            await client.CallWithParamsRawAsync(parameters, cancellationToken);
            return null;
        }
        catch (McpProtocolException ex)
        {
            return ex;
        }
    }

    /// <summary>Asserts two JSON values are equal in meaning (JsonNode.DeepEquals); on failure shows both texts.</summary>
    public static void AssertJsonEqual(JsonNode? expected, JsonNode? actual)
    {
        if (!JsonNode.DeepEquals(expected, actual))
        {
            Assert.Fail($"JSON differs.{Environment.NewLine}Expected: {expected?.ToJsonString() ?? "null"}{Environment.NewLine}Actual:   {actual?.ToJsonString() ?? "null"}");
        }
    }
}
