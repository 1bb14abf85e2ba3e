using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using McpGateway.Configuration;
using McpGateway.Diagnostics;
using McpGateway.FastPath;
using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.Identity.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Server;

namespace McpGateway.Hosting;

/// <summary>
/// Serves the gateway over Streamable HTTP at <c>/mcp</c>. Every request passes, in order: the guard (host, origin,
/// content type, body, duplicate keys), authentication and the agent policy (when configured), the HTTP request rate
/// limit (when configured), the session id (sealed for the client, the SDK's own after it), session admission, the
/// protocol-version check, then the fast path or the SDK (a session ending under a request is answered 404, never a
/// 500). A stateful session whose id names a session this replica does not hold is resumed from the id.
/// </summary>
internal static class HttpGateway
{
    public const string Path = "/mcp";
    public const string MetricsPath = "/metrics";
    private const string RateLimitPolicy = "mcp-gateway-requests";

    /// <summary>Adds the MCP endpoint: stateful sessions for initialize-handshake clients (2026-07-28 clients are served per request), or stateless.</summary>
    public static void AddMcpEndpoint(WebApplicationBuilder builder, HttpServeSettings http, GatewaySettings settings)
    {
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(http.Endpoint);
            kestrel.Limits.MaxRequestBodySize = http.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddGatewayAuthentication(settings.Authentication);
        StatusEndpoints.AddAdminPolicy(builder.Services, settings);
        if (settings.Limits.Rate.HttpRequests > 0)
        {
            AddRequestRateLimit(builder.Services, settings.Limits.Rate);
        }

        // The gateway session of each SDK session, found again when the session starts running.
        var sessionsByOptions = new ConditionalWeakTable<McpServerOptions, GatewaySession>();
        SessionLimitSettings limits = settings.Limits.Sessions;
        builder.Services.AddMcpServer().WithHttpTransport(transport =>
        {
            transport.SessionMode = http.Stateless ? HttpServerSessionMode.Stateless : HttpServerSessionMode.StatefulForInitializeClients;
#pragma warning disable MCP9006 // Stateful HTTP is what 2025-11-25 clients need; its idle expiry and cap are ours to set.
            transport.IdleTimeout = limits.IdleTimeout;

            // The SDK closes the oldest idle sessions (of any agent) past this count; admission refuses newcomers before.
            transport.MaxIdleSessionCount = limits.Total + 1;
#pragma warning restore MCP9006
            transport.ConfigureSessionOptions = (context, serverOptions, _) =>
            {
                // A stateful session gets its Mcp-Session-Id header before its options are configured; a request served
                // statelessly (stateless mode, or a 2026-07-28 client) has none.
                bool servedStatelessly = http.Stateless || !context.Response.Headers.ContainsKey(SessionTokenMiddleware.Header);
                IServiceProvider services = context.RequestServices;
                CallerResolver callers = services.GetRequiredService<CallerResolver>();
                IdentityClaims claims = HttpIdentity.ClaimsOf(context, null, callers.Options);

                // A session another replica started (or this one, before a restart) resumes with what its id carries.
                SessionTicket? resumed = servedStatelessly ? null : SessionTokenMiddleware.ResumingOf(context);
                var session = new GatewaySession(servedStatelessly)
                {
                    Owner = claims.Principal?.UserId,
                    ClientAddress = HttpIdentity.ClientAddress(context),
                    Ticket = resumed,
                    Resumed = resumed is not null,
                };

                if (resumed?.Agent is { } boundAtStart)
                {
                    // The agent it was bound to, whatever this request says: a session never changes agent.
                    session.TryBind(boundAtStart);
                }
                else
                {
                    // An authenticated caller's session is its agent's from the start; so is one whose header names a known agent.
                    Caller caller = callers.Resolve(claims, session.Identity, services.GetRequiredService<GatewayStateProvider>().Current.Policy);
                    if (caller.Agent is { } agent && (caller.BindsSession || caller.Source is IdentitySource.ApiKey or IdentitySource.Jwt))
                    {
                        session.TryBind(agent);
                    }
                }

                if (!servedStatelessly)
                {
                    SessionTokenMiddleware.SetSession(context, session);
                }

                GatewayServices.ConfigureSession(serverOptions, session, services);
                sessionsByOptions.AddOrUpdate(serverOptions, session);
                return Task.CompletedTask;
            };
#pragma warning disable MCPEXP002 // Experimental: the only hook that sees a session start and end.
            transport.RunSessionHandler = async (context, server, cancellationToken) =>
            {
                if (!sessionsByOptions.TryGetValue(server.ServerOptions, out GatewaySession? session) || session.IsStateless)
                {
                    await server.RunAsync(cancellationToken);
                    return;
                }

                session.Admission = SessionAdmissionMiddleware.Claim(context);
                SessionRegistry registry = context.RequestServices.GetRequiredService<SessionRegistry>();
                session.Server = server;
                session.SessionId = server.SessionId;
                registry.Add(session);

                // Resolved now: the request that created the session (and its services) is long gone when the session ends.
                GatewayStateProvider state = context.RequestServices.GetRequiredService<GatewayStateProvider>();
                SessionResumption resumption = context.RequestServices.GetRequiredService<SessionResumption>();
                SessionTelemetry? telemetry = GatewayTelemetry.StartSession(GatewayTelemetry.Transports.Tcp);
                try
                {
                    if (session.Resumed)
                    {
                        // Before the first message is read: the request that resumed the session already has its state.
                        await resumption.RestoreAsync(session, cancellationToken);
                    }

                    await server.RunAsync(cancellationToken);
                }
                finally
                {
                    telemetry?.End(KnownAgent(state, session), server.NegotiatedProtocolVersion);

                    // The slot first: whoever hears that the session ended (SessionEnded) can already use the room it left.
                    session.Admission?.Dispose();
                    registry.Remove(session);
                }
            };
#pragma warning restore MCPEXP002
        });
        builder.Services.AddOptions<HttpServerTransportOptions>().Configure<TimeProvider>((transport, time) => transport.TimeProvider = time);

        // The SDK finds it in the services: sessions are sealed into their ids and resumed from them.
        builder.Services.AddSingleton<ISessionMigrationHandler, SessionMigration>();
    }

