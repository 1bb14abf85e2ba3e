using McpGateway.Configuration;
using McpGateway.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpGateway.Hosting;

/// <summary>Composes the gateway's hosts: Streamable HTTP (ASP.NET Core) or stdio (generic host).</summary>
internal static class GatewayHostFactory
{
    /// <param name="configureServices">Runs after the gateway's registrations, so tests can replace one (a fake clock).</param>
    public static WebApplication BuildHttpHost(
        ConfigurationSnapshot snapshot,
        GatewayOptions options,
        HttpServeSettings http,
        LogLevel logLevel,
        Action<ILoggingBuilder>? configureLogging = null,
        Action<IServiceCollection>? configureServices = null,
        ConfigSources? sources = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.Sources.Clear();
        ConfigureLogging(builder.Logging, logLevel, snapshot.Settings.Logging.Format == "json");

        // A port that is taken is a user error, reported by `serve` in one line; the host would log it first, with a
        // stack trace. Its messages before it has started say nothing else that `serve` does not report itself.
        IHostApplicationLifetime? lifetime = null;
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => level >= LogLevel.Warning && lifetime?.ApplicationStarted.IsCancellationRequested == true);
        configureLogging?.Invoke(builder.Logging);
        builder.Services.AddGateway(snapshot, options, sources);
        builder.AddGatewayTelemetry(snapshot.Settings.Telemetry, http: true);
        builder.Services.AddSingleton(http);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        HttpGateway.AddMcpEndpoint(builder, http, snapshot.Settings);
        configureServices?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        lifetime = app.Lifetime;
        HttpGateway.MapMcpEndpoint(app, snapshot.Settings);
        return app;
    }

    public static IHost BuildStdioHost(
        ConfigurationSnapshot snapshot,
        GatewayOptions options,
        LogLevel logLevel,
        Action<ILoggingBuilder>? configureLogging = null,
        Action<IServiceCollection>? configureServices = null,
        ConfigSources? sources = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        ConfigureLogging(builder.Logging, logLevel, snapshot.Settings.Logging.Format == "json");
        configureLogging?.Invoke(builder.Logging);
        builder.Services.AddGateway(snapshot, options, sources);
        builder.AddGatewayTelemetry(snapshot.Settings.Telemetry, http: false);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddHostedService<StdioGatewayService>();
        configureServices?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>
    /// Logs go to stderr only: in stdio mode stdout carries nothing but the protocol. <paramref name="json"/> writes
    /// one JSON object per line (UTC time, category, event id, message, the structured values and, inside a traced
    /// request, its trace and span ids) for log shippers.
    /// </summary>
    public static void ConfigureLogging(ILoggingBuilder logging, LogLevel level, bool json = false)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        if (json)
        {
            logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }

        logging.AddFilter("Microsoft", LogLevel.Warning);

        // The SDK logs every request at Information and connection failures with stack traces; the gateway logs what matters itself.
        logging.AddFilter("ModelContextProtocol", level <= LogLevel.Debug ? level : LogLevel.Error);
        logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}
