using McpGateway.Configuration;
using McpGateway.Gateway;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpGateway.Scale;

/// <summary>The one place the shared store is registered.</summary>
internal static class RedisServices
{
    /// <summary>
    /// With Redis configured: the connection (connected as the host starts), the shared rate windows and session slots
    /// that the limiters use, and the Redis session state store in place of the in-memory one (registered after it,
    /// so it is the one resolved). Without, nothing: every replica counts alone.
    /// </summary>
    public static IServiceCollection AddSharedStore(this IServiceCollection services, RedisSettings settings)
    {
        if (!settings.IsConfigured)
        {
            return services;
        }

        services.AddSingleton(sp => new RedisConnection(settings, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RedisConnection>>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
        services.AddSingleton<ISharedRateWindows, RedisRateWindows>();
        services.AddSingleton<ISharedSessionSlots, RedisSessionSlots>();
        services.AddSingleton<ISessionStateStore, RedisSessionStateStore>();
        return services;
    }
}
