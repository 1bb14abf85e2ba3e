namespace McpGateway.Configuration;

/// <summary>Where a configuration file was found, and why there.</summary>
public sealed record ConfigLocation(string? Path, string Origin, IReadOnlyList<string> Searched)
{
    public bool Found => Path is not null;
}

/// <summary>The environment discovery reads; injectable so the order can be tested without touching the real machine.</summary>
public sealed record DiscoveryEnvironment(
    Func<string, string?> GetVariable,
    Func<string, bool> FileExists,
    string CurrentDirectory,
    string HomeDirectory)
{
    /// <summary>
    /// Adds the environment-variable layer of the settings (<c>MCP_GATEWAY_SECTION__KEY</c>). Tests replace it with
    /// an in-memory layer: environment variables are shared by every test running in the process.
    /// </summary>
    public Action<Microsoft.Extensions.Configuration.IConfigurationBuilder> AddSettingsVariables { get; init; } =
        builder => Microsoft.Extensions.Configuration.EnvironmentVariablesExtensions.AddEnvironmentVariables(builder, SettingsLoader.VariablePrefix);

    public static DiscoveryEnvironment System { get; } = new(
        Environment.GetEnvironmentVariable,
        File.Exists,
        Environment.CurrentDirectory,
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
}

/// <summary>
/// Finds the servers and rules files when no flag names them: <c>GATEWAY_MCP_CONFIG</c> / <c>GATEWAY_RULES</c>,
/// then <c>./mcp-gateway.servers.json</c> and <c>./mcp-gateway.rules.json</c>, then <c>~/.config/mcp-gateway/</c>
/// (<c>servers.json</c>; <c>rules.json</c> or <c>access_rules.json</c>). Only names of the gateway's own: a client's
/// file (<c>./.mcp.json</c> is Claude Code's, and lists the gateway itself) is read only when named with <c>--config</c>.
/// </summary>
public static class ConfigDiscovery
{
    public const string ServersVariable = "GATEWAY_MCP_CONFIG";
    public const string RulesVariable = "GATEWAY_RULES";
    public const string SettingsVariable = "GATEWAY_SETTINGS";
    public const string SettingsFileName = "mcp-gateway.settings.json";

    public const string ServersFileName = "mcp-gateway.servers.json";
    public const string RulesFileName = "mcp-gateway.rules.json";

    // The names earlier versions wrote, still found (they are the gateway's own, unlike .mcp.json).
    private const string LegacyRulesFileName = ".mcp-gateway-rules.json";

    public static ConfigLocation FindServersFile(string? flag, DiscoveryEnvironment environment) =>
        Find(flag, "--config", ServersVariable, [ServersFileName], ["servers.json"], environment);

    public static ConfigLocation FindRulesFile(string? flag, DiscoveryEnvironment environment) =>
        Find(flag, "--rules", RulesVariable, [RulesFileName, LegacyRulesFileName], ["rules.json", "access_rules.json", LegacyRulesFileName], environment);

    /// <summary>
    /// The settings file is optional: <c>--settings</c>, <c>GATEWAY_SETTINGS</c>, <c>./mcp-gateway.settings.json</c>,
    /// <c>~/.config/mcp-gateway/settings.json</c>; not finding one means every default applies.
    /// </summary>
    public static ConfigLocation FindSettingsFile(string? flag, DiscoveryEnvironment environment) =>
        Find(flag, "--settings", SettingsVariable, [SettingsFileName], ["settings.json"], environment);

    /// <summary>The per-user folder: <c>$XDG_CONFIG_HOME/mcp-gateway</c>, else <c>~/.config/mcp-gateway</c>.</summary>
    public static string UserConfigDirectory(DiscoveryEnvironment environment)
    {
        string? xdg = environment.GetVariable("XDG_CONFIG_HOME");
        string baseDirectory = string.IsNullOrEmpty(xdg) ? Path.Combine(environment.HomeDirectory, ".config") : xdg;
        return Path.Combine(baseDirectory, "mcp-gateway");
    }

    private static ConfigLocation Find(
        string? flag,
        string flagName,
        string variable,
        string[] localNames,
        string[] userNames,
        DiscoveryEnvironment environment)
    {
        // An explicitly named file is used (or reported missing) as is: falling back elsewhere would hide the mistake.
        if (!string.IsNullOrEmpty(flag))
        {
            return new ConfigLocation(Path.GetFullPath(flag, environment.CurrentDirectory), flagName, []);
        }

        string? fromEnvironment = environment.GetVariable(variable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return new ConfigLocation(Path.GetFullPath(fromEnvironment, environment.CurrentDirectory), variable, []);
        }

        var searched = new List<string>();
        foreach (string name in localNames)
        {
            string candidate = Path.Combine(environment.CurrentDirectory, name);
            searched.Add(candidate);
            if (environment.FileExists(candidate))
            {
                return new ConfigLocation(candidate, "current directory", searched);
            }
        }

        string userDirectory = UserConfigDirectory(environment);
        foreach (string name in userNames)
        {
            string candidate = Path.Combine(userDirectory, name);
            searched.Add(candidate);
            if (environment.FileExists(candidate))
            {
                return new ConfigLocation(candidate, "user configuration directory", searched);
            }
        }

        return new ConfigLocation(null, "not found", searched);
    }
}
