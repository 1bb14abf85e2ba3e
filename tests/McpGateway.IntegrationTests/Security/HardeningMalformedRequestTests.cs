using System.Net;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// Requests the property tests (FuzzHttpRequestTests) found mishandled, pinned as examples: half a surrogate pair in a
/// key or a string (a 500, and a stdio session that silently stopped reading), initialize params of the wrong shape
/// (a 500 from the SDK), and a <c>_meta</c> that is not an object (forwarded to server-memory, which never answers
/// it: the agent waited for the whole call timeout). Each now gets a clear JSON-RPC error at once.
/// </summary>
public sealed class HardeningMalformedRequestTests(HardeningGateway gateways) : IClassFixture<HardeningGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> UnpairedSurrogates() => new()
    {
        """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_read_graph","arguments":{"\udfff":1}}}""",
        """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_read_graph\udfff","arguments":{}}}""",
        """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{"entities":[{"name":"\ud800","entityType":"t","observations":[]}]}}}""",
        """{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"memory://\uDC00"}}""",
    };

    [Theory]
    [MemberData(nameof(UnpairedSurrogates))]
    public async Task Request_WithHalfASurrogatePair_GetsInvalidRequest_OverHttp_AndOverStdio_WhoseSessionGoesOn(string request)
    {
        await using RawStdioSession stdio = await RawStdioSession.StartAsync(gateways.Stateful.Gateway, Ct);

        HttpReply stateful = await gateways.Stateful.Http.PostAsync(request, Ct, await gateways.Stateful.SessionAsync(Ct));
        HttpReply stateless = await gateways.Stateless.Http.PostAsync(request, Ct);
        string line = await stdio.RequestLineAsync(2, request, Ct);
        JsonObject next = await stdio.RequestAsync(3, RawMcpHttp.ToolCall(3, "memory_read_graph"), Ct);

        foreach (HttpReply response in (HttpReply[])[stateful, stateless])
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Equal(-32600, response.Error["code"]!.GetValue<int>());
            Assert.Contains("unpaired surrogate", response.Error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Equal(stateful.Body, line);
        Assert.NotNull(next["result"]);
    }

    [Fact]
    public async Task NewSessionRequest_TooDeepToCheck_WithAMethodEscapingHalfASurrogatePair_Gets400_Not500()
    {
        // Past the duplicate check's depth (128) nothing is checked up front; session admission still reads the method.
        string request = """{"jsonrpc":"2.0","id":2,"method":"\ud800","params":""" + new string('[', 200) + new string(']', 200) + "}";

        HttpReply response = await gateways.Stateful.Http.PostAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(-32600, response.Error["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task Initialize_SentAgainOnAnOpenSession_IsAnswered_Not500_AndTheSessionKeepsItsId()
    {
        // The SDK hands the session hook of a repeated initialize the HttpContext of the request that created the
        // session, long disposed; reading it threw, and the request ended in a 500.
        string sessionId = await gateways.Stateful.Http.OpenSessionAsync(Ct);

        HttpReply again = await gateways.Stateful.Http.PostAsync(RawMcpHttp.Initialize(), Ct, sessionId);
        HttpReply listed = await gateways.Stateful.Http.PostAsync("""{"jsonrpc":"2.0","id":3,"method":"tools/list"}""", Ct, sessionId);

        Assert.True((int)again.Status < 500, $"{(int)again.Status}: {again.Body}");
        Assert.True(again.SessionId is null || again.SessionId == sessionId, "a repeated initialize changed the session id");
        Assert.Equal(HttpStatusCode.OK, listed.Status);
    }

    [Theory]
    [InlineData("\"not an object\"")]
    [InlineData("[1, 2]")]
    [InlineData("""{"protocolVersion":"2025-11-25","capabilities":"none","clientInfo":{"name":"c","version":"1"}}""")]
    [InlineData("""{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":5}""")]
    [InlineData("""{"protocolVersion":7,"capabilities":{},"clientInfo":{"name":"c","version":"1"}}""")]
    public async Task Initialize_WithParamsOfTheWrongShape_GetsInvalidParams_WithoutASession_OverHttpAndStdio(string parameters)
    {
        string request = $$"""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{parameters}}}""";
        await using RawStdioSession stdio = await RawStdioSession.StartAsync(gateways.Stateful.Gateway, Ct);

        HttpReply stateful = await gateways.Stateful.Http.PostAsync(request, Ct);
        HttpReply stateless = await gateways.Stateless.Http.PostAsync(request, Ct);
        string line = await stdio.RequestLineAsync(1, request, Ct);

        foreach (HttpReply response in (HttpReply[])[stateful, stateless])
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Null(response.SessionId);
            Assert.Equal(1, response.Message!["id"]!.GetValue<int>());
            Assert.Equal(-32602, response.Error["code"]!.GetValue<int>());
            Assert.StartsWith("The initialize request's params do not have the shape", response.Error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Equal(stateful.Body, line);
    }

    [Theory]
    [InlineData("\"trace-me\"", "'_meta' must be an object.")]
    [InlineData("null", "'_meta' must be an object.")]
    [InlineData("[1]", "'_meta' must be an object.")]
    [InlineData("""{"progressToken":{"a":1}}""", "'_meta.progressToken' must be a string or a number.")]
    [InlineData("""{"progressToken":true}""", "'_meta.progressToken' must be a string or a number.")]
    public async Task ForwardedRequest_WithAMalformedMeta_IsRefusedAtOnce_InsteadOfWaitingForTheServer(string meta, string message)
    {
        foreach (bool stateless in (bool[])[false, true])
        {
            HardenedEndpoint endpoint = gateways.Of(stateless);
            string entity = HardeningGateway.NewEntity();
            string request = """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":"""
                + HardeningGateway.Entities(entity).ToJsonString() + ""","_meta":""" + meta + "}}";

            HttpReply response = await endpoint.Http.PostAsync(request, Ct, await endpoint.SessionAsync(Ct));

            Assert.Equal(-32602, response.Error["code"]!.GetValue<int>());
            Assert.Equal(message, response.Error["message"]!.GetValue<string>());
            Assert.False(await endpoint.ExistsAsync(entity, Ct));
        }
    }
}
