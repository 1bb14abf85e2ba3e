using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>The telemetry and log-format settings: read like every other setting, defaults that need no file.</summary>
public sealed class TelemetrySettingsTests
{
    private static readonly DiscoveryEnvironment s_environment = new(_ => null, _ => false, "/", "/") { AddSettingsVariables = _ => { } };

    private static ConfigLoadResult<GatewaySettings> Parse(string json) => SettingsLoader.Parse("/settings.json", json, s_environment);

    [Fact]
    public void Defaults_MetricsOn_TracesDecidedByTheOtlpEndpoint_TextLogs()
    {
        GatewaySettings settings = Parse("{}").Value!;

        Assert.True(settings.Telemetry.Metrics);
        Assert.Null(settings.Telemetry.Traces);
        Assert.Equal("text", settings.Logging.Format);
    }

    [Fact]
    public void FileValues_AreRead()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"telemetry": {"metrics": false, "traces": true}, "logging": {"format": "JSON"}}""");

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.False(result.Value!.Telemetry.Metrics);
        Assert.True(result.Value.Telemetry.Traces);
        Assert.Equal("json", result.Value.Logging.Format);
    }

    [Fact]
    public void BadValues_AreErrorsAtTheirPath()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"telemetry": {"metrics": "sometimes", "trace": true}, "logging": {"format": "xml"}}""");

        Assert.False(result.Succeeded);
        Assert.Single(result.Errors, d => d.JsonPath == "$.telemetry.metrics");
        Assert.Single(result.Errors, d => d.JsonPath == "$.telemetry.trace" && d.Fix!.Contains("'traces'", StringComparison.Ordinal));
        Assert.Single(result.Errors, d => d.JsonPath == "$.logging.format");
    }
}
