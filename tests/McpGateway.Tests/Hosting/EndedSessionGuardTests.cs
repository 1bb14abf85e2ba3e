using System.Text.Json.Nodes;
using McpGateway.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpGateway.Tests.Hosting;

/// <summary>
/// What the SDK throws when a stateful session ends while it takes a request in becomes the 404 "Session not found"
/// of any request naming an ended session, never an unhandled exception (a 500 from Kestrel); anything else goes on.
/// </summary>
public sealed class EndedSessionGuardTests
{
    public static TheoryData<string> SessionEndings() => ["session disposed", "transport's token source disposed", "channel closed"];

    [Theory]
    [MemberData(nameof(SessionEndings))]
    public async Task RequestNamingASession_ThatEndsUnderIt_Gets404SessionNotFound(string ending)
    {
        DefaultHttpContext context = Request(withSession: true);
        var guard = new EndedSessionGuard(Ending(ending), NullLogger<EndedSessionGuard>.Instance);

        await guard.InvokeAsync(context);

        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        JsonNode answer = JsonNode.Parse(context.Response.Body)!;
        Assert.Equal(-32001, answer["error"]!["code"]!.GetValue<int>());
        Assert.Equal("Session not found", answer["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task DisposedTokenSource_OfARequestNamingNoSession_IsNotTakenForASessionEnding()
    {
        var guard = new EndedSessionGuard(Ending("transport's token source disposed"), NullLogger<EndedSessionGuard>.Instance);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => guard.InvokeAsync(Request(withSession: false)));
    }

    [Fact]
    public async Task AnotherDisposedObject_IsNotTakenForASessionEnding()
    {
        var guard = new EndedSessionGuard(_ => throw new ObjectDisposedException("SomethingElse"), NullLogger<EndedSessionGuard>.Instance);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => guard.InvokeAsync(Request(withSession: true)));
    }

    private static DefaultHttpContext Request(bool withSession)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        if (withSession)
        {
            context.Request.Headers["Mcp-Session-Id"] = "a-session";
        }

        context.Response.Body = new MemoryStream();
        return context;
    }

    /// <summary>A handler that fails as the SDK does, each exception thrown (through an await) by the object that was closed.</summary>
    private static RequestDelegate Ending(string ending) => async context =>
    {
        await Task.Yield();
        switch (ending)
        {
            case "session disposed":
                throw new ObjectDisposedException("StreamableHttpSession");
            case "transport's token source disposed":
                var source = new CancellationTokenSource();
                source.Dispose();
                _ = source.Token;
                break;
            default:
                throw new System.Threading.Channels.ChannelClosedException();
        }
    };
}
