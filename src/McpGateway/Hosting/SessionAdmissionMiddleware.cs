using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.Identity.Sessions;
using Microsoft.AspNetCore.Http;

namespace McpGateway.Hosting;

/// <summary>
/// Admits a new stateful session (an <c>initialize</c> POST without <c>Mcp-Session-Id</c>, or a request naming a
/// session another replica started, which this one resumes) only within the session limits, counted for the agent
/// the one identity resolver names and for the client's address. A refused newcomer
/// gets HTTP 429 with a JSON-RPC error saying which limit; open sessions are never closed to make room. The slot
/// travels with the request to the session it creates, which releases it when it ends.
/// </summary>
internal sealed class SessionAdmissionMiddleware(
    RequestDelegate next,
    HttpServeSettings settings,
    SessionLimiter limiter,
    CallerResolver callers,
    GatewayStateProvider stateProvider,
    SessionRegistry sessions,
    GatewayAudit audit)
{
    /// <summary>HttpContext item holding the admitted slot until the session takes it.</summary>
    public const string SlotItem = "mcp-gateway.session-slot";

    public async Task InvokeAsync(HttpContext context)
    {
        SessionTicket? resuming = Resuming(context);
        if (resuming is null && !Creating(context))
        {
            await next(context);
            return;
        }

        // A resumed session counts for the agent it is bound to, whatever this request says.
        Caller caller = callers.Resolve(HttpIdentity.ClaimsOf(context, null, callers.Options), new SessionIdentity(resuming?.Agent, null, CanBind: false), stateProvider.Current.Policy);
        string? address = HttpIdentity.ClientAddress(context);
        (IDisposable? slot, string? refusal) = await limiter.TryAdmitAsync(caller.Agent, address);
        if (slot is null)
        {
            await audit.HttpRefused(caller.Agent, caller.SourceName, caller.CredentialId, address, "session limit: " + refusal, StatusCodes.Status429TooManyRequests);
            ReadOnlySpan<byte> body = RequestBody.Of(context) is { } request ? request.Memory.Span : default;
            byte[] error = RequestValidation.ErrorResponse(body, $"No new session: {refusal}. Close sessions you no longer use, or try again later.");
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(error, context.RequestAborted);
            return;
        }

        context.Items[SlotItem] = slot;
        try
        {
            await next(context);
        }
        finally
        {
            // Still here when no session was created (the initialize failed): give the slot back.
            if (context.Items.Remove(SlotItem, out object? unclaimed))
            {
                ((IDisposable)unclaimed!).Dispose();
            }
        }
    }

    /// <summary>An <c>initialize</c> POST without a session: it creates one.</summary>
    private bool Creating(HttpContext context) =>
        !settings.Stateless && HttpMethods.IsPost(context.Request.Method) && !context.Request.Headers.ContainsKey(SessionTokenMiddleware.Header) &&
        RequestBody.Of(context) is { } body && RequestValidation.MethodOf(body.Memory.Span) == "initialize";

    /// <summary>
    /// A request naming a session this replica does not hold: the SDK resumes it here (a DELETE does not), so it is
    /// admitted like a new one. If another request resumes it first, the slot goes back unused.
    /// </summary>
    private SessionTicket? Resuming(HttpContext context) =>
        SessionTokenMiddleware.TicketOf(context) is { } ticket && !HttpMethods.IsDelete(context.Request.Method) && sessions.Find(ticket.SessionId) is null ? ticket : null;

    /// <summary>For the session being created by this request: takes the slot admission reserved for it.</summary>
    public static IDisposable? Claim(HttpContext context) =>
        context.Items.Remove(SlotItem, out object? slot) ? (IDisposable?)slot : null;
}
