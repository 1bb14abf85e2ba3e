using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.FastPath;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>Which way through the gateway a tool call goes: the SDK's handlers, or the forwarding fast path.</summary>
public enum CallPath
{
    Sdk,
    Fast,
}

/// <summary>What resilience tests share: calls on a chosen path, and waits for what servers and the gateway do.</summary>
internal static class ResilienceHelpers
{
    /// <summary>
    /// Calls a tool on <paramref name="path"/>: a progress token sends it to the SDK's handlers (the fast path leaves
    /// those to them), a plain call on a bound session to the fast path. Returns the result or the JSON-RPC error.
    /// </summary>
    public static async Task<(JsonObject? Result, McpProtocolException? Error)> CallAsync(McpClient client, CallPath path, string tool, JsonObject? arguments, CancellationToken cancellationToken)
    {
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments ?? [] };
        if (path == CallPath.Sdk)
        {
            parameters["_meta"] = new JsonObject { ["progressToken"] = "sdk-path-" + Guid.NewGuid().ToString("N") };
        }

        try
        {
            JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = parameters }, cancellationToken);
            return ((JsonObject)response.Result!, null);
        }
        catch (McpProtocolException ex)
        {
            return (null, ex);
        }
    }

    /// <summary>How many calls the gateway's fast path has taken.</summary>
    public static long FastCalls(InProcessGateway gateway) => gateway.Services.GetRequiredService<FastForwarder>().Taken;

    /// <summary>An HTTP agent session bound to <c>ops</c> (its first call binds it, on the full path), ready for the fast path.</summary>
    public static async Task<McpClient> BoundClientAsync(InProcessGateway gateway, CancellationToken cancellationToken)
    {
        McpClient client = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: cancellationToken);
        await client.CallRawAsync("list_servers", cancellationToken: cancellationToken);
        return client;
    }

    /// <summary>Waits until <paramref name="server"/>'s state satisfies <paramref name="condition"/>, on its change events.</summary>
    public static async Task WaitForAsync(DownstreamServer server, Func<DownstreamServer, bool> condition, string what, CancellationToken cancellationToken)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(DownstreamServer s)
        {
            if (condition(s))
            {
                reached.TrySetResult();
            }
        }

        server.Changed += OnChanged;
        try
        {
            OnChanged(server);
            await reached.Task.WaitAsync(Patience.HangGuard, cancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail(Patience.Message($"server '{server.Name}' to be {what} (it is {server.Status})"));
        }
        finally
        {
            server.Changed -= OnChanged;
        }
    }

    /// <summary>Waits until a server has written <paramref name="text"/> to stderr <paramref name="count"/> times in all (the gateway logs each line).</summary>
    public static Task WaitForStderrAsync(InProcessGateway gateway, string text, int count, CancellationToken cancellationToken) =>
        gateway.Logs.UntilAsync(lines => lines.Count(l => l.Contains(text, StringComparison.Ordinal)) >= count, $"a server to write '{text}' to stderr (×{count})", cancellationToken);
}
