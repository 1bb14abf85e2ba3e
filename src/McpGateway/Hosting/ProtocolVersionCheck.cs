using System.Text.Json;
using McpGateway.Downstream;
using McpGateway.Gateway;
using Microsoft.AspNetCore.Http;

namespace McpGateway.Hosting;

/// <summary>
/// Answers a request to <c>/mcp</c> whose <c>MCP-Protocol-Version</c> header names a revision the gateway does not serve
/// with the specification's UnsupportedProtocolVersionError: -32022, HTTP 400, and <c>data</c> of
/// <c>{"supported": [...], "requested": "..."}</c>. The list is the one <c>server/discover</c> gives: the revisions a
/// request can name on its own (2026-07-28). The SDK would list every revision it knows, including the ones only the
/// initialize handshake selects, so a client choosing from its list could pick one that no request can carry.
/// </summary>
internal sealed class ProtocolVersionCheck(RequestDelegate next)
{
    private const string Header = "MCP-Protocol-Version";

    // The revisions the SDK's Streamable HTTP endpoint serves (2.4.0): the initialize-handshake ones after a handshake,
    // 2026-07-28 request by request. A header naming any of them is the SDK's to judge.
    private static readonly HashSet<string> s_served = new(StringComparer.Ordinal)
    {
        "2024-11-05", "2025-03-26", "2025-06-18", ProtocolVersions.Legacy, ProtocolVersions.July2026,
    };

    // What server/discover lists as supportedVersions (the SDK answers it).
    private static readonly string[] s_perRequestVersions = [ProtocolVersions.July2026];

    public async Task InvokeAsync(HttpContext context)
    {
        string requested = context.Request.Headers[Header].ToString();
        if (requested.Length == 0 || s_served.Contains(requested) || !context.Request.Path.Equals(HttpGateway.Path, StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        ReadOnlySpan<byte> body = RequestBody.Of(context) is { } request ? request.Memory.Span : default;
        byte[] error = RequestValidation.ErrorResponse(body, (int)ModelContextProtocol.McpErrorCode.UnsupportedProtocolVersion, "Unsupported protocol version", writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("supported"u8);
            foreach (string version in s_perRequestVersions)
            {
                writer.WriteStringValue(version);
            }

            writer.WriteEndArray();
            writer.WriteString("requested"u8, requested);
            writer.WriteEndObject();
        });
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(error, context.RequestAborted);
    }
}
