using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace McpGateway.Hosting;

/// <summary><c>mcp-gateway serve</c>: run the gateway over stdio (default) or Streamable HTTP.</summary>
internal static class ServeCommand
{
    public static Command Create(DiscoveryEnvironment environment)
    {
        var config = new ConfigOptions();
        var http = new Option<string?>("--http") { Description = "Serve Streamable HTTP at /mcp on [ADDRESS:]PORT (default address 127.0.0.1; PORT 0 picks a free port). Without it, serve stdio.", HelpName = "[ADDRESS:]PORT" };
        var stateless = new Option<bool>("--stateless") { Description = "HTTP: keep no sessions (any replica can answer any request; no notifications, no session binding)." };
        Option<ExposureMode> mode = CliChoices.Create("--mode", "proxy: every permitted tool as <server>_<tool>; discovery: only list_servers, get_server_tools, execute_tool.", ExposureMode.Proxy, ("proxy", ExposureMode.Proxy), ("discovery", ExposureMode.Discovery));
        var agent = new Option<string?>("--agent") { Description = "stdio: act as this agent for every request (cannot be overridden by the agent).", HelpName = "NAME" };
        var separator = new Option<string>("--separator") { Description = "Between server prefix and tool name in exposed names.", DefaultValueFactory = _ => "_", HelpName = "TEXT" };
        var agentArgument = new Option<string>("--agent-argument") { Description = "Name of the tool argument that carries the agent's identity (removed before forwarding).", DefaultValueFactory = _ => "agent_id", HelpName = "NAME" };
        var noAgentArgument = new Option<bool>("--no-agent-argument") { Description = "Ignore the identity argument (and forward an argument of that name untouched)." };
        var noAgentHeader = new Option<bool>("--no-agent-header") { Description = "HTTP: ignore the X-Agent-Id header." };
        var allowUnauthenticated = new Option<bool>("--allow-unauthenticated", "--allow-remote") { Description = "Allow listening on a non-loopback address without authentication (agents are then only who they say they are: a trusted network only)." };
        var allowedOrigins = new Option<string[]>("--allowed-origin") { Description = "HTTP: a browser Origin to accept besides the gateway's own (repeatable).", HelpName = "ORIGIN", AllowMultipleArgumentsPerToken = false };
        var audit = new Option<string?>("--audit") { Description = "Write the audit log (one JSON line per decision and call) to FILE, or - for standard output.", HelpName = "FILE" };
        Option<LogLevel> logLevel = CliChoices.Create(
            "--log-level",
            "Least severe log level written to stderr.",
            LogLevel.Information,
            ("trace", LogLevel.Trace), ("debug", LogLevel.Debug), ("information", LogLevel.Information), ("warning", LogLevel.Warning), ("error", LogLevel.Error), ("critical", LogLevel.Critical), ("none", LogLevel.None));

        var command = new Command("serve", "Run the gateway: connect to every configured server and serve agents over stdio or Streamable HTTP.");
        config.AddTo(command);
        foreach (Option option in (Option[])[http, stateless, mode, agent, separator, agentArgument, noAgentArgument, noAgentHeader, allowUnauthenticated, allowedOrigins, audit, logLevel])
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter error = parse.InvocationConfiguration.Error;

            // Flags given on the command line are the last layer of the settings: they win over the file and the environment.
            var overrides = new List<SettingOverride>();
            void Flag<T>(Option<T> option, string key, Func<T, string?> text)
            {
                if (parse.GetResult(option) is { Implicit: false } && text(parse.GetValue(option)!) is { } value)
                {
                    overrides.Add(new SettingOverride(key, value, option.Name));
                }
            }

            Flag(http, "http:listen", v => v);
            Flag(stateless, "http:stateless", v => v ? "true" : null);
            Flag(allowUnauthenticated, "http:allowUnauthenticated", v => v ? "true" : null);
            Flag(mode, "exposure:mode", v => v.ToString().ToLowerInvariant());
            Flag(separator, "exposure:separator", v => v);
            Flag(agentArgument, "identity:argument", v => v);
            Flag(noAgentArgument, "identity:acceptArgument", v => v ? "false" : null);
            Flag(noAgentHeader, "identity:acceptHeader", v => v ? "false" : null);
            Flag(audit, "audit:file", v => v);
            Flag(logLevel, "logging:level", v => v.ToString().ToLowerInvariant());

            ConfigLoadResult<ConfigurationSnapshot> loaded = config.Load(parse, error, environment, out ConfigSources sources, overrides);
            if (!loaded.Succeeded)
            {
                error.WriteLine("cannot start: the configuration is invalid (see above). Run 'mcp-gateway validate' after fixing it.");
                return ExitCodes.InvalidConfiguration;
            }

            ConfigurationSnapshot snapshot = loaded.Value!;
            GatewaySettings settings = snapshot.Settings;
            var options = Options(settings, parse.GetValue(agent));
            string? problem = Validate(options, snapshot);
            IPEndPoint? endpoint = null;
            if (problem is null && settings.Http.Listen is { } listen && !ListenAddress.TryParse(listen, out endpoint))
            {
                problem = $"--http '{listen}' is not PORT or ADDRESS:PORT. Fix: {ListenAddress.Fix}";
            }

            if (problem is null && endpoint is { Port: > 0 } && snapshot.Servers.Servers.FirstOrDefault(s => IsOwnEndpoint(s, endpoint)) is { } self)
            {
                problem = $"server '{self.Name}' in {snapshot.Servers.SourceFile} is this gateway's own address ({self.Url}): the gateway would call itself. Fix: remove the entry, or point --config at the gateway's own servers file.";
            }

            if (problem is null && endpoint is not null && !IPAddress.IsLoopback(endpoint.Address) && !settings.Authentication.IsConfigured && !settings.Http.AllowUnauthenticated)
            {
                problem = $"--http {settings.Http.Listen} listens beyond this machine, and no authentication is configured, so any caller could name any agent. Fix: configure API keys or tokens (see 'mcp-gateway keys add'), use a loopback address (127.0.0.1), or pass --allow-unauthenticated on a trusted network.";
            }

            // Each of these is the configuration (files, environment and flags together) refusing to be served as given.
            if (problem is not null)
            {
                error.WriteLine($"error: {problem}");
                return ExitCodes.InvalidConfiguration;
            }

            var serving = endpoint is null ? null : new HttpServeSettings(endpoint, settings.Http.Stateless, new HashSet<string>([.. settings.Http.AllowedOrigins, .. parse.GetValue(allowedOrigins) ?? []], StringComparer.OrdinalIgnoreCase))
            {
                MaxRequestBodyBytes = settings.Http.MaxRequestBodyBytes,
            };
            LogLevel level = Enum.Parse<LogLevel>(settings.Logging.Level, ignoreCase: true);
            return await RunAsync(snapshot, sources, options, serving, level, error, cancellationToken);
        });
        return command;
    }

    /// <summary>A remote server entry whose URL is where this gateway listens.</summary>
    private static bool IsOwnEndpoint(ServerConfig server, IPEndPoint endpoint) =>
        server.Url is { } url && server.Enabled && url.Port == endpoint.Port &&
        (url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out IPAddress? address) && (address.Equals(endpoint.Address) || endpoint.Address.Equals(IPAddress.Any))));

    /// <summary>The host options the settings (and <c>--agent</c>) make.</summary>
    internal static GatewayOptions Options(GatewaySettings settings, string? fixedAgent) => new()
    {
        Mode = settings.Exposure.Mode == "discovery" ? ExposureMode.Discovery : ExposureMode.Proxy,
        Separator = settings.Exposure.Separator,
        Identity = new IdentityOptions
        {
            FixedAgent = fixedAgent,
            HeaderName = settings.Identity.Header,
            ArgumentName = settings.Identity.Argument,
            AcceptHeader = settings.Identity.AcceptHeader,
            AcceptArgument = settings.Identity.AcceptArgument,
            SelfAssertedEstablishes = settings.Identity.SelfAsserted ?? !settings.Authentication.IsConfigured,
        },
        Downstream = new DownstreamOptions
        {
            InitialReconnectDelay = settings.Supervision.ReconnectDelay,
            MaxReconnectDelay = settings.Supervision.MaxReconnectDelay,
            CrashLoopFailures = settings.Supervision.CrashLoopFailures,
            CrashLoopWindow = settings.Supervision.CrashLoopWindow,
            CrashLoopDelay = settings.Supervision.CrashLoopRetry,
        },
    };

    private static string? Validate(GatewayOptions options, ConfigurationSnapshot snapshot)
    {
        if (snapshot.Settings.Http.Listen is null && snapshot.Settings.Audit.File == "-")
        {
            return "--audit - writes the audit log to standard output, which a stdio gateway uses for the protocol. Fix: name a file, for example --audit audit.jsonl.";
        }

        if (options.Identity.FixedAgent is { } fixedAgent)
        {
            if (snapshot.Settings.Http.Listen is not null)
            {
                return "--agent applies to a stdio gateway (one agent per process). Fix: over HTTP, agents authenticate with an API key or token (or name themselves with the X-Agent-Id header on a trusted machine).";
            }

            if (snapshot.Policy.FindAgent(fixedAgent) is null)
            {
                return $"--agent '{fixedAgent}' is not in {snapshot.Rules.SourceFile}. Fix: name an agent defined in the rules (names are case-sensitive).";
            }
        }

        return null;
    }

    private static async Task<int> RunAsync(ConfigurationSnapshot snapshot, ConfigSources sources, GatewayOptions options, HttpServeSettings? http, LogLevel logLevel, TextWriter error, CancellationToken cancellationToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        IHost host = http is null
            ? GatewayHostFactory.BuildStdioHost(snapshot, options, logLevel, sources: sources)
            : GatewayHostFactory.BuildHttpHost(snapshot, options, http, logLevel, sources: sources);
        DownstreamManager downstream = host.Services.GetRequiredService<DownstreamManager>();
        ConfigurationReloader reloader = host.Services.GetRequiredService<ConfigurationReloader>();
        using PosixSignalRegistration sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            reloader.Request("SIGHUP");
        });
        ILogger logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("McpGateway");
        try
        {
            GatewayServices.WireEvents(host.Services);
            if (http is not null)
            {
                // The port first: a taken one is found before any server starts, and agents are served at once with
                // whatever servers are ready (each announces itself when it is).
                await host.StartAsync(stopping.Token);
                LogListening(logger, Where(host, http));
                await downstream.StartAsync(stopping.Token);
            }
            else
            {
                // A stdio agent launched this process and waits for it: it gets the first tools/list once every server
                // has had its first try.
                await downstream.StartAsync(stopping.Token);
                await host.StartAsync(stopping.Token);
            }

            LogReady(logger, host, http, downstream);
            await WaitForStopRequestAsync(host, stopping.Token);
            return ExitCodes.Success;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
        catch (IOException ex) when (http is not null)
        {
            error.WriteLine($"error: cannot listen on {http.Endpoint}: {ex.Message}");
            return ExitCodes.InvalidConfiguration;
        }
        finally
        {
            reloader.Dispose();

            // The host waits for requests in flight before it stops (up to its shutdown timeout, 30 s), and a call in
            // flight waits for its downstream server: stop the servers alongside the host, so those calls end at once
            // with an error the agent receives. This also stops every child process before the gateway exits.
            Task stopHost = StopHostAsync(host);
            await downstream.DisposeAsync();
            await stopHost;

            // Disposing the services drains the audit log: every record of a call that got an answer is written.
            if (host is IAsyncDisposable asyncHost)
            {
                await asyncHost.DisposeAsync();
            }
            else
            {
                host.Dispose();
            }
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }
    }

    private static string Where(IHost host, HttpServeSettings http)
    {
        IServerAddressesFeature? addresses = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        return (addresses?.Addresses.FirstOrDefault() ?? $"http://{http.Endpoint}") + HttpGateway.Path;
    }

    /// <summary>
    /// Waits for a signal, or for the host to be told to stop (a stdio agent closing stdin). Unlike
    /// <c>WaitForShutdownAsync</c> it does not stop the host itself: that waits for requests in flight, which the
    /// caller ends first by stopping the downstream servers.
    /// </summary>
    private static async Task WaitForStopRequestAsync(IHost host, CancellationToken stopping)
    {
        var stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IHostApplicationLifetime lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        using CancellationTokenRegistration onStopping = lifetime.ApplicationStopping.Register(() => stopRequested.TrySetResult());
        using CancellationTokenRegistration onSignal = stopping.Register(() => stopRequested.TrySetResult());
        await stopRequested.Task;
    }

    private static async Task StopHostAsync(IHost host)
    {
        try
        {
            await host.StopAsync(CancellationToken.None);
        }
        catch (Exception)
        {
            // Already stopped, or never started.
        }
    }

    private static void LogListening(ILogger logger, string where)
    {
#pragma warning disable CA1848, CA2254 // One line at start-up.
        logger.LogInformation($"mcp-gateway listening on {where}; starting the servers");
#pragma warning restore CA1848, CA2254
    }

    private static void LogReady(ILogger logger, IHost host, HttpServeSettings? http, DownstreamManager downstream)
    {
        int ready = downstream.Servers.Count(s => s.IsReady);
        string where = http is null ? "stdio" : Where(host, http);

#pragma warning disable CA1848, CA2254 // One line at start-up; tests and users look for this exact text.
        logger.LogInformation($"mcp-gateway ready on {where} ({ready} of {downstream.Servers.Count} servers ready)");
#pragma warning restore CA1848, CA2254
    }
}
