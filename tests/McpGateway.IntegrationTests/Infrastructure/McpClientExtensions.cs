using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>
/// Raw requests from a test client. Raw, because the SDK's typed models drop fields and (2.4.0) throw on content
/// blocks with annotations: a fidelity test must see exactly the JSON that arrived.
/// </summary>
internal static class McpClientExtensions
{
    /// <summary>
    /// What every test client's options get: the handshake bounded by the hang guard rather than the SDK's 60 s, and
    /// no separate 5 s bound on the 2026-07-28 <c>server/discover</c> probe, which a server starting cold on a loaded
    /// machine can overrun (the client then takes it for a server that needs <c>initialize</c>). No test client talks
    /// to a server that ignores the probe, so nothing waits on this.
    /// </summary>
    public static McpClientOptions Patient(this McpClientOptions options)
    {
        options.InitializationTimeout = Patience.HangGuard;
        options.DiscoverProbeTimeout = Timeout.InfiniteTimeSpan;
        return options;
    }

    public static async Task<JsonObject> CallRawAsync(this McpClient client, string tool, JsonObject? arguments = null, CancellationToken cancellationToken = default)
    {
        var parameters = new JsonObject { ["name"] = tool };
        if (arguments is not null)
        {
            parameters["arguments"] = arguments;
        }

        JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = parameters }, cancellationToken);
        return (JsonObject)response.Result!;
    }

    /// <summary>The JSON-RPC error a call gets, or null when it succeeds.</summary>
    public static async Task<McpProtocolException?> CallErrorAsync(this McpClient client, string tool, JsonObject? arguments = null, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.CallRawAsync(tool, arguments, cancellationToken);
            return null;
        }
        catch (McpProtocolException ex)
        {
            return ex;
        }
    }

    public static async Task<JsonArray> ListToolsRawAsync(this McpClient client, CancellationToken cancellationToken = default)
    {
        JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsList }, cancellationToken);
        return (JsonArray)response.Result!["tools"]!;
    }

    public static async Task<string[]> ListToolNamesAsync(this McpClient client, CancellationToken cancellationToken = default) =>
        [.. (await client.ListToolsRawAsync(cancellationToken)).Select(t => t!["name"]!.GetValue<string>())];

    /// <summary>
    /// The error message as the server sent it: the C# SDK client prefixes remote errors with "Request failed (remote): ",
    /// which is the test client's doing, not the gateway's.
    /// </summary>
    public static string RemoteMessage(this McpProtocolException error) =>
        error.Message.StartsWith("Request failed (remote): ", StringComparison.Ordinal) ? error.Message["Request failed (remote): ".Length..] : error.Message;

    /// <summary>The text of the first content block of a result.</summary>
    public static string FirstText(this JsonObject result) => result["content"]![0]!["text"]!.GetValue<string>();
}
