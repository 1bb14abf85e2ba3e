using System.Net;
using System.Runtime.CompilerServices;
using McpGateway.FastPath;
using McpGateway.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Server;

namespace McpGateway.Hosting;

/// <summary>Serves the gateway over Streamable HTTP at <c>/mcp</c>.</summary>
internal static class HttpGateway
{
    public const string Path = "/mcp";
    private const long MaxRequestBodyBytes = 4 * 1024 * 1024;

    /// <summary>Adds the MCP endpoint: stateful sessions for initialize-handshake clients (2026-07-28 clients are served per request), or stateless.</summary>
    public static void AddMcpEndpoint(WebApplicationBuilder builder, IPEndPoint endpoint, bool stateless)
    {
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(endpoint);
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddHttpContextAccessor();

        // The gateway session of each SDK session, found again when the session starts running.
        var sessionsByOptions = new ConditionalWeakTable<McpServerOptions, GatewaySession>();
        builder.Services.AddMcpServer().WithHttpTransport(transport =>
        {
            transport.SessionMode = stateless ? HttpServerSessionMode.Stateless : HttpServerSessionMode.StatefulForInitializeClients;
            transport.ConfigureSessionOptions = (context, serverOptions, _) =>
            {
                // A stateful session gets its Mcp-Session-Id header before its options are configured; a request served
                // statelessly (stateless mode, or a 2026-07-28 client) has none.
                bool servedStatelessly = stateless || !context.Response.Headers.ContainsKey("Mcp-Session-Id");
                var session = new GatewaySession(servedStatelessly);

                // An agent that names itself with the header when the session starts is bound from the start.
                GatewayOptions options = context.RequestServices.GetRequiredService<GatewayOptions>();
                string header = context.Request.Headers[options.AgentHeader].ToString();
                if (options.AllowAgentHeader && header.Length > 0 &&
                    context.RequestServices.GetRequiredService<GatewayStateProvider>().Current.Policy.FindAgent(header) is not null)
                {
                    session.TryBind(header);
                }

                GatewayServices.ConfigureSession(serverOptions, session, context.RequestServices);
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

                SessionRegistry registry = context.RequestServices.GetRequiredService<SessionRegistry>();
                session.Server = server;
                session.SessionId = server.SessionId;
                registry.Add(session);
                try
                {
                    await server.RunAsync(cancellationToken);
                }
                finally
                {
                    registry.Remove(session);
                }
            };
#pragma warning restore MCPEXP002
        });
    }

    public static void MapMcpEndpoint(WebApplication app)
    {
        app.UseMiddleware<OriginValidationMiddleware>();
        app.UseMiddleware<FastPathMiddleware>();
        app.MapMcp(Path);
    }
}
