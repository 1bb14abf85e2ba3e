using System.Text.Json;
using McpGateway.Configuration;
using McpGateway.Diagnostics;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.Hosting;

/// <summary>
/// The operations endpoints: <c>/healthz</c> (the process is alive), <c>/readyz</c> (configuration loaded, listening,
/// and the servers readiness requires are ready), <c>/status</c> (each server's state, counts, restarts and last
/// error, the last reload; never commands, URLs, headers or environment values) and <c>POST /admin/reload</c>. Once
/// authentication is on, <c>/status</c>, reload and <c>/metrics</c> need an admin credential (an agent named in
/// <c>admin.agents</c>); the probes stay open, as orchestrators call them without credentials.
/// </summary>
internal static class StatusEndpoints
{
    public const string AdminPolicy = "mcp-gateway-admin";

    private static readonly JsonWriterOptions s_json = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The admin policy: an authenticated caller whose agent is one of <c>admin.agents</c> in the configuration in
    /// force, so a reload that removes an agent from the list takes its admin access away at once.
    /// </summary>
    public static void AddAdminPolicy(IServiceCollection services, GatewaySettings settings)
    {
        if (!settings.Authentication.IsConfigured)
        {
            return;
        }

        services.AddAuthorizationBuilder().AddPolicy(AdminPolicy, policy => policy
            .RequireAuthenticatedUser()
            .RequireAssertion(context => GatewayClaims.Read(context.User)?.Agent is { } agent && context.Resource is HttpContext http &&
                http.RequestServices.GetRequiredService<ConfigurationStore>().Current.Settings.Admin.Agents.Contains(agent, StringComparer.Ordinal)));
    }

