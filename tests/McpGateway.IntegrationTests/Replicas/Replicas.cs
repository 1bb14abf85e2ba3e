using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// Several in-process gateways with the same servers and rules files (each starting its own downstream servers, as
/// replicas do) and a <see cref="ReplicaRouter"/> in front of them; settings may differ per replica (keys being
/// rotated) and services may be replaced per replica (a fake clock, a store shared by all of them).
/// </summary>
internal sealed class Replicas : IAsyncDisposable
{
    private readonly InProcessGateway?[] _gateways;
    private readonly string[] _folders;
    private readonly List<McpClient> _clients = [];
    private readonly HttpClient _http;

    private Replicas(InProcessGateway[] gateways, string[] folders)
    {
        _gateways = gateways;
        _folders = folders;
        Router = new ReplicaRouter([.. gateways.Select(g => g.Endpoint)]);
        _http = new HttpClient(Router) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public ReplicaRouter Router { get; }

    public InProcessGateway this[int replica] => _gateways[replica] ?? throw new InvalidOperationException($"Replica {replica} was stopped.");

    /// <summary>Where a replica's files are (servers.json, rules.json, settings.json and what <c>prepare</c> wrote).</summary>
    public string Folder(int replica) => _folders[replica];

    /// <param name="settings">The settings file of each replica (the count of replicas).</param>
    /// <param name="prepare">Writes more files into a replica's folder before it starts (the API keys file).</param>
    /// <param name="services">Replaces registrations of a replica (by index) after the gateway's own.</param>
    public static async Task<Replicas> StartAsync(
        string servers,
        string rules,
        string[] settings,
        CancellationToken cancellationToken,
        Action<string>? prepare = null,
        Action<int, IServiceCollection>? services = null)
    {
        var gateways = new InProcessGateway[settings.Length];
        string[] folders = [.. settings.Select((_, i) => Directory.CreateTempSubdirectory($"mcp-gateway-replica{i}-").FullName)];
        try
        {
            for (int i = 0; i < settings.Length; i++)
            {
                int replica = i;
                string folder = folders[i];
                prepare?.Invoke(folder);
                gateways[i] = await InProcessGateway.StartAsync(servers, rules, cancellationToken: cancellationToken, settingsJson: settings[i], folder: folder,
                    configureServices: services is null ? null : s => services(replica, s));
            }
        }
        catch
        {
            foreach (InProcessGateway? started in gateways)
            {
                if (started is not null)
                {
                    await started.DisposeAsync();
                }
            }

            DeleteFolders(folders);
            throw;
        }

        return new Replicas(gateways, folders);
    }

    /// <summary>A 2025-11-25 client (stateful session) whose every request goes through the router.</summary>
    public async Task<McpClient> ConnectAsync(CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? headers = null, McpClientHandlers? handlers = null)
    {
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = Router.Endpoint, TransportMode = HttpTransportMode.StreamableHttp, AdditionalHeaders = headers is null ? null : new Dictionary<string, string>(headers) },
            _http);
        McpClient client = await McpClient.CreateAsync(transport, ClientOptions(handlers), cancellationToken: cancellationToken);
        _clients.Add(client);
        return client;
    }

    /// <summary>
    /// What a client does to reconnect to a session it knows: the SDK's resumption with the session id, which opens the
    /// GET event stream again (wherever the router sends it) and does not end the session when it is disposed.
    /// </summary>
    public async Task<McpClient> ReconnectAsync(McpClient session, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? headers = null)
    {
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions
            {
                Endpoint = Router.Endpoint,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = headers is null ? null : new Dictionary<string, string>(headers),
                KnownSessionId = session.SessionId,
                OwnsSession = false,
            },
            _http);
        McpClient client = await McpClient.ResumeSessionAsync(
            transport,
            new ResumeClientSessionOptions { ServerCapabilities = session.ServerCapabilities, ServerInfo = session.ServerInfo!, NegotiatedProtocolVersion = session.NegotiatedProtocolVersion },
            ClientOptions(null),
            cancellationToken: cancellationToken);
        _clients.Add(client);
        return client;
    }

    /// <summary>The session a replica holds for a client's session id (opened with that replica's keys); null when it holds none.</summary>
    public GatewaySession? SessionOn(int replica, McpClient client)
    {
        string sdkId = this[replica].SdkSessionId(client.SessionId!);
        return this[replica].Services.GetRequiredService<SessionRegistry>().Find(sdkId);
    }

    /// <summary>
    /// Stops a replica as <c>serve</c> stops on SIGTERM: the host and the downstream servers together, so calls in
    /// flight end at once with an error instead of holding the host for its shutdown timeout; its streams end.
    /// </summary>
    public async Task StopAsync(int replica)
    {
        if (Interlocked.Exchange(ref _gateways[replica], null) is { } gateway)
        {
            Task host = gateway.DisposeAsync().AsTask();
            await gateway.Downstream.DisposeAsync();
            await host;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (McpClient client in _clients)
        {
            try
            {
                await client.DisposeAsync();
            }
            catch
            {
                // A client whose replica went away first may fail to close; irrelevant to the test.
            }
        }

        for (int i = 0; i < _gateways.Length; i++)
        {
            await StopAsync(i);
        }

        _http.Dispose();
        DeleteFolders(_folders);
    }

    private static void DeleteFolders(string[] folders)
    {
        foreach (string folder in folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A server may still be letting go of a file; the folder is a temporary one.
            }
        }
    }

    private static McpClientOptions ClientOptions(McpClientHandlers? handlers)
    {
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "replica-test", Version = "1.0" },
            ProtocolVersion = "2025-11-25",
        };
        if (handlers is not null)
        {
            options.Handlers = handlers;
        }

        return options;
    }
}
