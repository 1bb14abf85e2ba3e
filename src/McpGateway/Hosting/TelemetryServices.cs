using System.Collections;
using McpGateway.Configuration;
using McpGateway.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace McpGateway.Hosting;

/// <summary>What the telemetry settings and the standard <c>OTEL_*</c> variables turn on.</summary>
/// <param name="TracesEndpoint">OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), when set.</param>
/// <param name="MetricsEndpoint">OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (used as is), when set.</param>
internal sealed record TelemetryPlan(bool Traces, bool Prometheus, bool OtlpMetrics, string? TracesEndpoint, string? MetricsEndpoint)
{
    public bool Metrics => Prometheus || OtlpMetrics;
}

/// <summary>
/// Registers OpenTelemetry for the gateway's own ActivitySource and Meter (<see cref="GatewayTelemetry.Name"/>): the
/// Prometheus exporter behind <c>/metrics</c> on HTTP, and OTLP export when the standard variables name an endpoint.
/// The SDK's own instrumentation ("Experimental.ModelContextProtocol") is not listened to: the gateway's spans and
/// metrics are the documented ones, and the SDK's histograms carry the same names with other attributes, which would
/// count every request twice under one Prometheus name.
/// </summary>
internal static class TelemetryServices
{
    public const string ServiceName = "mcp-gateway";
    private const string Prefix = "OTEL_";
    private const string Endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";
    private const string TracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    private const string MetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";

    /// <summary>
    /// Traces: <c>telemetry.traces</c>, by default on exactly when an OTLP endpoint for traces is set. Metrics:
    /// <c>telemetry.metrics</c> (default on) serves <c>/metrics</c> over HTTP and exports by OTLP when an endpoint for
    /// metrics is set. A stdio gateway has no HTTP, so no <c>/metrics</c>.
    /// </summary>
    public static TelemetryPlan Plan(TelemetrySettings settings, bool http, Func<string, string?> environment)
    {
        string? generic = Nonempty(environment(Endpoint));
        string? traces = Nonempty(environment(TracesEndpoint));
        string? metrics = Nonempty(environment(MetricsEndpoint));
        return new TelemetryPlan(
            Traces: settings.Traces ?? (traces ?? generic) is not null,
            Prometheus: settings.Metrics && http,
            OtlpMetrics: settings.Metrics && (metrics ?? generic) is not null,
            TracesEndpoint: traces,
            MetricsEndpoint: metrics);
    }

    public static void AddGatewayTelemetry(this IHostApplicationBuilder builder, TelemetrySettings settings, bool http)
    {
        TelemetryPlan plan = Plan(settings, http, Environment.GetEnvironmentVariable);
        if (!plan.Traces && !plan.Metrics)
        {
            return;
        }

        // The hosts' configuration has no environment variables (the gateway reads its own settings); the
        // OpenTelemetry SDK reads OTEL_* (endpoint, protocol, headers, service name, resource attributes) from it.
        builder.Configuration.AddInMemoryCollection(OtelVariables());
        IOpenTelemetryBuilder telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService(ServiceName, serviceVersion: GatewayVersion.Value)
                .AddEnvironmentVariableDetector());
        if (plan.Traces)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(GatewayTelemetry.Name)
                .AddOtlpExporter(otlp => UseSignalEndpoint(otlp, plan.TracesEndpoint)));
        }

        if (plan.Metrics)
        {
            telemetry.WithMetrics(metrics =>
            {
                metrics.AddMeter(GatewayTelemetry.Name);
                if (plan.Prometheus)
                {
                    metrics.AddPrometheusExporter();
                }

                if (plan.OtlpMetrics)
                {
                    metrics.AddOtlpExporter(otlp => UseSignalEndpoint(otlp, plan.MetricsEndpoint));
                }
            });
        }
    }

    /// <summary>A signal's own endpoint is a full URL (no path is appended), as the OTLP specification says; the generic one the exporter reads itself.</summary>
    private static void UseSignalEndpoint(OtlpExporterOptions options, string? endpoint)
    {
        if (endpoint is not null && Uri.TryCreate(endpoint, UriKind.Absolute, out Uri? uri))
        {
            options.Endpoint = uri;
        }
    }

    private static Dictionary<string, string?> OtelVariables()
    {
        var variables = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                variables[key] = entry.Value as string;
            }
        }

        return variables;
    }

    private static string? Nonempty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