    /// <summary>The session's agent, for telemetry: only an agent of the rules is named.</summary>
    private static string? KnownAgent(GatewayStateProvider state, GatewaySession session) =>
        session.BoundAgent is { } agent && state.Current.Policy.FindAgent(agent) is not null ? agent : null;

    /// <summary>
    /// The Prometheus scrape endpoint, <c>/metrics</c>: an endpoint of its own, so it passes the guard (host and
    /// origin checks) but none of the MCP session machinery. Returned so that access to it can be required.
    /// </summary>
    public static IEndpointConventionBuilder MapMetrics(WebApplication app) => app.MapPrometheusScrapingEndpoint(MetricsPath);

    public static void MapMcpEndpoint(WebApplication app, GatewaySettings settings)
    {
        bool authenticated = settings.Authentication.IsConfigured;
        bool rateLimited = settings.Limits.Rate.HttpRequests > 0;
        app.UseRouting();
        app.UseMiddleware<HttpGuardMiddleware>();
        if (authenticated)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        if (rateLimited)
        {
            app.UseRateLimiter();
        }

        // From here on the Mcp-Session-Id is the SDK's own id; the client sees only the sealed one.
        app.UseMiddleware<SessionTokenMiddleware>();
        app.UseMiddleware<SessionAdmissionMiddleware>();
        app.UseMiddleware<ProtocolVersionCheck>();
        app.UseMiddleware<EndedSessionGuard>();
        app.UseMiddleware<FastPathMiddleware>();
        StatusEndpoints.Map(app, settings);
        IEndpointConventionBuilder endpoint = app.MapMcp(Path);
        if (authenticated)
        {
            endpoint.RequireAuthorization(GatewayAuthentication.Policy);
        }

        if (rateLimited)
        {
            endpoint.RequireRateLimiting(RateLimitPolicy);
        }

        if (settings.Telemetry.Metrics)
        {
            StatusEndpoints.RequireAdmin(MapMetrics(app), settings);
        }
    }

    /// <summary>
    /// HTTP requests per window per caller (ASP.NET Core rate limiting): the credential when authenticated, else the
    /// client's address (a self-asserted name would let a caller pick a fresh budget), counted across replicas when a
    /// shared store is configured. Refused requests get 429 with Retry-After and a JSON-RPC error body, and are audited.
    /// </summary>
    private static void AddRequestRateLimit(IServiceCollection services, RateLimitSettings rate)
    {
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            var window = new FixedWindowRateLimiterOptions { PermitLimit = rate.HttpRequests, Window = rate.Window, QueueLimit = 0 };
            options.AddPolicy(RateLimitPolicy, context =>
            {
                string key = GatewayClaims.Read(context.User)?.CredentialId ?? "address:" + HttpIdentity.ClientAddress(context);

                // With a shared store, every replica counts the caller's requests in one window there.
                return context.RequestServices.GetService<ISharedRateWindows>() is { } shared
                    ? RateLimitPartition.Get(key, k => new SharedWindowLimiter(shared, $"requests:{{{Uri.EscapeDataString(k)}}}:{(long)rate.Window.TotalSeconds}s", window))
                    : RateLimitPartition.GetFixedWindowLimiter(key, _ => window);
            });
            options.OnRejected = async (rejected, cancellationToken) =>
            {
                HttpContext context = rejected.HttpContext;
                TimeSpan retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : rate.Window;
                int seconds = CallRateLimiter.RetrySeconds(retryAfter);
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                context.Response.ContentType = "application/json";
                await context.RequestServices.GetRequiredService<GatewayAudit>().HttpRefused(
                    GatewayClaims.Read(context.User), HttpIdentity.ClientAddress(context), $"HTTP request rate: {rate.HttpRequests} per {rate.Window.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s", StatusCodes.Status429TooManyRequests);
                ReadOnlySpan<byte> body = RequestBody.Of(context) is { } request ? request.Memory.Span : default;
                byte[] error = RequestValidation.ErrorResponse(body, $"Too many requests: at most {rate.HttpRequests} per {rate.Window.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s. Retry after {seconds} s.");
                await context.Response.Body.WriteAsync(error, cancellationToken);
            };
        });
    }
}
