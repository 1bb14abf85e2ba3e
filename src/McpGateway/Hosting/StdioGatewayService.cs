using McpGateway.Gateway;
using Microsoft.Extensions.Hosting;

namespace McpGateway.Hosting;

/// <summary>Serves one agent over stdin/stdout; when the agent closes stdin, the gateway exits.</summary>
internal sealed class StdioGatewayService(IServiceProvider services, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await StdioSession.RunAsync(services, Console.OpenStandardInput(), Console.OpenStandardOutput(), new GatewaySession(stateless: false), stoppingToken);
        }
        finally
        {
            lifetime.StopApplication();
        }
    }
}
