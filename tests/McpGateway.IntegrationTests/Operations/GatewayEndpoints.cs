using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>Requests to the operations endpoints (<c>/healthz</c>, <c>/readyz</c>, <c>/status</c>, <c>/admin/reload</c>) of a gateway on loopback.</summary>
internal static class GatewayEndpoints
{
    private static readonly HttpClient s_http = new() { Timeout = Patience.HangGuard };

    /// <summary><c>http://127.0.0.1:PORT</c> of an MCP endpoint <c>http://127.0.0.1:PORT/mcp</c>.</summary>
    public static Uri RootOf(Uri mcpEndpoint) => new(mcpEndpoint.GetLeftPart(UriPartial.Authority));

    public static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, Uri root, string path, string? key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(root, path));
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        using HttpResponseMessage response = await s_http.SendAsync(request, cancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    public static Task<(HttpStatusCode Status, string Body)> GetAsync(Uri root, string path, CancellationToken cancellationToken, string? key = null) =>
        SendAsync(HttpMethod.Get, root, path, key, cancellationToken);

    /// <summary>GET of a JSON endpoint that must answer <paramref name="expected"/>.</summary>
    public static async Task<JsonObject> GetJsonAsync(Uri root, string path, CancellationToken cancellationToken, string? key = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        (HttpStatusCode status, string body) = await GetAsync(root, path, cancellationToken, key);
        Assert.True(status == expected, $"GET {path} answered {(int)status}, not {(int)expected}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>The entry of server <paramref name="name"/> in a <c>/status</c> answer.</summary>
    public static JsonObject Server(JsonObject status, string name) =>
        status["servers"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == name)!.AsObject();
}
