using System.Text;
using System.Text.Json.Nodes;
using McpGateway.Gateway;

namespace McpGateway.Tests.Gateway;

/// <summary>
/// A key twice in one object is refused before any parser acts on the message (two readers could disagree on which
/// value wins); malformed JSON is left to the usual parser; refusals echo the request's id.
/// </summary>
public sealed class RequestValidationTests
{
    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list"}""", "method")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}""", "name")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"q":{"deep":{"agent_id":"x","agent_id":"y"}}}}}""", "agent_id")]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"list":[1,{"k":1,"k":2}]}}}""", "k")]
    [InlineData("""[{"id":1,"id":2}]""", "id")]
    public void FindProblem_DuplicateKeyAtAnyDepth_IsRefused_NamingTheKey(string json, string key) =>
        Assert.Equal($"The message has the key '{key}' more than once in one object; send each key once.", RequestValidation.FindProblem(Bytes(json)));

    [Fact]
    public void FindProblem_DuplicateKeySpelledWithAnEscape_IsRefusedToo() =>
        Assert.NotNull(RequestValidation.FindProblem(Bytes("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","n\u0061me":"b"}}""")));

    [Fact]
    public void FindProblem_LongDuplicateKey_IsNeverEchoedWhole()
    {
        string key = new('k', 100);

        string? problem = RequestValidation.FindProblem(Bytes($$"""{"{{key}}":1,"{{key}}":2}"""));

        Assert.NotNull(problem);
        Assert.StartsWith("The message has the key 'kkkk", problem, StringComparison.Ordinal);
        Assert.EndsWith("' more than once in one object; send each key once.", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(key, problem, StringComparison.Ordinal);
        Assert.True(problem.Length < 64 + 100, problem);
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"name":"b"}}}""")]
    [InlineData("""{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}""")]
    [InlineData("""{}""")]
    public void FindProblem_SameKeyInDifferentObjects_IsFine(string json) =>
        Assert.Null(RequestValidation.FindProblem(Bytes(json)));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"method":""")]
    [InlineData("""{"a":1,"a":""")]
    [InlineData("""not json""")]
    [InlineData("")]
    public void FindProblem_MalformedJson_PassesThroughToTheUsualParser(string json) =>
        Assert.Null(RequestValidation.FindProblem(Bytes(json)));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":7,"method":"x","method":"y"}""", "7")]
    [InlineData("""{"jsonrpc":"2.0","id":"req-7","method":"x","method":"y"}""", "\"req-7\"")]
    [InlineData("""{"method":"x","method":"y","id":-3}""", "-3")]
    [InlineData("""{"jsonrpc":"2.0","method":"x","method":"y"}""", "null")]
    [InlineData("""{"jsonrpc":"2.0","id":{"odd":true},"method":"x"}""", "null")]
    [InlineData("""not json""", "null")]
    public void ErrorResponse_EchoesTheRequestsId_OrNull(string json, string id)
    {
        JsonNode response = JsonNode.Parse(RequestValidation.ErrorResponse(Bytes(json), "refused"))!;

        Assert.Equal(id, response["id"]?.ToJsonString() ?? "null");
        Assert.Equal("2.0", response["jsonrpc"]!.GetValue<string>());
        Assert.Equal(-32600, response["error"]!["code"]!.GetValue<int>());
        Assert.Equal("refused", response["error"]!["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","id":1,"params":{"method":"inner"},"method":"tools/call"}""", "tools/call")]
    [InlineData("""{"jsonrpc":"2.0","id":1}""", null)]
    [InlineData("""{"method":5}""", null)]
    [InlineData("""[1]""", null)]
    [InlineData("""{"method":""", null)]
    public void MethodOf_ReadsTheTopLevelMethod(string json, string? method) =>
        Assert.Equal(method, RequestValidation.MethodOf(Bytes(json)));

    private static byte[] Bytes(string json) => Encoding.UTF8.GetBytes(json);
}
