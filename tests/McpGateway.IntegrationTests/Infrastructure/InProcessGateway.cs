using System.IO.Pipelines;
using System.Net;
using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Hosting;
using McpGateway.Identity.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.IntegrationTests.Infrastructure;

/// <summary>How a test client reaches the gateway.</summary>
public enum ServedTransport
{
    /// <summary>The stdio serving path, over in-memory pipes.</summary>
    Stdio,

    /// <summary>Streamable HTTP with sessions (the default).</summary>
    Http,

    /// <summary>Streamable HTTP, stateless.</summary>
    HttpStateless,
}

/// <summary>
/// A gateway running inside the test process with real downstream servers: the production composition
/// (<see cref="GatewayHostFactory"/>), real Kestrel on a free loopback port for HTTP, and the same session setup the
/// stdio host uses over in-memory pipes for stdio.
/// </summary>
internal sealed class InProcessGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<Task> _stdioSessions = [];
    private readonly CancellationTokenSource _stopping = new();

    private InProcessGateway(WebApplication app, TestLogs logs, Uri endpoint)
    {
        _app = app;
        Logs = logs;
        Endpoint = endpoint;
    }

    public TestLogs Logs { get; }

    public Uri Endpoint { get; }

    public IServiceProvider Services => _app.Services;

    public DownstreamManager Downstream => Services.GetRequiredService<DownstreamManager>();

    /// <summary>The SDK's id of the session behind a client's Mcp-Session-Id (which is sealed: the gateway opens it).</summary>
    public string SdkSessionId(string sessionId) =>
        Services.GetRequiredService<SessionTokens>().Open(sessionId, out SessionTicket? ticket) == TokenRefusal.None
            ? ticket!.SessionId
            : throw new InvalidOperationException("Not a session id this gateway accepts.");

    /// <summary>What the audit and the traces show for a client's session: the fingerprint of the id the SDK keeps.</summary>
    public string SessionFingerprint(string sessionId) => new GatewaySession(stateless: false) { SessionId = SdkSessionId(sessionId) }.Fingerprint!;

    /// <param name="settingsJson">A settings file (authentication, limits, audit); written beside the other two, so relative paths in it resolve there.</param>
    /// <param name="folder">Where to write the files (default: a new temporary folder); tests put a keys file there.</param>
    /// <param name="configureServices">Replaces registrations after the gateway's own (a fake clock).</param>
    public static async Task<InProcessGateway> StartAsync(
        string serversJson,
        string rulesJson,
        GatewayOptions? options = null,
        bool stateless = false,
        CancellationToken cancellationToken = default,
        string? settingsJson = null,
        string? folder = null,
        Action<IServiceCollection>? configureServices = null)
    {
        RepoPaths.RequireNodeModules();
        ConfigSources? sources = settingsJson is null ? null : WriteFiles(serversJson, rulesJson, settingsJson, folder ?? Directory.CreateTempSubdirectory("mcp-gateway-inproc-").FullName);
        ConfigurationSnapshot snapshot = sources is null ? Load(serversJson, rulesJson) : Load(sources);
        var logs = new TestLogs();
        var settings = new HttpServeSettings(new IPEndPoint(IPAddress.Loopback, 0), stateless || snapshot.Settings.Http.Stateless, new HashSet<string>(snapshot.Settings.Http.AllowedOrigins, StringComparer.OrdinalIgnoreCase))
        {
            MaxRequestBodyBytes = snapshot.Settings.Http.MaxRequestBodyBytes,
        };
        options ??= settingsJson is null ? new GatewayOptions() : ServeCommand.Options(snapshot.Settings, fixedAgent: null);
        WebApplication app = GatewayHostFactory.BuildHttpHost(snapshot, options, settings, LogLevel.Debug, logging =>
        {
            logging.ClearProviders();
            logging.AddProvider(logs);
        }, configureServices, sources);
        try
        {
            await GatewayServices.StartCoreAsync(app.Services, cancellationToken);
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.Services.GetRequiredService<DownstreamManager>().DisposeAsync();
            await app.DisposeAsync();
            throw;
        }

        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new InProcessGateway(app, logs, new Uri(address + HttpGateway.Path));
    }

    public static ConfigurationSnapshot Load(string serversJson, string rulesJson)
    {
        ConfigLoadResult<ServersConfig> servers = ConfigurationLoader.ParseServers("servers.json", serversJson, Environment.GetEnvironmentVariable);
        ConfigLoadResult<RulesConfig> rules = ConfigurationLoader.ParseRules("rules.json", rulesJson, Environment.GetEnvironmentVariable);
        var diagnostics = servers.Diagnostics.Concat(rules.Diagnostics).ToList();
        ConfigLoadResult<ConfigurationSnapshot> combined = ConfigurationLoader.Combine(servers.Value, rules.Value, diagnostics, null);
        if (!combined.Succeeded)
        {
            throw new InvalidOperationException("Test configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, combined.Errors));
        }

        return combined.Value!;
    }

    /// <summary>
    /// Writes the three files into <paramref name="folder"/> (the settings may name a keys file there) and says where
    /// they are, as `serve` would find them: the gateway reloads them when a test changes one.
    /// </summary>
    public static ConfigSources WriteFiles(string serversJson, string rulesJson, string settingsJson, string folder)
    {
        File.WriteAllText(Path.Combine(folder, "servers.json"), serversJson);
        File.WriteAllText(Path.Combine(folder, "rules.json"), rulesJson);
        File.WriteAllText(Path.Combine(folder, "settings.json"), settingsJson);
        var environment = new DiscoveryEnvironment(Environment.GetEnvironmentVariable, File.Exists, folder, folder) { AddSettingsVariables = _ => { } };
        return new ConfigSources(
            new ConfigLocation(Path.Combine(folder, "servers.json"), "test", []),
            new ConfigLocation(Path.Combine(folder, "rules.json"), "test", []),
            new ConfigLocation(Path.Combine(folder, "settings.json"), "test", []),
            environment);
    }

    /// <summary>Loads the files as `serve` does.</summary>
    public static ConfigurationSnapshot Load(ConfigSources sources)
    {
        ConfigLoadResult<ConfigurationSnapshot> loaded = sources.Load();
        if (!loaded.Succeeded)
        {
            throw new InvalidOperationException("Test configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, loaded.Errors));
        }

        return loaded.Value!;
    }

    /// <summary>Connects a client the way an agent would, over the chosen transport.</summary>
    /// <param name="agentHeader">HTTP only: the X-Agent-Id header to send.</param>
    /// <param name="protocolVersion">The protocol revision the client asks for; 2025-11-25 gets a stateful session over HTTP.</param>
    /// <param name="wrap">Wraps the client's transport (to watch every message on the wire).</param>
    public async Task<McpClient> ConnectAsync(
        ServedTransport transport,
        string? agentHeader = null,
        string protocolVersion = "2025-11-25",
        McpClientHandlers? handlers = null,
        CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, string>? headers = null,
        Func<IClientTransport, IClientTransport>? wrap = null)
    {
        var clientOptions = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "integration-test", Version = "1.0" },
            ProtocolVersion = protocolVersion,
        }.Patient();
        if (handlers is not null)
        {
            clientOptions.Handlers = handlers;
        }

        IClientTransport clientTransport;
        if (transport == ServedTransport.Stdio)
        {
            clientTransport = StartStdioSession();
        }
        else
        {
            var sent = new Dictionary<string, string>(headers ?? new Dictionary<string, string>());
            if (agentHeader is not null)
            {
                sent["X-Agent-Id"] = agentHeader;
            }

            clientTransport = new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = Endpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = sent,
            });
        }

        McpClient client = await McpClient.CreateAsync(wrap is null ? clientTransport : wrap(clientTransport), clientOptions, cancellationToken: cancellationToken);
        _owned.Add(client);
        return client;
    }

    /// <summary>One stdio session: the production stdio session (<see cref="StdioSession"/>) over pipes instead of stdin/stdout.</summary>
    private StreamClientTransport StartStdioSession()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        _stdioSessions.Add(Task.Run(() => StdioSession.RunAsync(Services, toServer.Reader.AsStream(), toClient.Writer.AsStream(), new GatewaySession(stateless: false), _stopping.Token)));
        return new StreamClientTransport(toServer.Writer.AsStream(), toClient.Reader.AsStream());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable owned in _owned)
        {
            try
            {
                await owned.DisposeAsync();
            }
            catch
            {
                // A client whose server went away first may fail to close; irrelevant to the test.
            }
        }

        // The SDK's stream client transport does not close the stream it writes to, so stdio sessions end by cancellation.
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await Downstream.DisposeAsync();
        await Task.WhenAll(_stdioSessions).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
