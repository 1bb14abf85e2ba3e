using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Audit;

/// <summary>
/// Two audited gateways in front of the fixture server and server-everything, started once for
/// <see cref="AuditRecordTests"/>, both with argument values in the log: <see cref="Keys"/> authenticates with API
/// keys (alpha, beta and limited, whose budget is two calls an hour), <see cref="Open"/> takes self-asserted identity
/// (the header, the argument) over HTTP and stdio. alpha may call echo_args, fail and protocol_error of the fixture
/// (whose a_b is hidden from it), echo and get-sum of everything, and trigger-long-running-operation of hasty (a second
/// server-everything, whose calls time out after a second).
/// </summary>
public sealed class AuditGateways : IAsyncLifetime
{
    public const string Rules = """
        {
          "agents": {
            "alpha": {
              "allow": {
                "servers": ["fixture", "everything", "hasty"],
                "tools": { "fixture": ["echo_args", "fail", "protocol_error"], "everything": ["echo", "get-sum"], "hasty": ["trigger-long-running-operation"] }
              }
            },
            "beta": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args", "a_b"] } } },
            "limited": { "allow": { "servers": ["everything"], "tools": { "everything": ["echo"] } } }
          }
        }
        """;

    /// <summary>
    /// Calls to hasty time out after this (its long-running operation outlasts it by far). A server of its own: on a
    /// loaded machine an echo could take a second too, and must never time out.
    /// </summary>
    public const int CallTimeoutMs = 1000;

    public const int LimitedBudget = 2;

    internal AuditedGateway Keys { get; private set; } = null!;

    internal AuditedGateway Open { get; private set; } = null!;

    /// <summary>
    /// The fixture (SDK-built, on 2026-07-28, so always answered on the full path) and server-everything twice (on
    /// 2025-11-25 over stdio, so the fast path takes its plain calls), once with a short call timeout.
    /// </summary>
    internal static string Servers
    {
        get
        {
            JsonObject hasty = TestServers.Everything();
            hasty["callTimeoutMs"] = CallTimeoutMs;
            return TestServers.File(("fixture", TestServers.Fixture()), ("everything", TestServers.Everything()), ("hasty", hasty));
        }
    }

    public async ValueTask InitializeAsync()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var audit = new JsonObject { ["arguments"] = true };
        var limits = new JsonObject
        {
            ["limits"] = new JsonObject { ["rate"] = new JsonObject { ["windowSeconds"] = 3600, ["agents"] = new JsonObject { ["limited"] = LimitedBudget } } },
        };
        AuditedGateway[] gateways = await Task.WhenAll(
            AuditedGateway.StartAsync(Servers, Rules, ct, audit: audit, settings: limits, keysFor: ["alpha", "beta", "limited"]),
            AuditedGateway.StartAsync(Servers, Rules, ct, audit: audit));
        (Keys, Open) = (gateways[0], gateways[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(new[] { Keys, Open }.Where(g => g is not null).Select(g => g.DisposeAsync().AsTask()));
    }

    /// <summary>
    /// POSTs one JSON-RPC message to <paramref name="endpoint"/> as a Streamable HTTP client would (raw, because a
    /// test of refusals must see the status and headers a client library would turn into an exception).
    /// </summary>
    internal static async Task<HttpResponseMessage> PostAsync(HttpClient http, Uri endpoint, string json, IReadOnlyDictionary<string, string>? headers, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.TryAddWithoutValidation("MCP-Protocol-Version", "2025-11-25");
        foreach ((string name, string value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await http.SendAsync(request, cancellationToken);
    }

    internal const string Initialize =
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"audit-test","version":"1.0"}}}""";
}
