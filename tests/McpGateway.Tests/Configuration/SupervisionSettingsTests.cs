using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Hosting;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// The settings file's <c>supervision</c> section: how every server that failed or died is reconnected. Its values
/// become the supervisor's options; without it the supervisor keeps its defaults.
/// </summary>
public sealed class SupervisionSettingsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-supervision-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private ConfigLoadResult<GatewaySettings> Parse(string json) =>
        SettingsLoader.Parse(Path.Combine(_folder, "settings.json"), json, new DiscoveryEnvironment(_ => null, File.Exists, _folder, _folder) { AddSettingsVariables = _ => { } });

    [Fact]
    public void NoSection_KeepsTheSupervisorsDefaults()
    {
        DownstreamOptions options = ServeCommand.Options(Parse("{}").Value!, fixedAgent: null).Downstream;

        Assert.Equal(new DownstreamOptions(), options);
        Assert.Equal(TimeSpan.FromSeconds(1), options.InitialReconnectDelay);
        Assert.Equal(5, options.CrashLoopFailures);
    }

    [Fact]
    public void Section_BecomesTheSupervisorsOptions()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""
            { "supervision": { "reconnectDelayMs": 50, "maxReconnectDelayMs": 2000,
                               "crashLoop": { "failures": 1000, "windowSeconds": 60, "retrySeconds": 30 } } }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        DownstreamOptions options = ServeCommand.Options(result.Value!, fixedAgent: null).Downstream;
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.InitialReconnectDelay);
        Assert.Equal(TimeSpan.FromSeconds(2), options.MaxReconnectDelay);
        Assert.Equal(1000, options.CrashLoopFailures);
        Assert.Equal(TimeSpan.FromSeconds(60), options.CrashLoopWindow);
        Assert.Equal(TimeSpan.FromSeconds(30), options.CrashLoopDelay);
        Assert.Equal(new DownstreamOptions().DefaultCallTimeout, options.DefaultCallTimeout);
    }

    [Fact]
    public void BadValues_AreErrors_AtTheirPaths()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""
            { "supervision": { "reconnectDelayMs": 5000, "maxReconnectDelayMs": 1000, "crashLoop": { "failures": 0, "windowSeconds": "soon" } } }
            """);

        Assert.False(result.Succeeded);
        ConfigDiagnostic max = Assert.Single(result.Errors, d => d.JsonPath == "$.supervision.maxReconnectDelayMs");
        Assert.Equal("is less than supervision.reconnectDelayMs, the first delay.", max.Message);
        Assert.Single(result.Errors, d => d.JsonPath == "$.supervision.crashLoop.failures" && d.Message == "expected a whole number from 1 to 1000000.");
        Assert.Single(result.Errors, d => d.JsonPath == "$.supervision.crashLoop.windowSeconds");
        Assert.Equal(3, result.Errors.Count());
    }
}
