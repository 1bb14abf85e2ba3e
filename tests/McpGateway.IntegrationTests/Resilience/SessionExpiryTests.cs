using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.Downstream;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.IntegrationTests.Resilience;

/// <summary>
/// An HTTP downstream that forgets its sessions (as a server does when it restarts, or expires idle sessions) answers
/// the gateway's next request with 404: the gateway connects again and sends the request once more, and the agent
/// never notices.
/// </summary>
public sealed class SessionExpiryTests
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HttpServerThatForgotTheSession_IsConnectedToAgain_AndTheCallSucceeds()
    {
        await using ForgetfulServer remote = await ForgetfulServer.StartAsync(Ct);
        string servers = TestServers.File(("remote", new JsonObject { ["url"] = remote.Endpoint.ToString() }));
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(servers, Rules, cancellationToken: Ct);
        McpClient client = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "ops", cancellationToken: Ct);
        DownstreamServer downstream = gateway.Downstream.Find("remote")!;

        JsonObject first = await client.CallRawAsync("remote_echo", new JsonObject { ["text"] = "first" }, Ct);
        remote.ForgetAllSessions();
        JsonObject second = await client.CallRawAsync("remote_echo", new JsonObject { ["text"] = "second" }, Ct);

        Assert.Equal("2025-11-25", downstream.NegotiatedProtocolVersion);
        Assert.Equal("first", first.FirstText());
        Assert.Equal("second", second.FirstText());
        Assert.Equal(2, remote.Sessions);
        Assert.True(remote.Refused >= 1);
        Assert.True(downstream.IsReady);
        Assert.Equal(1, downstream.Status.Restarts);
        Assert.Contains("Server 'remote' forgot the gateway's session (HTTP 404): connecting again.", gateway.Logs.All, StringComparison.Ordinal);
    }

    /// <summary>
    /// A Streamable HTTP MCP server (the SDK's, on Kestrel at 127.0.0.1) on 2025-11-25, the revision with sessions, with
    /// one tool, <c>echo</c>. <see cref="ForgetAllSessions"/> makes it answer 404 to every session it has handed out.
    /// </summary>
    private sealed class ForgetfulServer : IAsyncDisposable
    {
        private static readonly JsonElement s_schema = JsonDocument.Parse("""{"type": "object", "properties": {"text": {"type": "string"}}}""").RootElement.Clone();

        private readonly WebApplication _app;
        private readonly ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, byte> _forgotten = new(StringComparer.Ordinal);
        private int _refused;

        private ForgetfulServer(WebApplication app, Uri endpoint)
        {
            _app = app;
            Endpoint = endpoint;
        }

        public Uri Endpoint { get; }

        /// <summary>How many sessions clients have used.</summary>
        public int Sessions => _seen.Count;

        /// <summary>How many requests were answered 404 for a forgotten session.</summary>
        public int Refused => Volatile.Read(ref _refused);

        public void ForgetAllSessions()
        {
            foreach (string id in _seen.Keys)
            {
                _forgotten[id] = 0;
            }
        }

        public static async Task<ForgetfulServer> StartAsync(CancellationToken cancellationToken)
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
            builder.Logging.ClearProviders();
            builder.Services
                .AddMcpServer(options =>
                {
                    options.ServerInfo = new Implementation { Name = "forgetful", Version = "1.0" };
                    options.ProtocolVersion = "2025-11-25";
                })
                .WithHttpTransport(http => http.Stateless = false)
                .WithListToolsHandler((_, _) => ValueTask.FromResult(new ListToolsResult { Tools = [new Tool { Name = "echo", InputSchema = s_schema }] }))
                .WithCallToolHandler((request, _) => ValueTask.FromResult(new CallToolResult
                {
                    Content = [new TextContentBlock { Text = request.Params?.Arguments?["text"].GetString() ?? string.Empty }],
                }));
            WebApplication app = builder.Build();
            ForgetfulServer? server = null;
            app.Use(async (HttpContext context, RequestDelegate next) =>
            {
                if (context.Request.Headers["Mcp-Session-Id"].ToString() is { Length: > 0 } id)
                {
                    if (server!._forgotten.ContainsKey(id))
                    {
                        Interlocked.Increment(ref server._refused);
                        context.Response.StatusCode = StatusCodes.Status404NotFound;
                        return;
                    }

                    server._seen[id] = 0;
                }

                await next(context);
            });
            app.MapMcp("/mcp");
            await app.StartAsync(cancellationToken);
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server = new ForgetfulServer(app, new Uri(address + "/mcp"));
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
