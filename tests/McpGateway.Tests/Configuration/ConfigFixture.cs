using McpGateway.Configuration;

namespace McpGateway.Tests.Configuration;

/// <summary>Parses configuration written inline against a fixed set of environment variables.</summary>
internal static class ConfigFixture
{
    public const string ServersFile = "servers.json";
    public const string RulesFile = "rules.json";

    public static Func<string, string?> Environment(params (string Name, string Value)[] variables)
    {
        Dictionary<string, string> map = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.GetValueOrDefault(name);
    }

    public static ConfigLoadResult<ServersConfig> Servers(string json, Func<string, string?>? environment = null) =>
        ConfigurationLoader.ParseServers(ServersFile, json, environment ?? Environment());

    public static ConfigLoadResult<RulesConfig> Rules(string json, Func<string, string?>? environment = null) =>
        ConfigurationLoader.ParseRules(RulesFile, json, environment ?? Environment());

    public static ServerConfig SingleServer(string json, Func<string, string?>? environment = null)
    {
        ConfigLoadResult<ServersConfig> result = Servers(json, environment);
        Assert.True(result.Succeeded, string.Join(System.Environment.NewLine, result.Diagnostics));
        return Assert.Single(result.Value!.Servers);
    }

    /// <summary>The one error of <paramref name="diagnostics"/>, checked for path, message and a fix.</summary>
    public static ConfigDiagnostic SingleError(IEnumerable<ConfigDiagnostic> diagnostics, string jsonPath, string messageFragment)
    {
        ConfigDiagnostic[] errors = [.. diagnostics.Where(d => d.IsError)];
        ConfigDiagnostic error = Assert.Single(errors);
        AssertDiagnostic(error, jsonPath, messageFragment);
        return error;
    }

    public static ConfigDiagnostic SingleWarning(IEnumerable<ConfigDiagnostic> diagnostics, string jsonPath, string messageFragment)
    {
        ConfigDiagnostic[] warnings = [.. diagnostics.Where(d => !d.IsError)];
        ConfigDiagnostic warning = Assert.Single(warnings);
        AssertDiagnostic(warning, jsonPath, messageFragment);
        return warning;
    }

    public static void AssertDiagnostic(ConfigDiagnostic diagnostic, string jsonPath, string messageFragment)
    {
        Assert.Equal(jsonPath, diagnostic.JsonPath);
        Assert.Contains(messageFragment, diagnostic.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(diagnostic.Fix), $"no fix for: {diagnostic}");
    }
}
