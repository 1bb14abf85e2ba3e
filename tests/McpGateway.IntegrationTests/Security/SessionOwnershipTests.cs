using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A session belongs to the credential that created it (issue 10, item 5): its Mcp-Session-Id is not a bearer token.
/// Another key, of the same agent or another, gets 404 "Session not found" (what an unknown session gets, on every
/// replica alike: the id does not even reveal that the session exists) and no credential at all 401, before the fast
/// path or the SDK see the request, and cannot end the session.
/// </summary>
[Collection(ApiKeyGatewayCollection.Name)]
public sealed class SessionOwnershipTests(ApiKeyGateway fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private InProcessGateway Gateway => fixture.Gateway;

    public static TheoryData<string, int> Intruders() => new()
    {
        { "another key of the same agent", 404 },
        { "a key of another agent", 404 },
        { "no credentials", 401 },
    };

    [Theory]
    [MemberData(nameof(Intruders))]
    public async Task Session_UsedByAnotherCredential_IsRefused_OnTheSdkPath(string intruder, int status)
    {
        McpClient owner = await OwnerSessionAsync();

        RawResponse list = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), Credential(intruder), owner.SessionId, Ct);

        Assert.True(list.Status == status, $"{intruder}: {list}");
        Assert.DoesNotContain("fixture_pid", list.Body, StringComparison.Ordinal);
        Assert.Equal(ApiKeyGateway.AlphaTools, (await owner.ListToolNamesAsync(Ct)).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Intruders))]
    public async Task Session_UsedByAnotherCredential_IsNotAnsweredByTheFastPath(string intruder, int status)
    {
        McpClient owner = await OwnerSessionAsync();
        string call = SecurityTestKit.ToolCall("everything_echo", new JsonObject { ["message"] = "whose session?" });

        // The same raw request with the owner's key is one the fast path takes (server-everything is a 2025-11-25 stdio
        // server, the calls it may take): the refusal below is not a detour.
        long before = SecurityTestKit.FastPathTaken(Gateway);
        RawResponse own = await SecurityTestKit.PostAsync(Gateway.Endpoint, call, fixture.Alpha.Bearer(), owner.SessionId, Ct);
        long afterOwn = SecurityTestKit.FastPathTaken(Gateway);
        RawResponse stolen = await SecurityTestKit.PostAsync(Gateway.Endpoint, call, Credential(intruder), owner.SessionId, Ct);
        long afterStolen = SecurityTestKit.FastPathTaken(Gateway);

        Assert.True(own.Status == 200, own.ToString());
        Assert.Equal("application/json", own.ContentType);
        Assert.Equal(before + 1, afterOwn);
        Assert.True(stolen.Status == status, $"{intruder}: {stolen}");
        Assert.Equal(afterOwn, afterStolen);
        Assert.DoesNotContain("whose session?", stolen.Body, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Intruders))]
    public async Task Session_CannotBeEndedOrStreamed_ByAnotherCredential(string intruder, int status)
    {
        McpClient owner = await OwnerSessionAsync();

        using var delete = new HttpRequestMessage(HttpMethod.Delete, Gateway.Endpoint);
        RawResponse ended = await SecurityTestKit.SendAsync(delete, Credential(intruder), owner.SessionId, Ct);
        using var get = new HttpRequestMessage(HttpMethod.Get, Gateway.Endpoint);
        get.Headers.Accept.ParseAdd("text/event-stream");
        RawResponse streamed = await SecurityTestKit.SendAsync(get, Credential(intruder), owner.SessionId, Ct);

        Assert.True(ended.Status == status, $"DELETE with {intruder}: {ended}");
        Assert.True(streamed.Status == status, $"GET with {intruder}: {streamed}");
        JsonObject echo = await owner.CallRawAsync("everything_echo", new JsonObject { ["message"] = "still mine" }, Ct);
        Assert.Equal("Echo: still mine", echo.FirstText());
    }

    private Dictionary<string, string>? Credential(string intruder) => intruder switch
    {
        "another key of the same agent" => fixture.AlphaSecond.Bearer(),
        "a key of another agent" => fixture.Beta.ApiKeyHeader(),
        "no credentials" => null,
        _ => throw new ArgumentOutOfRangeException(nameof(intruder), intruder, null),
    };

    private async Task<McpClient> OwnerSessionAsync()
    {
        McpClient owner = await Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: fixture.Alpha.Bearer());
        Assert.False(string.IsNullOrEmpty(owner.SessionId));
        return owner;
    }
}
