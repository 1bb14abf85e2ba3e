using System.Diagnostics;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Telemetry;

/// <summary>
/// The <c>/metrics</c> format as a real Prometheus server reads it: Prometheus scrapes a gateway every second, and
/// its query API must return the gateway's series with the values of the calls made.
/// </summary>
public sealed class PrometheusScrapeTests
{
    private const string Rules = """{"agents": {"prom-agent": {"allow": {"servers": ["promfix"]}}}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Prometheus_ScrapesTheGateway_AndFindsEveryCallOfBothPaths()
    {
        PrometheusServer.SkipUnlessInstalled();
        var capture = new TelemetryCapture();
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(
            TestServers.File(("promfix", TestServers.Fixture("--protocol", "2025-11-25"))), Rules, cancellationToken: Ct, configureServices: capture.Register);
        McpClient client = await gateway.ConnectAsync(ServedTransport.Http, agentHeader: "prom-agent", cancellationToken: Ct);
        using (Activity trace = TelemetryGateway.StartTrace())
        {
            for (int i = 0; i < 3; i++)
            {
                await client.CallRawAsync("promfix_echo_args", new JsonObject { ["n"] = i }, Ct);
            }

            for (int i = 0; i < 2; i++)
            {
                await TelemetryGateway.CallOnSdkPathAsync(client, "promfix_echo_args", new JsonObject { ["n"] = i });
            }

            // Recorded once the last span has ended: what Prometheus scrapes from then on holds all five calls.
            await capture.WaitForSpansAsync(s => s.TraceId == trace.TraceId && s.Kind == ActivityKind.Server, count: 5);
        }

        await using PrometheusServer prometheus = PrometheusServer.Start(gateway.Endpoint.Authority, "/metrics");
        const string Agent = "mcp_gateway_agent=\"prom-agent\"";

        JsonArray calls = await prometheus.QueryUntilAsync(
            $"sum(mcp_gateway_tool_calls_total{{{Agent},mcp_gateway_server=\"promfix\",mcp_gateway_decision=\"allowed\"}})",
            r => r.Count == 1 && PrometheusServer.Value(r) >= 5, Ct);
        Assert.Equal(5, PrometheusServer.Value(calls));

        // Both paths in one series: every label is the same.
        JsonArray series = await prometheus.QueryUntilAsync(
            $"mcp_server_operation_duration_seconds_count{{{Agent},mcp_method_name=\"tools/call\"}}", r => r.Count > 0, Ct);
        JsonObject labels = (JsonObject)Assert.Single(series)!["metric"]!;
        Assert.Equal(5, PrometheusServer.Value(series));
        Assert.Equal("promfix_echo_args", labels["gen_ai_tool_name"]!.GetValue<string>());
        Assert.Equal("promfix", labels["mcp_gateway_server"]!.GetValue<string>());
        Assert.Equal("allowed", labels["mcp_gateway_decision"]!.GetValue<string>());
        Assert.Equal("tcp", labels["network_transport"]!.GetValue<string>());
        Assert.Equal("2025-11-25", labels["mcp_protocol_version"]!.GetValue<string>());

        // The conventions' buckets, cumulative up to +Inf.
        JsonArray buckets = await prometheus.QueryUntilAsync(
            $"mcp_server_operation_duration_seconds_bucket{{{Agent},mcp_method_name=\"tools/call\"}}", r => r.Count > 0, Ct);
        Assert.Equal(
            [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, double.PositiveInfinity],
            buckets.Select(b => UpperBound(b!["metric"]!["le"]!.GetValue<string>())).Order());
        Assert.Equal(5, PrometheusServer.Value(new JsonArray(buckets.Single(b => b!["metric"]!["le"]!.GetValue<string>() == "+Inf")!.DeepClone())));
        JsonArray quantile = await prometheus.QueryUntilAsync(
            $"histogram_quantile(0.5, mcp_server_operation_duration_seconds_bucket{{{Agent},mcp_method_name=\"tools/call\"}})", r => r.Count == 1, Ct);
        Assert.False(double.IsNaN(PrometheusServer.Value(quantile)));

        JsonArray downstream = await prometheus.QueryUntilAsync(
            "sum(mcp_client_operation_duration_seconds_count{mcp_gateway_server=\"promfix\",gen_ai_tool_name=\"echo_args\"})", r => r.Count == 1, Ct);
        Assert.Equal(5, PrometheusServer.Value(downstream));

        JsonArray up = await prometheus.QueryUntilAsync("up{job=\"mcp-gateway\"}", r => r.Count == 1, Ct);
        Assert.Equal(1, PrometheusServer.Value(up));
    }

    /// <summary>A bucket's <c>le</c> as a number (the OpenMetrics format Prometheus asks for writes "1.0", the text format "1").</summary>
    private static double UpperBound(string le) =>
        le == "+Inf" ? double.PositiveInfinity : double.Parse(le, System.Globalization.CultureInfo.InvariantCulture);
}
