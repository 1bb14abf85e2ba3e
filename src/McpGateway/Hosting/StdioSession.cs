using McpGateway.Diagnostics;
using McpGateway.FastPath;
using McpGateway.Gateway;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace McpGateway.Hosting;

/// <summary>Serves one agent session over a pair of streams: stdin/stdout in production, pipes in tests.</summary>
internal static class StdioSession
{
    public static async Task RunAsync(IServiceProvider services, Stream input, Stream output, GatewaySession session, CancellationToken cancellationToken)
    {
        ILoggerFactory loggerFactory = services.GetRequiredService<ILoggerFactory>();
        var serverOptions = new McpServerOptions();
        GatewayServices.ConfigureSession(serverOptions, session, services);
        var transport = new GatewayStdioServerTransport(
            input,
            output,
            session,
            services.GetRequiredService<FastForwarder>(),
            services.GetRequiredService<GatewayStateProvider>(),
            services.GetRequiredService<Identity.CallerResolver>(),
            services.GetRequiredService<TimeProvider>(),
            loggerFactory);
        SessionRegistry sessions = services.GetRequiredService<SessionRegistry>();
        await using McpServer server = McpServer.Create(transport, serverOptions, loggerFactory, services);
        session.Server = server;
        sessions.Add(session);
        GatewayStateProvider state = services.GetRequiredService<GatewayStateProvider>();
        SessionTelemetry? telemetry = GatewayTelemetry.StartSession(GatewayTelemetry.Transports.Pipe);
        try
        {
            await server.RunAsync(cancellationToken);
        }
        finally
        {
            telemetry?.End(KnownAgent(state, session), server.NegotiatedProtocolVersion);
            sessions.Remove(session);
            await transport.DisposeAsync();
        }
    }

    /// <summary>The session's agent, for telemetry: only an agent of the rules is named.</summary>
    private static string? KnownAgent(GatewayStateProvider state, GatewaySession session) =>
        session.BoundAgent is { } agent && state.Current.Policy.FindAgent(agent) is not null ? agent : null;
}
