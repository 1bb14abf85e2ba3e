using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace McpGateway.LoadTest;

/// <summary>What one call of the chaos soak got, with when it started and ended (Stopwatch ticks).</summary>
internal sealed record ChaosCall(string Tool, long Started, long Ended, int Responses, string Kind)
{
    public string Server => Tool[..Tool.IndexOf('_', StringComparison.Ordinal)];

    public bool Succeeded => Kind == "ok";

    public bool AnsweredOnce => Responses == 1;
}

/// <summary>
/// One agent session of the chaos soak: raw JSON-RPC over keep-alive Streamable HTTP (2025-11-25, stateful), so every
/// response on the wire is counted, not what a client library makes of them. A call carries a tag of its own in its
/// arguments, and a successful answer must echo that tag: an answer meant for another call would show.
/// </summary>
internal sealed partial class ChaosHttpSession(Uri endpoint, IReadOnlyDictionary<string, string> headers, bool sdkPath) : IAsyncDisposable
{
    private static long s_nextId;
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        MaxConnectionsPerServer = 1,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
    })
    { Timeout = TimeSpan.FromMinutes(15) };

    private string? _sessionId;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        using HttpResponseMessage init = await PostAsync(CallTemplate.Initialize(Interlocked.Increment(ref s_nextId)), cancellationToken);
        init.EnsureSuccessStatusCode();
        _sessionId = init.Headers.TryGetValues("Mcp-Session-Id", out IEnumerable<string>? ids) ? ids.First() : null;
        _ = await init.Content.ReadAsByteArrayAsync(cancellationToken);
        using HttpResponseMessage initialized = await PostAsync(CallTemplate.Initialized, cancellationToken);
        _ = await initialized.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>Calls a tool; a tag in <paramref name="arguments"/> (<c>text</c> or <c>message</c>) is what its answer must echo.</summary>
    public async Task<ChaosCall> CallAsync(string tool, JsonObject arguments, CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref s_nextId);
        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments };
        if (sdkPath)
        {
            // A progress token sends the call through the SDK's handlers; the fast path leaves those to them.
            parameters["_meta"] = new JsonObject { ["progressToken"] = "chaos-" + id.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        }

        byte[] body = Encoding.UTF8.GetBytes(new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = "tools/call", ["params"] = parameters }.ToJsonString());
        string? tag = arguments["text"]?.GetValue<string>() ?? arguments["message"]?.GetValue<string>();
        long started = Stopwatch.GetTimestamp();
        try
        {
            using HttpResponseMessage response = await PostAsync(body, cancellationToken);
            byte[] content = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            long ended = Stopwatch.GetTimestamp();
            if (!response.IsSuccessStatusCode)
            {
                return new ChaosCall(tool, started, ended, 0, $"HTTP {(int)response.StatusCode}");
            }

            JsonObject[] answers = [.. Messages(content, response.Content.Headers.ContentType?.MediaType).Where(m => m["id"] is JsonValue v && v.TryGetValue(out long found) && found == id && (m.ContainsKey("result") || m.ContainsKey("error")))];
            return new ChaosCall(tool, started, ended, answers.Length, answers.Length == 0 ? "no response" : Classify(tool, answers[0], tag));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new ChaosCall(tool, started, Stopwatch.GetTimestamp(), 0, "transport failure: " + ex.GetType().Name);
        }
    }

    /// <summary>The kind of an answer, with numbers (exit codes, seconds, ids) taken out so answers can be counted by kind.</summary>
    private static string Classify(string tool, JsonObject answer, string? tag)
    {
        if (answer["error"] is JsonObject error)
        {
            return $"error {error["code"]}: {Numberless(error["message"]?.GetValue<string>())}";
        }

        JsonObject? result = answer["result"] as JsonObject;
        string? text = result?["content"]?[0]?["text"]?.GetValue<string>();
        if (result?["isError"]?.GetValue<bool>() == true)
        {
            return "tool error: " + Numberless(text);
        }

        string? echoed = tool.StartsWith("everything_", StringComparison.Ordinal) ? text : result?["structuredContent"]?["arguments"]?["text"]?.GetValue<string>();
        return tag is null || echoed == (tool.StartsWith("everything_", StringComparison.Ordinal) ? "Echo: " + tag : tag) ? "ok" : "ok, but not this call's answer";
    }

    private static string Numberless(string? text) => text is null ? "(no text)" : Digits().Replace(text.Length > 160 ? text[..160] + "…" : text, "N");

    /// <summary>The JSON-RPC messages of a response body: one JSON document, or the data of each SSE event.</summary>
    private static IEnumerable<JsonObject> Messages(byte[] content, string? mediaType)
    {
        if (mediaType != "text/event-stream")
        {
            return Parse(content) is { } single ? [single] : [];
        }

        var messages = new List<JsonObject>();
        var data = new StringBuilder();
        foreach (string line in Encoding.UTF8.GetString(content).Split('\n'))
        {
            string trimmed = line.TrimEnd('\r');
            if (trimmed.StartsWith("data:", StringComparison.Ordinal))
            {
                data.Append(trimmed.AsSpan(5).TrimStart(' ')).Append('\n');
            }
            else if (trimmed.Length == 0 && data.Length > 0)
            {
                if (Parse(Encoding.UTF8.GetBytes(data.ToString())) is { } message)
                {
                    messages.Add(message);
                }

                data.Clear();
            }
        }

        if (data.Length > 0 && Parse(Encoding.UTF8.GetBytes(data.ToString())) is { } last)
        {
            messages.Add(last);
        }

        return messages;
    }

    private static JsonObject? Parse(byte[] json)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private Task<HttpResponseMessage> PostAsync(byte[] body, CancellationToken cancellationToken) =>
        _http.SendAsync(StreamableHttpSession.Post(endpoint, body, _sessionId, headers), HttpCompletionOption.ResponseContentRead, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();
}
