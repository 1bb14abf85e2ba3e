using McpGateway.Configuration;
using McpGateway.Identity.ApiKeys;
using McpGateway.Identity.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.AspNetCore.Authentication;
using ModelContextProtocol.Authentication;

namespace McpGateway.Identity;

/// <summary>
/// Composes HTTP authentication: the API key scheme or JwtBearer, and when both are configured a selector scheme that
/// hands each request to one of them (a bearer credential shaped like a gateway key, or an <c>X-API-Key</c> header, is
/// a key; any other bearer is a token), the SDK's MCP scheme for challenges (401 with
/// <c>WWW-Authenticate: Bearer resource_metadata="…"</c>) and the RFC 9728 protected-resource metadata, and one
/// authorization policy on <c>/mcp</c>: authenticated, naming an agent, holding the required scopes.
/// </summary>
internal static class GatewayAuthentication
{
    public const string SelectorScheme = "mcp-gateway";
    public const string ApiKeyScheme = "ApiKey";
    public const string Policy = "mcp-gateway-agent";

    public static IServiceCollection AddGatewayAuthentication(this IServiceCollection services, AuthenticationSettings settings)
    {
        if (!settings.IsConfigured)
        {
            return services;
        }

        bool keys = settings.ApiKeys is not null;
        bool tokens = settings.Jwt is not null;

        // With one kind of credential its scheme authenticates every request itself: the selector would always pick
        // it, and costs a handler and a forward per request.
        string scheme = keys && tokens ? SelectorScheme : keys ? ApiKeyScheme : JwtBearerDefaults.AuthenticationScheme;
        AuthenticationBuilder authentication = services.AddAuthentication(o =>
        {
            o.DefaultScheme = scheme;
            o.DefaultChallengeScheme = McpAuthenticationDefaults.AuthenticationScheme;
            o.DefaultForbidScheme = McpAuthenticationDefaults.AuthenticationScheme;
        });
        services.AddProcessDataProtection();

        if (keys && tokens)
        {
            authentication.AddPolicyScheme(SelectorScheme, "mcp-gateway", o => o.ForwardDefaultSelector = context =>
                ApiKeyAuthenticationHandler.HasKey(context.Request) ? ApiKeyScheme : JwtBearerDefaults.AuthenticationScheme);
        }

        if (settings.ApiKeys is { } apiKeys)
        {
            services.AddSingleton(sp => new ApiKeyStore(apiKeys.File, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ApiKeyStore>>()));
            authentication.AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyScheme, "API key", _ => { });
        }

        if (settings.Jwt is { } jwt)
        {
            // Now, before anything can construct JwtBearerOptions (which caches the switch).
            JwtAuthentication.UseBlockingKeyRefresh();
            authentication.AddJwtBearer();
            services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
                .Configure<ILoggerFactory, TimeProvider>((options, loggerFactory, time) => JwtAuthentication.Configure(options, jwt, loggerFactory, time));
        }

        authentication.AddMcp(o =>
        {
            o.ForwardAuthenticate = scheme;
            var metadata = new ProtectedResourceMetadata
            {
                Resource = settings.Resource?.OriginalString,
                ResourceName = "mcp-gateway",
            };
            foreach (Uri server in settings.AuthorizationServers)
            {
                metadata.AuthorizationServers.Add(server.OriginalString);
            }

            foreach (string scope in settings.Jwt?.RequiredScopes ?? [])
            {
                metadata.ScopesSupported.Add(scope);
            }

            o.ResourceMetadata = metadata;

            // Without a configured resource the SDK derives it from the metadata path, so the root form would name
            // the host alone; the gateway protects one resource, its MCP endpoint, whichever form is asked for.
            o.Events.OnResourceMetadataRequest = context =>
            {
                if (settings.Resource is null && context.ResourceMetadata is { } served)
                {
                    HttpRequest request = context.HttpContext.Request;
                    served.Resource = $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase}/mcp";
                }

                return Task.CompletedTask;
            };
        });

        services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy
            .RequireAuthenticatedUser()
            .AddRequirements(new AgentRequirement(settings.Jwt?.RequiredScopes ?? [])));
        services.AddSingleton<IAuthorizationHandler, AgentRequirementHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, GatewayAuthorizationResultHandler>();
        return services;
    }
}
