using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// DNS-rebinding and cross-origin protection on the HTTP endpoint: a web page on another site can reach a loopback
/// gateway through a name it controls, and any page a browser shows (a local dev server on another port included) can
/// send requests to 127.0.0.1. A request whose Host is not a loopback name, or whose Origin is not the gateway's own
/// (or one the operator allowed), is refused with 403 before any MCP handling; requests without an Origin (every
/// non-browser client) and same-origin ones are served, in either era.
/// </summary>
[Collection(CatalogGateway.Collection)]
public sealed class DnsRebindingTests(CatalogGateway catalog)
{
    private static readonly HttpClient s_http = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string?, string?> Foreign() => new()
    {
        { ProtocolAgents.Legacy, "evil.example", null },
        { ProtocolAgents.Legacy, "evil.example:8080", "http://evil.example:8080" },
        { ProtocolAgents.Legacy, null, "http://evil.example" },
        { ProtocolAgents.Legacy, null, "https://127.0.0.1.evil.example" },
        { ProtocolAgents.Legacy, null, "null" },
        { ProtocolAgents.Legacy, "localhost", "http://localhost:5173" },
        { ProtocolAgents.Legacy, null, "http://127.0.0.1" },
        { ProtocolAgents.Legacy, null, "http://[::1]:3000" },
        { ProtocolAgents.Modern, "evil.example", null },
        { ProtocolAgents.Modern, null, "http://evil.example" },
        { ProtocolAgents.Modern, null, "http://localhost:1" },
    };

    [Theory]
    [MemberData(nameof(Foreign))]
    public async Task Post_WithAForeignHostOrOrigin_IsRefusedWith403(string era, string? host, string? origin)
    {
        using HttpRequestMessage request = Request(era, host, origin);

        using HttpResponseMessage response = await s_http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    public static TheoryData<string, string?, bool> Loopback() => new()
    {
        { ProtocolAgents.Legacy, null, false },
        { ProtocolAgents.Legacy, null, true },
        { ProtocolAgents.Legacy, "localhost", true },
        { ProtocolAgents.Modern, null, false },
        { ProtocolAgents.Modern, "localhost", true },
    };

    [Theory]
    [MemberData(nameof(Loopback))]
    public async Task Post_WithLoopbackHost_AndNoOriginOrItsOwn_IsServed(string era, string? host, bool sameOrigin)
    {
        // The gateway's own origin: what a page it served itself (the admin page, later) sends.
        string? origin = sameOrigin ? $"http://{host ?? catalog.Gateway.Endpoint.Host}:{catalog.Gateway.Endpoint.Port}" : null;
        using HttpRequestMessage request = Request(era, host is null ? null : $"{host}:{catalog.Gateway.Endpoint.Port}", origin);

        using HttpResponseMessage response = await s_http.SendAsync(request, Ct);

        string body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("mcp-gateway", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ToolCall_InAnOpenSession_WithAForeignOrigin_IsRefusedWith403()
    {
        // A page that learnt a session id (or guesses one) must not use it either: the check is per request, not per session.
        using HttpRequestMessage initialize = Request(ProtocolAgents.Legacy, host: null, origin: null);
        using HttpResponseMessage initialized = await s_http.SendAsync(initialize, Ct);
        string sessionId = initialized.Headers.GetValues("Mcp-Session-Id").Single();
        using HttpRequestMessage call = Request(ProtocolAgents.Legacy, host: null, origin: "http://evil.example");
        call.Content = new StringContent("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"everything_echo","arguments":{"message":"hi"}}}""", Encoding.UTF8, "application/json");
        call.Headers.Add("Mcp-Session-Id", sessionId);
        call.Headers.Add("MCP-Protocol-Version", ProtocolAgents.Legacy);

        using HttpResponseMessage response = await s_http.SendAsync(call, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    /// <summary>The first request of each era: initialize (2025-11-25), or server/discover with the 2026-07-28 headers.</summary>
    private HttpRequestMessage Request(string era, string? host, string? origin)
    {
        string json = era == ProtocolAgents.Legacy
            ? """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"dns-test","version":"1.0"}}}"""
            : """{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"dns-test","version":"1.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}""";
        var request = new HttpRequestMessage(HttpMethod.Post, catalog.Gateway.Endpoint)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (era == ProtocolAgents.Modern)
        {
            request.Headers.Add("MCP-Protocol-Version", ProtocolAgents.Modern);
            request.Headers.Add("Mcp-Method", "server/discover");
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return request;
    }
}
