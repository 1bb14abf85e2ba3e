using McpGateway.Diagnostics;
using McpGateway.Downstream;
using McpGateway.FastPath;
using McpGateway.Gateway;
using McpGateway.Identity;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace McpGateway.Hosting;

/// <summary>
/// Answers simple <c>tools/call</c> POSTs to <c>/mcp</c> on the fast path, with a plain JSON response, before the
/// SDK's Streamable HTTP handler sees them; everything else (and any call the fast path declines) continues to the
/// SDK unchanged. Only 2025-11-25 requests of a live stateful session, or of a stateless gateway, qualify. It runs
/// after the guard (origin, content type, duplicate keys), authentication and admission, so it sees only requests
/// the SDK path would also accept; who calls is the one resolver's answer, and what happens to the call the gate's.
/// </summary>
internal sealed class FastPathMiddleware(
    RequestDelegate next,
    FastForwarder forwarder,
    SessionRegistry sessions,
    GatewayStateProvider stateProvider,
    CallerResolver callers,
    TimeProvider time,
    HttpServeSettings settings)
{
    private const int MaxFastBodyBytes = 256 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !request.Path.Equals(HttpGateway.Path, StringComparison.Ordinal) ||
            RequestBody.Of(context) is not { Length: > 0 and <= MaxFastBodyBytes } body || !AcceptsWhatTheSdkRequires(request) ||
            request.Headers["MCP-Protocol-Version"] is { Count: > 0 } version && version.ToString() != "2025-11-25")
        {
            await next(context);
            return;
        }

        GatewaySession? session = null;
        string sessionId = request.Headers["Mcp-Session-Id"].ToString();
        if (settings.Stateless != (sessionId.Length == 0) || (sessionId.Length > 0 && (session = sessions.Find(sessionId)) is null))
        {
            await next(context);
            return;
        }

        long receivedAt = time.GetTimestamp();
        if (Prepare(context, body, session, receivedAt) is not { } call)
        {
            await next(context);
            return;
        }

        byte[] response = await call.RunAsync(context.RequestAborted);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = response.Length;
        await context.Response.Body.WriteAsync(response, context.RequestAborted);
    }

    private FastForwarder.Prepared? Prepare(HttpContext context, RequestBody body, GatewaySession? session, long receivedAt)
    {
        if (FastToolCall.TryParse(body.Memory, forwarder.AgentArgument) is not { } call)
        {
            return null;
        }

        // The fast path takes only calls without an identity argument, so the request's claims are its principal and header.
        GatewaySession effective = session ?? new GatewaySession(stateless: true);
        Caller caller = callers.Resolve(HttpIdentity.ClaimsOf(context, null, callers.Options), effective.Identity, stateProvider.Current.Policy);
        if (caller.IsRefused)
        {
            // The full path refuses it, with the same words, and audits the attempt.
            return null;
        }

        IUpstream upstream = session?.Server is { } server ? new SessionUpstream(server, session) : NoUpstream.Instance;
        return forwarder.TryPrepare(call, caller, upstream, effective, HttpIdentity.ClientAddress(context), receivedAt, body.Length, GatewayTelemetry.Transports.Tcp);
    }

    /// <summary>The SDK answers 406 unless the client accepts both JSON and event streams; so does the fast path, by declining.</summary>
    private static bool AcceptsWhatTheSdkRequires(HttpRequest request)
    {
        IList<MediaTypeHeaderValue> accept = request.GetTypedHeaders().Accept;
        return accept.Any(a => a.MatchesMediaType("application/json")) && accept.Any(a => a.MatchesMediaType("text/event-stream"));
    }
}
