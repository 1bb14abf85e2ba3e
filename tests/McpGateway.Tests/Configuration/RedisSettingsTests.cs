using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// The <c>redis</c> section: off by default; the configuration string is checked by StackExchange.Redis's own parser,
/// and a problem names where and what to fix without ever repeating the string (it may hold a password).
/// </summary>
public sealed class RedisSettingsTests
{
    private const string Password = "hunter2-not-to-be-shown";

    private static ConfigLoadResult<GatewaySettings> Parse(string json, Dictionary<string, string>? variables = null)
    {
        var environment = new DiscoveryEnvironment(name => variables?.GetValueOrDefault(name), _ => false, "/", "/") { AddSettingsVariables = _ => { } };
        return SettingsLoader.Parse("/settings.json", json, environment);
    }

    [Fact]
    public void Default_IsNoRedis_WithTheDefaultPrefix()
    {
        RedisSettings redis = Parse("{}").Value!.Redis;

        Assert.False(redis.IsConfigured);
        Assert.Equal("mcp-gateway:", redis.KeyPrefix);
    }

    [Fact]
    public void Configuration_IsRead_WithVariablesSubstituted_AndNeverPrintedByTheRecord()
    {
        ConfigLoadResult<GatewaySettings> result = Parse(
            """{"redis": {"configuration": "redis.internal:6380,password=${REDIS_PASSWORD},ssl=true", "keyPrefix": "gw-prod:"}}""",
            new() { ["REDIS_PASSWORD"] = Password });

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        RedisSettings redis = result.Value!.Redis;
        Assert.True(redis.IsConfigured);
        Assert.Equal($"redis.internal:6380,password={Password},ssl=true", redis.Configuration);
        Assert.Equal("gw-prod:", redis.KeyPrefix);
        Assert.DoesNotContain(Password, result.Value.ToString(), StringComparison.Ordinal);
        Assert.Contains("Configuration = [redacted]", redis.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\"", "must not be empty.")]
    [InlineData("\"password=" + Password + "\"", "names no Redis server.")]
    [InlineData("\"localhost:6379,password=" + Password + ",conectTimeout=5\"", "has an unknown option or a bad value for option 'conectTimeout'.")]
    [InlineData("\"localhost:6379,password=" + Password + ",connectTimeout=soon\"", "has an unknown option or a bad value for option 'connectTimeout'.")]
    public void BadConfiguration_IsAnErrorAtItsPosition_ThatNeverRepeatsTheString(string value, string message)
    {
        ConfigLoadResult<GatewaySettings> result = Parse($$"""
            {
              "redis": {
                "configuration": {{value}}
              }
            }
            """);

        Assert.False(result.Succeeded);
        ConfigDiagnostic error = Assert.Single(result.Errors);
        Assert.Equal("$.redis.configuration", error.JsonPath);
        Assert.Equal((3, 5), (error.Line, error.Column));
        Assert.Equal(message, error.Message);
        Assert.Contains("StackExchange.Redis configuration string", error.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("soon", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"has space:\"")]
    [InlineData("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"")]
    public void BadKeyPrefix_IsAnError(string value)
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"redis": {"configuration": "localhost", "keyPrefix": """ + value + "}}");

        Assert.False(result.Succeeded);
        Assert.Single(result.Errors, d => d.JsonPath == "$.redis.keyPrefix" && d.Message == "must be 1 to 64 characters without spaces.");
    }

    [Fact]
    public void UnknownKey_InTheSection_IsAnError_WithDidYouMean()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"redis": {"configuraton": "localhost"}}""");

        Assert.False(result.Succeeded);
        Assert.Single(result.Errors, d => d.JsonPath == "$.redis.configuraton" && d.Fix!.Contains("'configuration'", StringComparison.Ordinal));
    }
}
