using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using McpGateway.FastPath;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.IntegrationTests.Security;

/// <summary>A key made for a test: the secret the agent sends, its public id, and the agent it belongs to.</summary>
internal sealed record TestKey(string Id, string Key, string Agent)
{
    public ApiKeyEntry Entry(DateTimeOffset created, DateTimeOffset? expires = null, DateTimeOffset? revoked = null) =>
        new() { Id = Id, Agent = Agent, Created = created, Expires = expires, Revoked = revoked, Hash = ApiKey.Hash(Key) };

    /// <summary>The headers of an agent presenting this key as a bearer credential.</summary>
    public Dictionary<string, string> Bearer() => new() { ["Authorization"] = "Bearer " + Key };

    /// <summary>The headers of an agent presenting this key in <c>X-API-Key</c>.</summary>
    public Dictionary<string, string> ApiKeyHeader() => new() { ["X-API-Key"] = Key };

    public override string ToString() => $"key {Id} of {Agent}";
}

/// <summary>What one raw HTTP exchange with the gateway returned.</summary>
internal sealed record RawResponse(int Status, string? WwwAuthenticate, string? ContentType, string Body)
{
    /// <summary>The JSON-RPC message in the body (a plain JSON body, or the first <c>data:</c> line of an event stream).</summary>
    public JsonObject? Message
    {
        get
        {
            string text = Body.TrimStart();
            if (!text.StartsWith('{'))
            {
                text = Body.Split('\n').FirstOrDefault(l => l.StartsWith("data:", StringComparison.Ordinal))?["data:".Length..] ?? string.Empty;
            }

            try
            {
                return JsonNode.Parse(text) as JsonObject;
            }
            catch (System.Text.Json.JsonException)
            {
                return null;
            }
        }
    }

    public string? ErrorMessage => Message?["error"]?["message"]?.GetValue<string>();

    public override string ToString() => $"HTTP {Status} ({ContentType}) WWW-Authenticate: {WwwAuthenticate}{Environment.NewLine}{Body}";
}

/// <summary>
/// Shared pieces of the security tests: keys files with known keys, raw HTTP requests (a security test must see the
/// status code and headers a client library would turn into an exception), the audit file, and waits on events.
/// </summary>
internal static class SecurityTestKit
{
    private static readonly HttpClient s_http = new() { Timeout = Patience.HangGuard };

    public static HttpClient Http => s_http;

    public static TestKey NewKey(string agent)
    {
        (string id, string key) = ApiKey.Generate(_ => false);
        return new TestKey(id, key, agent);
    }

    /// <summary>A well-formed key with this key's id whose secret is different: the id is known, the secret is wrong.</summary>
    public static string WrongSecret(TestKey key) => ApiKey.Prefix + key.Id + "_" + new string('A', 43);

    /// <summary>POSTs one JSON-RPC message to <c>/mcp</c> as a 2025-11-25 client does, with extra headers and an optional session.</summary>
    public static async Task<RawResponse> PostAsync(Uri endpoint, string json, IReadOnlyDictionary<string, string>? headers, string? sessionId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        return await SendAsync(request, headers, sessionId, cancellationToken);
    }

    /// <summary>Any request to the gateway with the given headers (GET for the event stream, DELETE to end a session).</summary>
    public static async Task<RawResponse> SendAsync(HttpRequestMessage request, IReadOnlyDictionary<string, string>? headers, string? sessionId, CancellationToken cancellationToken)
    {
        foreach ((string name, string value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (sessionId is not null)
        {
            request.Headers.Add("Mcp-Session-Id", sessionId);
        }

        using HttpResponseMessage response = await s_http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        string? challenge = response.Headers.WwwAuthenticate.Count == 0 ? null : string.Join(", ", response.Headers.WwwAuthenticate.Select(h => h.ToString()));

        // A GET event stream stays open: read it only when it is not one.
        MediaTypeHeaderValue? type = response.Content.Headers.ContentType;
        string body = request.Method == HttpMethod.Get && type?.MediaType == "text/event-stream" ? string.Empty : await response.Content.ReadAsStringAsync(cancellationToken);
        return new RawResponse((int)response.StatusCode, challenge, type?.MediaType, body);
    }

    public static string ToolCall(string tool, JsonObject? arguments = null, int id = 1) => new JsonObject
    {
        ["jsonrpc"] = "2.0",
        ["id"] = id,
        ["method"] = "tools/call",
        ["params"] = new JsonObject { ["name"] = tool, ["arguments"] = arguments ?? new JsonObject() },
    }.ToJsonString();

    public static string ToolsList(int id = 1) => $$"""{"jsonrpc":"2.0","id":{{id}},"method":"tools/list"}""";

    public static long FastPathTaken(InProcessGateway gateway) => gateway.Services.GetRequiredService<FastForwarder>().Taken;

    /// <summary>Every audit record written so far (the log is flushed first, so every decision made before the call is there).</summary>
    public static async Task<List<JsonObject>> ReadAuditAsync(InProcessGateway gateway, string path, CancellationToken cancellationToken)
    {
        await gateway.Services.GetRequiredService<AuditLog>().FlushAsync(cancellationToken);
        if (!File.Exists(path))
        {
            // Opened with the first record.
            return [];
        }

        return [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!)];
    }

    /// <summary>
    /// The records of requests refused at the HTTP level (authentication, authorization) among <paramref name="records"/>:
    /// what a refusal test looks for, without the records other clients of a shared gateway may add meanwhile.
    /// </summary>
    public static JsonObject[] HttpRefusals(IEnumerable<JsonObject> records) =>
        [.. records.Where(r => r["method"]?.GetValue<string>() == "http" && r["decision"]?.GetValue<string>() == "refused")];

    /// <summary>
    /// Waits until the gateway's key store satisfies <paramref name="condition"/>, checking after each reload it
    /// reports (the file watcher's event, not the clock, says when to look again).
    /// </summary>
    public static async Task WaitForKeysAsync(ApiKeyStore store, Func<ApiKeyStore, bool> condition, CancellationToken cancellationToken)
    {
        using var reloaded = new SemaphoreSlim(0);
        void OnReloaded(int _) => reloaded.Release();
        store.Reloaded += OnReloaded;
        try
        {
            using CancellationTokenSource deadline = Patience.Guard(cancellationToken);
            while (!condition(store))
            {
                try
                {
                    await reloaded.WaitAsync(deadline.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    Assert.Fail(Patience.Message($"the gateway to pick up the change to {store.Path} (reloads so far: {store.Version})"));
                }
            }
        }
        finally
        {
            store.Reloaded -= OnReloaded;
        }
    }
}
