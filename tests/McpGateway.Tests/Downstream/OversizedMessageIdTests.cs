using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.Tests.Downstream;

/// <summary>
/// The id of a message skipped for its size, found from its first and last 4 KB only: at the head where an SDK writes
/// <c>jsonrpc</c> and <c>id</c> first, at the tail in the orders the C# SDK (result, id, jsonrpc) and the TypeScript
/// SDK (result, jsonrpc, id) write; and none when the message answers no request of the gateway's (a notification, or
/// a request of the server's own, whose id is in the server's numbering).
/// </summary>
public sealed class OversizedMessageIdTests
{
    private const int Kept = 4 * 1024;
    private static readonly string s_filler = new('a', 3 * Kept);

    [Fact]
    public void Find_ResponseWrittenByTheCSharpSdk_ReadsTheIdFromTheTail()
    {
        byte[] line = JsonSerializer.SerializeToUtf8Bytes<JsonRpcMessage>(
            new JsonRpcResponse { Id = new RequestId(42), Result = new JsonObject { ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = s_filler }) } },
            McpJsonUtilities.DefaultOptions);

        Assert.Equal(new RequestId(42), Find(line));
    }

    [Fact]
    public void Find_ErrorWrittenByTheCSharpSdk_ReadsTheStringIdFromTheTail()
    {
        byte[] line = JsonSerializer.SerializeToUtf8Bytes<JsonRpcMessage>(
            new JsonRpcError { Id = new RequestId("mcpgw:7"), Error = new JsonRpcErrorDetail { Code = -32603, Message = s_filler } },
            McpJsonUtilities.DefaultOptions);

        Assert.Equal(new RequestId("mcpgw:7"), Find(line));
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"FILL"}]}}""", 42L)]
    [InlineData("""{"jsonrpc": "2.0", "id": 42, "error": {"code": -32603, "message": "FILL"}}""", 42L)]
    public void Find_ResponseWithTheIdFirst_ReadsTheIdFromTheHead(string message, long id) =>
        Assert.Equal(new RequestId(id), Find(Fill(message)));

    [Fact]
    public void Find_ResponseWithTheIdFirst_ReadsAStringIdFromTheHead() =>
        Assert.Equal(new RequestId("mcpgw:7"), Find(Fill("""{"jsonrpc":"2.0","id":"mcpgw:7","result":{"text":"FILL"}}""")));

    [Theory]
    [InlineData("""{"result":{"content":[{"type":"text","text":"FILL"}]},"id":42,"jsonrpc":"2.0"}""", 42L)]
    [InlineData("""{"result":{"text":"FILL"}, "id": 42, "jsonrpc": "2.0" }""", 42L)]
    public void Find_ResponseInTheCSharpSdkOrder_ReadsTheIdFromTheTail(string message, long id) =>
        Assert.Equal(new RequestId(id), Find(Fill(message)));

    [Theory]
    [InlineData("""{"result":{"content":[{"type":"text","text":"FILL"}]},"jsonrpc":"2.0","id":42}""", 42L)]
    [InlineData("""{"result":{"content":[{"type":"text","text":"FILL"}]},"jsonrpc":"2.0","id":-3}""", -3L)]
    [InlineData("""{"result":{"text":"FILL"},"jsonrpc":"2.0","id":42 }""" + "\r", 42L)]
    public void Find_ResponseInTheTypeScriptSdkOrder_ReadsTheNumericIdFromTheTail(string message, long id) =>
        Assert.Equal(new RequestId(id), Find(Fill(message)));

    [Fact]
    public void Find_ResponseInTheTypeScriptSdkOrder_ReadsAStringIdWithEscapesFromTheTail() =>
        Assert.Equal(new RequestId("a\"b"), Find(Fill("""{"result":{"text":"FILL"},"jsonrpc":"2.0","id":"a\"b"}""")));

    [Theory]
    [InlineData("""{"result":{"content":[{"type":"text","text":"FILL"}]}}""")]
    [InlineData("""{"result":{"items":[{"x":"FILL","id":3}]}}""")]
    [InlineData("""{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"FILL"}}""")]
    [InlineData("""{"method":"notifications/message","params":{"data":"FILL","id":5},"jsonrpc":"2.0"}""")]
    [InlineData("""not json at all FILL""")]
    public void Find_MessageThatNamesNoRequest_FindsNoId(string message) =>
        Assert.Null(Find(Fill(message)));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"FILL"}}]}}""")]
    [InlineData("""{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"FILL"}}]},"jsonrpc":"2.0","id":1}""")]
    [InlineData("""{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"FILL"}}]},"id":1,"jsonrpc":"2.0"}""")]
    public void Find_RequestOfTheServersOwn_IsNotTakenForAReplyToTheGatewaysRequestOfTheSameId(string message) =>
        Assert.Null(Find(Fill(message)));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"text":"FILL"}}""", 1L)]
    [InlineData("""{"method":"sampling/createMessage","params":{"text":"FILL"},"jsonrpc":"2.0","id":9}""", 9L)]
    [InlineData("""{"method":"sampling/createMessage","params":{"text":"FILL"},"id":9,"jsonrpc":"2.0"}""", 9L)]
    public void Read_RequestOfTheServersOwn_IsARequestWithItsId_ToBeAnsweredWithAnError(string message, long id) =>
        Assert.Equal(new OversizedMessage(OversizedKind.Request, new RequestId(id)), Read(Fill(message)));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":4,"result":{"text":"FILL"}}""", nameof(OversizedKind.Response))]
    [InlineData("""{"result":{"text":"FILL"},"jsonrpc":"2.0","id":4}""", nameof(OversizedKind.Response))]
    [InlineData("""{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"FILL"}}""", nameof(OversizedKind.Notification))]
    [InlineData("""{"method":"notifications/progress","params":{"message":"FILL"},"jsonrpc":"2.0"}""", nameof(OversizedKind.Notification))]
    [InlineData("""{"result":{"text":"FILL"}}""", nameof(OversizedKind.Unknown))]
    public void Read_TellsResponsesNotificationsAndTheUnknownApart(string message, string kind) =>
        Assert.Equal(Enum.Parse<OversizedKind>(kind), Read(Fill(message)).Kind);

    private static RequestId? Find(byte[] line) => OversizedMessageId.Find(Head(line), Tail(line));

    private static OversizedMessage Read(byte[] line) => OversizedMessageId.Read(Head(line), Tail(line));

    private static byte[] Head(byte[] line) => line[..Math.Min(Kept, line.Length)];

    private static byte[] Tail(byte[] line) => line[Math.Max(0, line.Length - Kept)..];

    private static byte[] Fill(string message) => Encoding.UTF8.GetBytes(message.Replace("FILL", s_filler, StringComparison.Ordinal));
}
