using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// What the gateway does with a reply over a stdio server's limit, on both paths: a raw request (the fast path) fails
/// with an error naming the limit; an SDK request gets an error response in the reply's place; the connection is kept
/// and the next request is answered. The server is a few lines of <c>sh</c> that answer each request line with a reply
/// of the size and field order the request asks for.
/// </summary>
public sealed class OversizedReplyTests : IAsyncDisposable
{
    private const int Limit = 1024 * 1024;
    private const int ReplyBytes = 3 * 1024 * 1024;

    // Reads requests line by line; answers "big-head" with the id first, "big-cs" in the C# SDK's order (result, id,
    // jsonrpc), "big-tail" in the TypeScript SDK's (result, jsonrpc, id), "big-log" with a huge notification, "big-ask" with a huge request of its own (and
    // prints the gateway's answer to it on stderr), "big-anon" with a huge reply without an id, anything else with a
    // small result.
    private const string Script = """
        big() { head -c "$1" /dev/zero | tr '\0' a; }
        while IFS= read -r line; do
          id=$(printf '%s\n' "$line" | sed -n 's/.*"id":\("[^"]*"\|-\{0,1\}[0-9][0-9]*\).*/\1/p')
          case "$line" in
            *'"error"'*) printf 'answered: %s\n' "$line" >&2 ;;
            *big-head*) printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"' "$id"; big "$0"; printf '"}]}}\n' ;;
            *big-cs*) printf '{"result":{"content":[{"type":"text","text":"'; big "$0"; printf '"}]},"id":%s,"jsonrpc":"2.0"}\n' "$id" ;;
            *big-tail*) printf '{"result":{"content":[{"type":"text","text":"'; big "$0"; printf '"}]},"jsonrpc":"2.0","id":%s}\n' "$id" ;;
            *big-log*) printf '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"'; big "$0"; printf '"}}\n' ;;
            *big-ask*) printf '{"jsonrpc":"2.0","id":0,"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"'; big "$0"; printf '"}}]}}\n' ;;
            *big-anon*) printf '{"result":{"text":"'; big "$0"; printf '"}}\n' ;;
            *) printf '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"small"}]}}\n' "$id" ;;
          esac
        done
        """;

    private readonly TaskCompletionSource<string> _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StdioProcessTransport _transport;

    public OversizedReplyTests()
    {
        var start = new ProcessStartInfo("sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])["-c", Script, ReplyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }

        Process process = ChildProcesses.Start(start, NullLogger.Instance);
        _transport = new StdioProcessTransport("big", process, Limit, TimeSpan.FromSeconds(2), OnStderr, NullLoggerFactory.Instance);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("big-head")]
    [InlineData("big-cs")]
    [InlineData("big-tail")]
    public async Task RawRequest_ReplyOverTheLimit_FailsWithAnErrorNamingTheLimit_AndTheConnectionIsKept(string tool)
    {
        OversizedReplyException error = await Assert.ThrowsAsync<OversizedReplyException>(() => _transport.RequestRawAsync(id => ToolCall(id, tool), Ct));
        byte[] next = await _transport.RequestRawAsync(id => ToolCall(id, "small"), Ct);

        Assert.Matches($@"^The reply of server 'big' was 31458\d\d bytes, more than its limit of {Limit} \(maxMessageBytes\); it was dropped\.$", error.Message);
        Assert.Equal("small", JsonNode.Parse(next)!["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Null(_transport.ClosedReason);
    }

    [Theory]
    [InlineData("big-head")]
    [InlineData("big-cs")]
    [InlineData("big-tail")]
    public async Task SdkRequest_ReplyOverTheLimit_GetsAnErrorResponseInItsPlace(string tool)
    {
        await _transport.SendMessageAsync(new JsonRpcRequest { Id = new RequestId(7), Method = RequestMethods.ToolsCall, Params = new JsonObject { ["name"] = tool } }, Ct);
        JsonRpcMessage answer = await _transport.MessageReader.ReadAsync(Ct);
        await _transport.SendMessageAsync(new JsonRpcRequest { Id = new RequestId(8), Method = RequestMethods.ToolsCall, Params = new JsonObject { ["name"] = "small" } }, Ct);
        JsonRpcMessage next = await _transport.MessageReader.ReadAsync(Ct);

        JsonRpcError error = Assert.IsType<JsonRpcError>(answer);
        Assert.Equal(new RequestId(7), error.Id);
        Assert.Equal(-32603, error.Error.Code);
        Assert.Contains($"more than its limit of {Limit} (maxMessageBytes)", error.Error.Message, StringComparison.Ordinal);
        Assert.Equal(new RequestId(8), Assert.IsType<JsonRpcResponse>(next).Id);
    }

    [Fact]
    public async Task NotificationOverTheLimit_IsDropped_AndTheConnectionIsKept()
    {
        await _transport.SendMessageAsync(new JsonRpcNotification { Method = "notifications/big-log" }, Ct);
        byte[] next = await _transport.RequestRawAsync(id => ToolCall(id, "small"), Ct);

        Assert.Equal("small", JsonNode.Parse(next)!["result"]!["content"]![0]!["text"]!.GetValue<string>());
        Assert.Null(_transport.ClosedReason);
    }

    [Fact]
    public async Task RequestOfTheServerOverTheLimit_IsAnsweredWithAnErrorToTheServer_NotTakenForAReply()
    {
        await _transport.SendMessageAsync(new JsonRpcNotification { Method = "notifications/big-ask" }, Ct);
        byte[] next = await _transport.RequestRawAsync(id => ToolCall(id, "small"), Ct);
        string answered = await _answered.Task.WaitAsync(Ct);

        JsonNode error = JsonNode.Parse(answered)!;
        Assert.Equal(0, error["id"]!.GetValue<int>());
        Assert.Contains("its limit is 1048576 bytes (maxMessageBytes)", error["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("small", JsonNode.Parse(next)!["result"]!["content"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task ReplyOverTheLimitWithoutAnId_EndsTheConnection_AndWhatWaitsOnItFailsAtOnce()
    {
        Task<byte[]> waiting = _transport.RequestRawAsync(id => ToolCall(id, "big-anon"), Ct);

        IOException error = await Assert.ThrowsAsync<IOException>(() => waiting);
        Assert.Contains("that answers no request the gateway can name", error.Message, StringComparison.Ordinal);
        Assert.NotNull(_transport.ClosedReason);
        await Assert.ThrowsAsync<IOException>(() => _transport.RequestRawAsync(id => ToolCall(id, "small"), Ct));
    }

    /// <summary>The server prints on stderr what the gateway answered to its own request.</summary>
    private void OnStderr(string line)
    {
        if (line.StartsWith("answered: ", StringComparison.Ordinal))
        {
            _answered.TrySetResult(line["answered: ".Length..]);
        }
    }

    private static byte[] ToolCall(string id, string tool) =>
        Encoding.UTF8.GetBytes($$$"""{"jsonrpc":"2.0","id":{{{id}}},"method":"tools/call","params":{"name":"{{{tool}}}"}}""");

    public async ValueTask DisposeAsync() => await _transport.DisposeAsync();
}
