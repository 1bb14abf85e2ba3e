using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Security;

/// <summary>What the gateway answered one raw HTTP request: status, headers and the body exactly as sent.</summary>
internal sealed record HttpReply(HttpStatusCode Status, string Body, string? ContentType, HttpResponseHeaders Headers)
{
    /// <summary>The Mcp-Session-Id the gateway issued, if any.</summary>
    public string? SessionId => Headers.TryGetValues("Mcp-Session-Id", out IEnumerable<string>? values) ? values.Single() : null;

    /// <summary>
    /// The JSON-RPC message in the body: the body itself for a JSON response, or the last <c>data:</c> line of an
    /// event stream (the response comes after any notifications). Null when the body is not JSON.
    /// </summary>
    public JsonObject? Message
    {
        get
        {
            string json = ContentType == "text/event-stream"
                ? Body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l["data: ".Length..]).LastOrDefault() ?? string.Empty
                : Body;
            try
            {
                return JsonNode.Parse(json) as JsonObject;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    public JsonObject Error => Message?["error"] as JsonObject ?? throw new InvalidOperationException($"Not a JSON-RPC error ({(int)Status}): {Body}");

    public JsonObject Result => Message?["result"] as JsonObject ?? throw new InvalidOperationException($"Not a JSON-RPC result ({(int)Status}): {Body}");
}

/// <summary>
/// JSON-RPC over plain HTTP POSTs, with nothing between the test and the bytes: the hardening tests need requests
/// no MCP client would send (another content type, a foreign Origin, duplicate keys) and the exact answer. Every
/// request is bounded by a timeout, so a gateway that hangs fails the test instead of stalling it.
/// </summary>
internal sealed class RawMcpHttp(Uri endpoint)
{
    public const string Accept = "application/json, text/event-stream";
    public const string ProtocolVersion = "2025-11-25";

    private static readonly HttpClient s_http = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public Uri Endpoint => endpoint;

    public static string Initialize(int id = 1) =>
        Request(id, "initialize", new JsonObject
        {
            ["protocolVersion"] = ProtocolVersion,
            ["capabilities"] = new JsonObject(),
            ["clientInfo"] = new JsonObject { ["name"] = "hardening-test", ["version"] = "1.0" },
        });

    /// <summary>A <c>tools/call</c>; with <paramref name="meta"/>, a <c>_meta</c> the fast path declines, so the SDK path answers.</summary>
    public static string ToolCall(int id, string tool, JsonObject? arguments = null, bool meta = false)
    {
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments ?? [] };
        if (meta)
        {
            parameters["_meta"] = new JsonObject { ["example.com/trace"] = "hardening" };
        }

        return new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = "tools/call", ["params"] = parameters }.ToJsonString();
    }

    public static string Request(int id, string method, JsonObject? parameters = null)
    {
        var request = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method };
        if (parameters is not null)
        {
            request["params"] = parameters;
        }

        return request.ToJsonString();
    }

    /// <summary>POSTs <paramref name="body"/>; a null <paramref name="contentType"/> sends no Content-Type at all.</summary>
    public Task<HttpReply> PostAsync(
        string body,
        CancellationToken cancellationToken,
        string? sessionId = null,
        string? contentType = "application/json",
        IEnumerable<KeyValuePair<string, string>>? headers = null,
        string? accept = Accept,
        bool chunked = false)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        HttpContent content = chunked ? new StreamContent(new MemoryStream(bytes)) : new ByteArrayContent(bytes);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = content };
        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        if (sessionId is not null)
        {
            request.Headers.Add("Mcp-Session-Id", sessionId);
            request.Headers.Add("MCP-Protocol-Version", ProtocolVersion);
        }

        foreach ((string name, string value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return SendAsync(request, cancellationToken);
    }

    public Task<HttpReply> DeleteAsync(string sessionId, CancellationToken cancellationToken, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, endpoint);
        request.Headers.Add("Mcp-Session-Id", sessionId);
        request.Headers.Add("MCP-Protocol-Version", ProtocolVersion);
        foreach ((string name, string value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return SendAsync(request, cancellationToken);
    }

    /// <summary>The 2025-11-25 handshake without a client: initialize, then notifications/initialized. Returns the session id, or null with the refusal.</summary>
    public async Task<(string? SessionId, HttpReply Response)> TryOpenSessionAsync(CancellationToken cancellationToken, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        KeyValuePair<string, string>[] sent = [.. headers ?? []];
        HttpReply initialized = await PostAsync(Initialize(), cancellationToken, headers: sent);
        if (initialized.Status != HttpStatusCode.OK || initialized.SessionId is not { } sessionId)
        {
            return (null, initialized);
        }

        HttpReply notified = await PostAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""", cancellationToken, sessionId, headers: sent);
        Assert.Equal(HttpStatusCode.Accepted, notified.Status);
        return (sessionId, initialized);
    }

    public async Task<string> OpenSessionAsync(CancellationToken cancellationToken, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        (string? sessionId, HttpReply response) = await TryOpenSessionAsync(cancellationToken, headers);
        return sessionId ?? throw new InvalidOperationException($"No session ({(int)response.Status}): {response.Body}");
    }

    public static KeyValuePair<string, string>[] Agent(string agent) => [new("X-Agent-Id", agent)];

    private static async Task<HttpReply> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using CancellationTokenSource deadline = Patience.Guard(cancellationToken);
            try
            {
                using HttpResponseMessage response = await s_http.SendAsync(request, deadline.Token);
                string body = await response.Content.ReadAsStringAsync(deadline.Token);
                return new HttpReply(response.StatusCode, body, response.Content.Headers.ContentType?.MediaType, response.Headers);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(Patience.Message($"an answer to {request.Method} {request.RequestUri}"));
            }
        }
    }
}
