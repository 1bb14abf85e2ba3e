using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>Requests to the operations endpoints (<c>/healthz</c>, <c>/readyz</c>, <c>/status</c>, <c>/admin/reload</c>) of a gateway on loopback.</summary>
internal static class GatewayEndpoints
{
    /// <summary>A state the gateway reaches in milliseconds on a quiet machine, and in seconds on a busy one.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };

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

    /// <summary>
    /// Polls a JSON endpoint until its answer satisfies <paramref name="condition"/> (a state of the gateway no event
    /// announces to a test, such as a server's restart count); fails with the last answer after the timeout.
    /// </summary>
    public static async Task<JsonObject> WaitForAsync(Uri root, string path, Func<HttpStatusCode, JsonObject, bool> condition, string what, CancellationToken cancellationToken, string? key = null)
    {
        long deadline = Environment.TickCount64 + (long)DefaultTimeout.TotalMilliseconds;
        while (true)
        {
            (HttpStatusCode status, string body) = await GetAsync(root, path, cancellationToken, key);
            JsonObject json = JsonNode.Parse(body)!.AsObject();
            if (condition(status, json))
            {
                return json;
            }

            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"Waited {DefaultTimeout.TotalSeconds} s for {what}; GET {path} last answered {(int)status}: {body}");
            }

            await Task.Delay(s_pollInterval, cancellationToken);
        }
    }

    /// <summary>The entry of server <paramref name="name"/> in a <c>/status</c> answer.</summary>
    public static JsonObject Server(JsonObject status, string name) =>
        status["servers"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == name)!.AsObject();
}
