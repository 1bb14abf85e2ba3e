using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.Identity.Sessions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace McpGateway.Hosting;

/// <summary>
/// The one place that reads the <c>Mcp-Session-Id</c> a client sends and writes the one it gets. A client only ever
/// sees a sealed session ticket (<see cref="SessionTokens"/>); everything after this middleware (admission, the
/// ended-session guard, the fast path, the SDK, the session's fingerprint in the audit and traces) sees the SDK's own
/// session id, which the ticket carries. A session id that does not open (made up, tampered with, sealed with a key
/// this gateway no longer has, past <c>sessions.maxAgeSeconds</c>, of a session its client ended with DELETE) or that
/// another credential sends is answered as the SDK answers an unknown session (404, -32001 "Session not found") and
/// audited, without the id.
/// </summary>
/// <remarks>
/// Runs after authentication (ownership needs the principal) and before session admission. Requests of a stateless
/// gateway and 2026-07-28 requests (no sessions) pass untouched: the SDK judges their header itself.
/// </remarks>
internal sealed partial class SessionTokenMiddleware(
    RequestDelegate next,
    HttpServeSettings settings,
    SessionTokens tokens,
    SessionRegistry sessions,
    SessionStates states,
    GatewayAudit audit,
    ILogger<SessionTokenMiddleware> logger)
{
    public const string Header = "Mcp-Session-Id";

    private const string InboundItem = "mcp-gateway.session-id";
    private const string IssuedItem = "mcp-gateway.session-id-issued";
    private const string ResumingItem = "mcp-gateway.session-resuming";
    private const string SessionItem = "mcp-gateway.session";

    private static readonly Func<object, Task> s_rewrite = state =>
    {
        RewriteResponse((HttpContext)state);
        return Task.CompletedTask;
    };

    public async Task InvokeAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (settings.Stateless || !request.Path.Equals(HttpGateway.Path, StringComparison.Ordinal) ||
            ProtocolEras.IsJuly2026OrLater(request.Headers["MCP-Protocol-Version"].ToString()))
        {
            await next(context);
            return;
        }

        StringValues sent = request.Headers[Header];
        if (sent.Count > 0 && sent.ToString().Length > 0)
        {
            AuthenticatedCaller? principal = GatewayClaims.Read(context.User);
            TokenRefusal refusal = sent.Count == 1 ? tokens.Open(sent[0]!, out SessionTicket? ticket) : Refuse(out ticket);
            string? reason = refusal switch
            {
                TokenRefusal.Expired => "session id past its maximum age (sessions.maxAgeSeconds)",
                TokenRefusal.Unreadable => "session id not issued by this gateway, altered, or sealed with a key it no longer has",
                _ when !ticket!.IsOwnedBy(principal) => "session of another credential",
                _ => null,
            };
            if (reason is not null)
            {
                await RefuseAsync(context, principal, reason);
                return;
            }

            if (HttpMethods.IsDelete(request.Method))
            {
                // The client ends its session: on every replica (with a shared store), and here in any case.
                await states.EndedAsync(ticket!, context.RequestAborted);
            }
            else if (sessions.Find(ticket!.SessionId) is null && await states.HasEndedAsync(ticket.SessionId, context.RequestAborted))
            {
                // Not held here, so it would be resumed: unless its client ended it.
                await RefuseAsync(context, principal, "session ended by its client");
                return;
            }

            context.Items[InboundItem] = new InboundSession(sent[0]!, ticket!);
            request.Headers[Header] = ticket!.SessionId;
        }

        context.Response.OnStarting(s_rewrite, context);
        await next(context);
    }

    /// <summary>The session ticket this request's Mcp-Session-Id carried, once accepted.</summary>
    public static SessionTicket? TicketOf(HttpContext context) => (context.Items[InboundItem] as InboundSession)?.Ticket;

    /// <summary>The session id to send back for a session this request created (its response carries it).</summary>
    public static void Issued(HttpContext context, string sessionId, string token) => context.Items[IssuedItem] = new IssuedSession(sessionId, token);

    /// <summary>Marks the session this request named as one to resume here, from its ticket (the SDK's migration).</summary>
    public static void MarkResuming(HttpContext context, SessionTicket ticket) => context.Items[ResumingItem] = ticket;

    /// <summary>The ticket of the session this request is resuming on this replica, if it is.</summary>
    public static SessionTicket? ResumingOf(HttpContext context) => context.Items[ResumingItem] as SessionTicket;

    /// <summary>The gateway session a request created (or resumed), until its id is issued.</summary>
    public static void SetSession(HttpContext context, GatewaySession session) => context.Items[SessionItem] = session;

    public static GatewaySession? SessionOf(HttpContext context) => context.Items[SessionItem] as GatewaySession;

    /// <summary>
    /// The SDK put its own session id in the response; the client gets the ticket for it instead: the one issued by
    /// this request's initialize, or the one the client sent. Any other id is dropped, never sent.
    /// </summary>
    private static void RewriteResponse(HttpContext context)
    {
        IHeaderDictionary headers = context.Response.Headers;
        string sessionId = headers[Header].ToString();
        if (sessionId.Length == 0)
        {
            return;
        }

        if (context.Items[IssuedItem] is IssuedSession issued && issued.SessionId == sessionId)
        {
            headers[Header] = issued.Token;
        }
        else if (context.Items[InboundItem] is InboundSession inbound && inbound.Ticket.SessionId == sessionId)
        {
            headers[Header] = inbound.Token;
        }
        else
        {
            headers.Remove(Header);
        }
    }

    private static TokenRefusal Refuse(out SessionTicket? ticket)
    {
        ticket = null;
        return TokenRefusal.Unreadable;
    }

    private async Task RefuseAsync(HttpContext context, AuthenticatedCaller? principal, string reason)
    {
        LogRefused(logger, context.Request.Method, reason);
        await audit.HttpRefused(principal, HttpIdentity.ClientAddress(context), reason, StatusCodes.Status404NotFound);
        ReadOnlySpan<byte> body = RequestBody.Of(context) is { } request ? request.Memory.Span : default;
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentType = "application/json";

        // What the SDK answers for a session it does not know: the client starts a new session.
        await context.Response.Body.WriteAsync(RequestValidation.ErrorResponse(body, -32001, "Session not found"), context.RequestAborted);
    }

    /// <param name="Token">The id as the client knows it.</param>
    private sealed record InboundSession(string Token, SessionTicket Ticket);

    private sealed record IssuedSession(string SessionId, string Token);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A {Method} request named a session this gateway does not accept ({Reason}); answered 404.")]
    private static partial void LogRefused(ILogger logger, string method, string reason);
}
