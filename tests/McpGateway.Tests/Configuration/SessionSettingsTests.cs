using McpGateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// The <c>sessions</c> settings: keys as base64 (from the file, <c>${VAR}</c> or an environment variable, in order,
/// empty entries skipped), the maximum age, and errors that say where and what to do without echoing a key.
/// </summary>
public sealed class SessionSettingsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-sessions-").FullName;
    private readonly Dictionary<string, string?> _variables = new(StringComparer.Ordinal);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private DiscoveryEnvironment Environment => new(name => _variables.GetValueOrDefault(name), File.Exists, _folder, _folder)
    {
        AddSettingsVariables = builder => builder.AddInMemoryCollection(_variables
            .Where(v => v.Key.StartsWith(SettingsLoader.VariablePrefix, StringComparison.Ordinal))
            .Select(v => new KeyValuePair<string, string?>(v.Key[SettingsLoader.VariablePrefix.Length..].Replace("__", ":", StringComparison.Ordinal), v.Value))),
    };

    private ConfigLoadResult<GatewaySettings> Parse(string json) => SettingsLoader.Parse(Path.Combine(_folder, "settings.json"), json, Environment);

    [Fact]
    public void NoSessionsSection_HasNoKeys_AndADayOfMaximumAge()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("{}");

        Assert.True(result.Succeeded);
        Assert.Empty(result.Value!.Sessions.Keys);
        Assert.Equal(TimeSpan.FromHours(24), result.Value.Sessions.MaxAge);
    }

    [Fact]
    public void Keys_AreReadInOrder_FromTheFileAndVariables_SkippingEmptyOnes()
    {
        string first = SessionKey.Generate();
        string second = SessionKey.Generate();
        _variables["NEW_KEY"] = first;
        ConfigLoadResult<GatewaySettings> result = Parse($$"""
            { "sessions": { "keys": ["${NEW_KEY}", "${MISSING_OLD_KEY:-}", "{{ToBase64Url(second)}}"], "maxAgeSeconds": 3600 } }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal([SessionKey.Parse(first)!, SessionKey.Parse(second)!], result.Value!.Sessions.Keys);
        Assert.Equal(TimeSpan.FromHours(1), result.Value.Sessions.MaxAge);
    }

    [Fact]
    public void Keys_FromAnEnvironmentVariable_WinOverTheFile()
    {
        string fromVariable = SessionKey.Generate();
        _variables["MCP_GATEWAY_SESSIONS__KEYS__0"] = fromVariable;

        ConfigLoadResult<GatewaySettings> result = Parse($$"""{ "sessions": { "keys": ["{{SessionKey.Generate()}}"] } }""");

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal(SessionKey.Parse(fromVariable), Assert.Single(result.Value!.Sessions.Keys));
    }

    [Fact]
    public void ABadKey_IsAnError_WithItsPlace_AndNeverEchoed()
    {
        const string Short = "c2hvcnQta2V5LXRoYXQtaXMtc2VjcmV0";
        _variables["MCP_GATEWAY_SESSIONS__KEYS__1"] = "not base64 at all, and secret";

        ConfigLoadResult<GatewaySettings> result = Parse($$"""
            {
              "sessions": {
                "keys": ["{{Short}}"],
                "maxAgeSeconds": 5
              }
            }
            """);

        Assert.False(result.Succeeded);
        string text = string.Join("\n", result.Diagnostics);
        ConfigDiagnostic inFile = Assert.Single(result.Errors, e => e.JsonPath == "$.sessions.keys[0]");
        Assert.Equal((3, 14), (inFile.Line, inFile.Column));
        Assert.Contains("is not a session key: 32 bytes written in base64.", inFile.Message, StringComparison.Ordinal);
        Assert.Contains("mcp-gateway keys session-key", inFile.Fix, StringComparison.Ordinal);
        Assert.Contains(result.Errors, e => e.File == "(environment)" && e.JsonPath == "MCP_GATEWAY_SESSIONS__KEYS__1");
        Assert.Contains(result.Errors, e => e.JsonPath == "$.sessions.maxAgeSeconds" && e.Message.Contains("from 60 to 2592000", StringComparison.Ordinal));
        Assert.DoesNotContain(Short, text, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownKeysOfTheSection_AreErrors_WithDidYouMean()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{ "sessions": { "key": [] } }""");

        ConfigDiagnostic error = Assert.Single(result.Errors);
        Assert.Equal("$.sessions.key", error.JsonPath);
        Assert.Contains("keys", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void SessionKey_NeverPrints_AndComparesByItsBytes()
    {
        string text = SessionKey.Generate();
        SessionKey key = SessionKey.Parse(text)!;
        var settings = new SessionSettings { Keys = [key] };

        Assert.DoesNotContain(text, settings.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(text, key.ToString(), StringComparison.Ordinal);
        Assert.Equal(settings, new SessionSettings { Keys = [SessionKey.Parse(ToBase64Url(text))!] });
        Assert.NotEqual(settings, new SessionSettings { Keys = [SessionKey.Parse(SessionKey.Generate())!] });
        Assert.Null(SessionKey.Parse(Convert.ToBase64String(new byte[31])));
        Assert.Null(SessionKey.Parse(Convert.ToBase64String(new byte[33])));
    }

    private static string ToBase64Url(string base64) => base64.TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
