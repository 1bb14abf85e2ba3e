using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Diagnostics;
using McpGateway.Gateway;
using McpGateway.Identity;
using McpGateway.Scale;
using McpGateway.Identity.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Hosting;

/// <summary>Registers the gateway's parts and configures the SDK server each agent session gets.</summary>
internal static class GatewayServices
{
    public const string Instructions =
        "This gateway serves tools from several MCP servers. In proxy mode each tool is named <server>_<tool>. " +
        "Call list_servers to see the servers you may use, get_server_tools for a server's tools, and execute_tool to call one by server and name.";

    /// <summary>Said only where a self-asserted argument can establish who calls.</summary>
    public const string IdentityInstructions = " If the gateway does not know who you are, pass your agent name in the agent_id argument of your first call.";

    /// <summary>
    /// Starts the gateway's core: wires events, connects every downstream server (in parallel; each bounded by its
    /// start timeout) and waits for their first attempts, so the first agent already sees every server that could
    /// start. (<c>serve --http</c> serves before this completes; see <see cref="WireEvents"/>.)
    /// </summary>
    public static async Task StartCoreAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        WireEvents(services);
        await services.GetRequiredService<DownstreamManager>().StartAsync(cancellationToken);
    }

    /// <summary>
    /// Connects the parts that talk to each other through events (downstream servers to the router, sessions ending to
    /// their subscriptions, file changes to reloads) and builds the first state. Call once, before serving anyone.
    /// </summary>
    public static void WireEvents(IServiceProvider services)
    {
        services.GetRequiredService<DownstreamManager>().Events = services.GetRequiredService<DownstreamEventRouter>();
        ResourcesRequestHandler resources = services.GetRequiredService<ResourcesRequestHandler>();
        services.GetRequiredService<SessionRegistry>().SessionEnded += resources.OnSessionEnded;
        _ = services.GetRequiredService<GatewayStateProvider>();
        services.GetRequiredService<ConfigurationReloader>().Watch();
    }

    /// <param name="sources">Where the files came from, so they can be reloaded; null for a configuration given in memory.</param>
    public static IServiceCollection AddGateway(this IServiceCollection services, ConfigurationSnapshot config, GatewayOptions options, ConfigSources? sources = null)
    {
        services.AddSingleton(new ConfigurationStore(config, sources));
        services.AddSingleton<ConfigurationReloader>();
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        GatewaySettings settings = config.Settings;
        services.AddSingleton(new CallerResolver(options.Identity));
        services.AddSingleton(sp => new SessionLimiter(settings.Limits.Sessions, sp.GetService<ISharedSessionSlots>()));
        services.AddSingleton(sp => new SessionTokens(settings.Sessions, sp.GetRequiredService<TimeProvider>()));

        // Per replica unless a shared store is registered (AddSharedStore, last below): a session that moves keeps its
        // agent and client, and with Redis also these.
        services.AddSingleton<ISessionStateStore, InMemorySessionStateStore>();
        services.AddSingleton<SessionStates>();
        services.AddSingleton<SessionResumption>();
        services.AddSingleton(sp => new CallRateLimiter(settings.Limits.Rate, sp.GetService<ISharedRateWindows>()));
        services.AddSingleton<ToolCallGate>();
        if (settings.Audit.File is { } auditFile)
        {
            services.AddSingleton(sp => new AuditLog(
                new AuditOptions { Path = auditFile, MaxFileBytes = settings.Audit.MaxFileBytes, MaxFiles = settings.Audit.MaxFiles, BufferRecords = settings.Audit.BufferRecords, IncludeArguments = settings.Audit.Arguments },
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<AuditLog>()));
        }

        services.AddSingleton(sp => new GatewayAudit(sp.GetRequiredService<TimeProvider>(), settings.Audit.Arguments, sp.GetService<AuditLog>()));
        services.AddSingleton(sp => new DownstreamManager(config.Servers, options.Downstream, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<IDownstreamTransportFactory>()));
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton<GatewayTools>();
        services.AddSingleton<GatewayStateProvider>();
        services.AddSingleton<AgentResolver>();
        services.AddSingleton<SubscriptionRegistry>();
        services.AddSingleton<ToolsRequestHandler>();
        services.AddSingleton<PromptsRequestHandler>();
        services.AddSingleton<ResourcesRequestHandler>();
        services.AddSingleton<CompletionRequestHandler>();
        services.AddSingleton<LoggingRequestHandler>();
        services.AddSingleton<TasksRequestHandler>();
        services.AddSingleton<MultiRoundTrip>();
        services.AddSingleton<ListenRequestHandler>();
        services.AddSingleton<DownstreamEventRouter>();
        services.AddSingleton<GatewayRequestFilter>();
        services.AddSingleton<FastPath.FastForwarder>();

        // Last: with Redis configured, its registrations (the session state store among them) win over the defaults.
        services.AddSharedStore(settings.Redis);
        return services;
    }

    /// <summary>Fills the SDK server options for one agent session: identity, capabilities, and the gateway's request filter.</summary>
    public static void ConfigureSession(McpServerOptions serverOptions, GatewaySession session, IServiceProvider services)
    {
        serverOptions.ServerInfo = new Implementation { Name = "mcp-gateway", Title = "MCP Gateway", Version = GatewayVersion.Value };
        IdentityOptions identity = services.GetRequiredService<GatewayOptions>().Identity;
        serverOptions.ServerInstructions = identity.SelfAssertedEstablishes && identity.AcceptArgument && identity.FixedAgent is null
            ? Instructions + IdentityInstructions.Replace("agent_id", identity.ArgumentName, StringComparison.Ordinal)
            : Instructions;
        serverOptions.Capabilities = new ServerCapabilities
        {
            Tools = new ToolsCapability { ListChanged = true },
            Prompts = new PromptsCapability { ListChanged = true },
            Resources = new ResourcesCapability { ListChanged = true, Subscribe = true },
            Completions = new CompletionsCapability(),
            Logging = new LoggingCapability(),
        };
        serverOptions.Filters.Message.IncomingFilters.Add(services.GetRequiredService<GatewayRequestFilter>().Create(session));
        serverOptions.Handlers.SubscriptionsListenHandler = services.GetRequiredService<ListenRequestHandler>().Create(session);
    }
}
