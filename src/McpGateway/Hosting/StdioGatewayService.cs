using McpGateway.Gateway;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace McpGateway.Hosting;

/// <summary>Serves one agent over stdin/stdout; when the agent closes stdin, the gateway exits.</summary>
internal sealed class StdioGatewayService(
    GatewayRequestFilter filter,
    SessionRegistry sessions,
    ILoggerFactory loggerFactory,
    IServiceProvider services,
    IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var session = new GatewaySession(stateless: false);
        var serverOptions = new McpServerOptions();
        GatewayServices.ConfigureSession(serverOptions, session, filter);
        await using McpServer server = McpServer.Create(new StdioServerTransport(serverOptions, loggerFactory), serverOptions, loggerFactory, services);
        session.Server = server;
        sessions.Add(session);
        try
        {
            await server.RunAsync(stoppingToken);
        }
        finally
        {
            sessions.Remove(session);
            lifetime.StopApplication();
        }
    }
}
