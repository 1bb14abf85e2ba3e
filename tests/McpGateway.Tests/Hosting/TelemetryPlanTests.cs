using McpGateway.Configuration;
using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary>What the settings and the standard OTEL_* variables switch on.</summary>
public sealed class TelemetryPlanTests
{
    private static TelemetryPlan Plan(TelemetrySettings settings, bool http, params (string Name, string Value)[] variables) =>
        TelemetryServices.Plan(settings, http, name => variables.FirstOrDefault(v => v.Name == name).Value);

    [Fact]
    public void NoEndpoint_OverHttp_PrometheusOnly()
    {
        TelemetryPlan plan = Plan(new TelemetrySettings(), http: true);

        Assert.Equal(new TelemetryPlan(Traces: false, Prometheus: true, OtlpMetrics: false, null, null), plan);
    }

    [Fact]
    public void NoEndpoint_OverStdio_Nothing()
    {
        TelemetryPlan plan = Plan(new TelemetrySettings(), http: false);

        Assert.False(plan.Traces);
        Assert.False(plan.Metrics);
    }

    [Fact]
    public void GenericEndpoint_TurnsOnTracesAndOtlpMetrics_OnStdioToo()
    {
        TelemetryPlan plan = Plan(new TelemetrySettings(), http: false, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"));

        Assert.Equal(new TelemetryPlan(Traces: true, Prometheus: false, OtlpMetrics: true, null, null), plan);
    }

    [Fact]
    public void SignalEndpoints_AreUsedAsGiven_EachForItsSignal()
    {
        TelemetryPlan traces = Plan(new TelemetrySettings(), http: true, ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"));
        TelemetryPlan metrics = Plan(new TelemetrySettings(), http: true, ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://collector:4318/v1/metrics"));

        Assert.Equal(new TelemetryPlan(Traces: true, Prometheus: true, OtlpMetrics: false, "http://collector:4318/v1/traces", null), traces);
        Assert.Equal(new TelemetryPlan(Traces: false, Prometheus: true, OtlpMetrics: true, null, "http://collector:4318/v1/metrics"), metrics);
    }

    [Fact]
    public void Settings_WinOverTheEndpoint()
    {
        TelemetryPlan off = Plan(new TelemetrySettings { Metrics = false, Traces = false }, http: true, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"));
        TelemetryPlan on = Plan(new TelemetrySettings { Traces = true }, http: false);

        Assert.False(off.Traces);
        Assert.False(off.Metrics);
        Assert.True(on.Traces);
    }
}
