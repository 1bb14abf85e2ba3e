using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Server;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A downstream MCP server over Streamable HTTP (the C# SDK on Kestrel, 127.0.0.1) that shows what the gateway sends
/// it: its one tool, <c>request_headers</c>, returns the headers of the request that called it, and every request it
/// receives (initialize, lists, calls, notifications) is recorded. Stateless, so the tool runs inside the HTTP request
/// whose headers it reports.
/// </summary>
internal sealed class HeaderEchoServer : IAsyncDisposable
{
    public const string ToolName = "request_headers";

    private readonly WebApplication _app;

    private HeaderEchoServer(WebApplication app, ConcurrentQueue<IReadOnlyDictionary<string, string>> received, Uri endpoint)
    {
        _app = app;
        Received = received;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    /// <summary>The headers of every request the server received, in order.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> Received { get; }

    public static async Task<HeaderEchoServer> StartAsync(CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var accessor = new HttpContextAccessor();
        builder.Services.AddSingleton<IHttpContextAccessor>(accessor);
        builder.Services.AddMcpServer(options => options.ServerInfo = new() { Name = "header-echo", Version = "1.0.0" })
            .WithHttpTransport(transport => transport.SessionMode = HttpServerSessionMode.Stateless)
            .WithTools([McpServerTool.Create(() => HeadersOf(accessor.HttpContext).ToJsonString(), new McpServerToolCreateOptions
            {
                Name = ToolName,
                Description = "Returns the HTTP request headers this call arrived with.",
            })]);

        WebApplication app = builder.Build();
        var received = new ConcurrentQueue<IReadOnlyDictionary<string, string>>();
        app.Use(async (context, next) =>
        {
            received.Enqueue(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
            await next(context);
        });
        app.MapMcp("/mcp");
        await app.StartAsync(cancellationToken);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new HeaderEchoServer(app, received, new Uri(address + "/mcp"));
    }

    private static JsonObject HeadersOf(HttpContext? context)
    {
        var headers = new JsonObject();
        foreach ((string name, Microsoft.Extensions.Primitives.StringValues value) in context?.Request.Headers ?? new HeaderDictionary())
        {
            headers[name.ToLowerInvariant()] = value.ToString();
        }

        return headers;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