    /// <summary>Maps the endpoints; returns the builders that need the admin credential, for the caller to protect more (such as /metrics).</summary>
    public static void Map(WebApplication app, GatewaySettings settings)
    {
        // Uptime counts from here, as the host is built (a static would start counting at the first request).
        TimeProvider time = app.Services.GetRequiredService<TimeProvider>();
        long started = time.GetTimestamp();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (HttpContext context) => WriteAsync(context, writer => WriteReadiness(writer, context.RequestServices), Readiness(context.RequestServices).Ready ? 200 : 503));
        IEndpointConventionBuilder status = app.MapGet("/status", (HttpContext context) => WriteAsync(context, writer => WriteStatus(writer, context.RequestServices, time.GetElapsedTime(started)), 200));
        IEndpointConventionBuilder reload = app.MapPost("/admin/reload", async (HttpContext context) =>
        {
            ReloadOutcome outcome = await context.RequestServices.GetRequiredService<ConfigurationReloader>().ReloadAsync(context.RequestAborted);
            await WriteAsync(context, writer => WriteReload(writer, outcome), outcome.Succeeded ? 200 : 422);
        });
        if (settings.Authentication.IsConfigured)
        {
            status.RequireAuthorization(AdminPolicy);
            reload.RequireAuthorization(AdminPolicy);
        }
    }

    /// <summary>Puts the admin requirement on another endpoint when authentication is on.</summary>
    public static void RequireAdmin(IEndpointConventionBuilder endpoint, GatewaySettings settings)
    {
        if (settings.Authentication.IsConfigured)
        {
            endpoint.RequireAuthorization(AdminPolicy);
        }
    }

    /// <summary>Whether the gateway is ready, and which servers it still waits for.</summary>
    public static (bool Ready, IReadOnlyList<string> WaitingFor) Readiness(IServiceProvider services)
    {
        ConfigurationSnapshot config = services.GetRequiredService<ConfigurationStore>().Current;
        IReadOnlyList<DownstreamServer> servers = services.GetRequiredService<DownstreamManager>().Servers;
        string[] notReady = [.. servers.Where(s => !s.IsReady).Select(s => s.Name)];
        return config.Settings.Health.ReadyWhen switch
        {
            "all" => (notReady.Length == 0, notReady),
            "any" => (servers.Count == 0 || notReady.Length < servers.Count, servers.Count == 0 || notReady.Length < servers.Count ? [] : notReady),
            _ => Required(servers),
        };

        static (bool, IReadOnlyList<string>) Required(IReadOnlyList<DownstreamServer> servers)
        {
            string[] waiting = [.. servers.Where(s => s.Config.Required && !s.IsReady).Select(s => s.Name)];
            return (waiting.Length == 0, waiting);
        }
    }

    private static void WriteReadiness(Utf8JsonWriter writer, IServiceProvider services)
    {
        (bool ready, IReadOnlyList<string> waiting) = Readiness(services);
        IReadOnlyList<DownstreamServer> servers = services.GetRequiredService<DownstreamManager>().Servers;
        writer.WriteStartObject();
        writer.WriteBoolean("ready", ready);
        writer.WriteString("requires", services.GetRequiredService<ConfigurationStore>().Current.Settings.Health.ReadyWhen);
        writer.WriteNumber("serversReady", servers.Count(s => s.IsReady));
        writer.WriteNumber("servers", servers.Count);
        writer.WriteStartArray("waitingFor");
        foreach (string name in waiting)
        {
            writer.WriteStringValue(name);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteStatus(Utf8JsonWriter writer, IServiceProvider services, TimeSpan uptime)
    {
        ConfigurationStore store = services.GetRequiredService<ConfigurationStore>();
        ConfigurationSnapshot config = store.Current;
        IReadOnlyList<DownstreamServer> running = services.GetRequiredService<DownstreamManager>().Servers;
        (bool ready, _) = Readiness(services);
        writer.WriteStartObject();
        writer.WriteString("version", GatewayVersion.Value);
        writer.WriteNumber("uptimeSeconds", Math.Round(uptime.TotalSeconds));
        writer.WriteBoolean("ready", ready);
        writer.WriteNumber("sessions", services.GetRequiredService<SessionRegistry>().Count);
        if (services.GetService<Scale.RedisConnection>() is { } redis)
        {
            writer.WritePropertyName("redis");
            redis.WriteStatus(writer);
        }

        writer.WriteStartObject("configuration");
        writer.WriteNumber("reloads", store.Version);
        if (store.LastReload is { } reload)
        {
            writer.WritePropertyName("lastReload");
            WriteReload(writer, reload);
        }

        writer.WriteEndObject();
        writer.WriteStartArray("servers");
        foreach (ServerConfig server in config.Servers.Servers)
        {
            writer.WriteStartObject();
            writer.WriteString("name", server.Name);
            writer.WriteString("transport", server.TransportName);
            writer.WriteBoolean("required", server.Required);
            if (running.FirstOrDefault(s => s.Name == server.Name) is not { } downstream)
            {
                writer.WriteString("state", server.Enabled ? "stopped" : "disabled");
                writer.WriteEndObject();
                continue;
            }

            DownstreamStatus status = downstream.Status;
            var redaction = new ServerRedaction(server);
            writer.WriteString("state", status.State.ToString().ToLowerInvariant());
            writer.WriteString("since", status.Since);
            writer.WriteNumber("restarts", status.Restarts);
            if (status.Reason is { } reason)
            {
                writer.WriteString("lastError", redaction.Line(reason));
            }

            if (status.RetryAt is { } retryAt)
            {
                writer.WriteString("retryAt", retryAt);
            }

            if (downstream.NegotiatedProtocolVersion is { } protocol)
            {
                writer.WriteString("protocolVersion", protocol);
            }

            writer.WriteNumber("tools", downstream.LastKnownTools.Count);
            writer.WriteNumber("resources", downstream.LastKnownResources.Count);
            writer.WriteNumber("resourceTemplates", downstream.LastKnownResourceTemplates.Count);
            writer.WriteNumber("prompts", downstream.LastKnownPrompts.Count);
            writer.WriteStartArray("stderrTail");
            foreach (string line in downstream.StandardErrorTail)
            {
                writer.WriteStringValue(redaction.Line(line));
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteReload(Utf8JsonWriter writer, ReloadOutcome outcome)
    {
        writer.WriteStartObject();
        writer.WriteString("at", outcome.At);
        writer.WriteBoolean("succeeded", outcome.Succeeded);
        writer.WriteStartArray("errors");
        foreach (string error in outcome.Errors)
        {
            writer.WriteStringValue(error);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("notes");
        foreach (string note in outcome.Notes)
        {
            writer.WriteStringValue(note);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write, int status)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, s_json))
        {
            write(writer);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
    }
}
