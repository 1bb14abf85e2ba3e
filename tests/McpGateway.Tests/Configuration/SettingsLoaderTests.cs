using McpGateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>
/// The settings file: layered with environment variables and flags (each winning over the one before), validated in
/// one pass with the place each value came from, and never echoing values.
/// </summary>
public sealed class SettingsLoaderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-settings-").FullName;
    private readonly Dictionary<string, string?> _variables = new(StringComparer.Ordinal);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private DiscoveryEnvironment Environment => new(name => _variables.GetValueOrDefault(name), File.Exists, _folder, _folder)
    {
        // The settings layer of environment variables, from this test's own table (MCP_GATEWAY_A__B means a:b).
        AddSettingsVariables = builder => builder.AddInMemoryCollection(_variables
            .Where(v => v.Key.StartsWith(SettingsLoader.VariablePrefix, StringComparison.Ordinal))
            .Select(v => new KeyValuePair<string, string?>(v.Key[SettingsLoader.VariablePrefix.Length..].Replace("__", ":", StringComparison.Ordinal), v.Value))),
    };

    private ConfigLoadResult<GatewaySettings> Parse(string json, params SettingOverride[] overrides) =>
        SettingsLoader.Parse(Path.Combine(_folder, "settings.json"), json, Environment, overrides);

    [Fact]
    public void NoFile_GivesEveryDefault()
    {
        ConfigLoadResult<GatewaySettings> result = SettingsLoader.Load(new ConfigLocation(null, "not found", []), Environment);

        Assert.True(result.Succeeded);
        GatewaySettings settings = result.Value!;
        Assert.Null(settings.SourceFile);
        Assert.False(settings.Authentication.IsConfigured);
        Assert.Equal(10_000, settings.Limits.Sessions.Total);
        Assert.Equal(TimeSpan.FromMinutes(30), settings.Limits.Sessions.IdleTimeout);
        Assert.Null(settings.Audit.File);
        Assert.Equal("X-Agent-Id", settings.Identity.Header);
        Assert.Null(settings.Identity.SelfAsserted);
    }

    [Fact]
    public void FileValues_AreRead_WithCommentsAndSubstitution()
    {
        _variables["AUDIT_DIR"] = _folder;
        ConfigLoadResult<GatewaySettings> result = Parse("""
            {
              // comments are fine
              "http": { "listen": "127.0.0.1:9000", "stateless": true, "allowedOrigins": ["https://admin.example.com"] },
              "limits": { "sessions": { "perAgent": 3, "idleTimeoutSeconds": 60 }, "rate": { "calls": 100, "agents": { "batch": 1000 }, "tools": { "db": { "drop_*": 1 } } } },
              "audit": { "file": "${AUDIT_DIR}/audit.jsonl", "maxFiles": 2 }
            }
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        GatewaySettings settings = result.Value!;
        Assert.Equal("127.0.0.1:9000", settings.Http.Listen);
        Assert.True(settings.Http.Stateless);
        Assert.Equal(["https://admin.example.com"], settings.Http.AllowedOrigins);
        Assert.Equal(3, settings.Limits.Sessions.PerAgent);
        Assert.Equal(TimeSpan.FromSeconds(60), settings.Limits.Sessions.IdleTimeout);
        Assert.Equal(100, settings.Limits.Rate.Calls);
        Assert.Equal(1000, settings.Limits.Rate.Agents["batch"]);
        ToolRateLimit tool = Assert.Single(settings.Limits.Rate.Tools);
        Assert.Equal(("db", "drop_*", 1), (tool.Server, tool.Tool, tool.Calls));
        Assert.Equal(Path.Combine(_folder, "audit.jsonl"), settings.Audit.File);
        Assert.Equal(2, settings.Audit.MaxFiles);
    }

    [Fact]
    public void EnvironmentVariables_WinOverTheFile_AndFlagsWinOverBoth()
    {
        _variables["MCP_GATEWAY_LIMITS__SESSIONS__PERAGENT"] = "7";
        _variables["MCP_GATEWAY_HTTP__LISTEN"] = "9001";
        ConfigLoadResult<GatewaySettings> result = Parse(
            """{"http": {"listen": "9000"}, "limits": {"sessions": {"perAgent": 3, "total": 50}}}""",
            new SettingOverride("http:listen", "9002", "--http"));

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Equal("9002", result.Value!.Http.Listen);
        Assert.Equal(7, result.Value.Limits.Sessions.PerAgent);
        Assert.Equal(50, result.Value.Limits.Sessions.Total);
    }

    [Fact]
    public void BadValues_AreReportedTogether_EachWithItsSource()
    {
        _variables["MCP_GATEWAY_LIMITS__SESSIONS__TOTAL"] = "lots";
        ConfigLoadResult<GatewaySettings> result = Parse(
            """
            {
              "http": { "listen": "not-an-address" },
              "audit": { "maxFiles": 0 }
            }
            """,
            new SettingOverride("logging:level", "loud", "--log-level"));

        Assert.False(result.Succeeded);
        ConfigDiagnostic listen = Assert.Single(result.Errors, d => d.JsonPath == "$.http.listen");
        Assert.Equal((2, 13), (listen.Line, listen.Column));
        Assert.Contains("PORT or ADDRESS:PORT", listen.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-an-address", listen.ToString(), StringComparison.Ordinal);
        Assert.Single(result.Errors, d => d.JsonPath == "$.audit.maxFiles" && d.Line == 3);
        Assert.Single(result.Errors, d => d.File == "(environment)" && d.JsonPath == "MCP_GATEWAY_LIMITS__SESSIONS__TOTAL");
        Assert.Single(result.Errors, d => d.File == "(command line)" && d.JsonPath == "--log-level");
    }

    [Fact]
    public void UnknownKeys_AreErrors_WithDidYouMean()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"authentification": {}, "audit": {"fiel": "a.jsonl"}}""");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, d => d.JsonPath == "$.authentification" && d.Fix!.Contains("'authentication'", StringComparison.Ordinal));
        Assert.Contains(result.Errors, d => d.JsonPath == "$.audit.fiel" && d.Fix!.Contains("'file'", StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownEnvironmentVariable_IsAWarning()
    {
        _variables["MCP_GATEWAY_AUDIT__FIEL"] = "x";

        ConfigLoadResult<GatewaySettings> result = Parse("{}");

        Assert.True(result.Succeeded);
        Assert.Contains(result.Warnings, d => d.JsonPath == "MCP_GATEWAY_AUDIT__FIEL");
    }

    [Fact]
    public void WrongShapes_AreReportedAtTheirPaths()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"http": ["9000"], "limits": {"rate": {"agents": {"a": "many"}}}, "authentication": {"jwt": {"audiences": "one"}}}""");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, d => d.JsonPath == "$.http");
        Assert.Contains(result.Errors, d => d.JsonPath == "$.limits.rate.agents.a");
        Assert.Contains(result.Errors, d => d.JsonPath == "$.authentication.jwt.audiences");
    }

    [Fact]
    public void Jwt_RequiresAnAudience_AndHttpsKeys()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"authentication": {"jwt": {"authority": "http://login.example.com"}}}""");

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, d => d.Message.Contains("no audience", StringComparison.Ordinal));
        Assert.Contains(result.Errors, d => d.JsonPath == "$.authentication.jwt.authority" && d.Message.Contains("not https", StringComparison.Ordinal));
    }

    [Fact]
    public void Jwt_AudienceDefaultsToTheResource_AndAuthorizationServerToTheAuthority()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""
            {"authentication": {"resource": "https://gw.example.com/mcp",
              "jwt": {"authority": "https://login.example.com/realm", "agentClaim": "client_id", "agents": {"https://apps/x": "alpha"}, "requiredScopes": ["mcp"]}}}
            """);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        AuthenticationSettings authentication = result.Value!.Authentication;
        Assert.True(authentication.IsConfigured);
        JwtSettings jwt = authentication.Jwt!;
        Assert.Equal(["https://gw.example.com/mcp"], jwt.Audiences);
        Assert.Equal("client_id", jwt.AgentClaim);
        Assert.Equal("alpha", jwt.Agents!["https://apps/x"]);
        Assert.Equal(["mcp"], jwt.RequiredScopes);
        Assert.Equal([new Uri("https://login.example.com/realm")], authentication.AuthorizationServers);
    }

    [Fact]
    public void ApiKeys_AreOn_WhenTheKeysFileExistsBesideTheSettings()
    {
        Assert.Null(Parse("{}").Value!.Authentication.ApiKeys);

        File.WriteAllText(Path.Combine(_folder, ApiKeySettings.DefaultFileName), """{"keys": []}""");
        ApiKeySettings keys = Parse("{}").Value!.Authentication.ApiKeys!;

        Assert.Equal(Path.Combine(_folder, ApiKeySettings.DefaultFileName), keys.File);
        Assert.False(keys.Explicit);
    }

    [Fact]
    public void ApiKeys_NamedFile_IsRelativeToTheSettingsFile()
    {
        ApiKeySettings keys = Parse("""{"authentication": {"apiKeys": {"file": "secrets/keys.json"}}}""").Value!.Authentication.ApiKeys!;

        Assert.Equal(Path.Combine(_folder, "secrets", "keys.json"), keys.File);
        Assert.True(keys.Explicit);
    }

    [Fact]
    public void Origins_MustBeOrigins()
    {
        ConfigLoadResult<GatewaySettings> result = Parse("""{"http": {"allowedOrigins": ["https://ok.example.com", "https://bad.example.com/path", "not a url"]}}""");

        Assert.Equal(2, result.Errors.Count(d => d.JsonPath.StartsWith("$.http.allowedOrigins[", StringComparison.Ordinal)));
    }

    [Fact]
    public void SubstitutedValues_AreNeverEchoed()
    {
        _variables["SECRET_PORT"] = "s3cr3t-canary";

        ConfigLoadResult<GatewaySettings> result = Parse("""{"http": {"listen": "${SECRET_PORT}"}}""");

        Assert.False(result.Succeeded);
        Assert.All(result.Diagnostics, d => Assert.DoesNotContain("s3cr3t-canary", d.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public void ExampleSettingsFile_LoadsWithoutErrorsOrWarnings()
    {
        ConfigLoadResult<GatewaySettings> result = Parse(ExampleFiles.Settings);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
    }
}
