using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.Identity.Sessions;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;

namespace McpGateway.Hosting;

/// <summary>
/// The SDK's session migration, fed from session tickets instead of a shared store. When a session's
/// <c>initialize</c> is taken in, its ticket is sealed and becomes the id the client gets. When a request names a
/// session this replica does not hold, the SDK asks whether to resume it: yes, with the initialize params from the
/// ticket, when the request's ticket names that session and the request comes from the session's owner (the
/// middleware already refused anyone else). The resumed session keeps its SDK id, so its fingerprint is the same
/// on every replica.
/// </summary>
internal sealed class SessionMigration(SessionTokens tokens, TimeProvider time, IHttpContextAccessor http) : ISessionMigrationHandler
{
    public ValueTask OnSessionInitializedAsync(HttpContext context, string sessionId, InitializeRequestParams initializeParams, CancellationToken cancellationToken)
    {
        // An initialize sent again on a session that has its id already changes nothing: the client keeps its id. The
        // SDK (2.4.0) hands a repeated initialize the HttpContext of the request that created the session: disposed
        // by then, or (Kestrel reuses a connection's context) serving another request of that connection, whose Items
        // are not this one's. Only the current request's context is read.
        if (ReferenceEquals(http.HttpContext, context) && SessionTokenMiddleware.TicketOf(context) is null)
        {
            GatewaySession? session = SessionTokenMiddleware.SessionOf(context);
            var ticket = new SessionTicket(sessionId, session?.BoundAgent, session?.Owner, SessionTicket.SerializeInitialize(initializeParams), time.GetUtcNow());
            if (session is not null)
            {
                session.Ticket = ticket;
            }

            SessionTokenMiddleware.Issued(context, sessionId, tokens.Issue(ticket));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<InitializeRequestParams?> AllowSessionMigrationAsync(HttpContext context, string sessionId, CancellationToken cancellationToken)
    {
        if (SessionTokenMiddleware.TicketOf(context) is not { } ticket || ticket.SessionId != sessionId ||
            !ticket.IsOwnedBy(GatewayClaims.Read(context.User)) || ticket.InitializeParams() is not { } initialize)
        {
            return ValueTask.FromResult<InitializeRequestParams?>(null);
        }

        SessionTokenMiddleware.MarkResuming(context, ticket);
        return ValueTask.FromResult<InitializeRequestParams?>(initialize);
    }
}
