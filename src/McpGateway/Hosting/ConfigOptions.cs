using System.CommandLine;
using McpGateway.Configuration;

namespace McpGateway.Hosting;

/// <summary>The options every command that reads configuration shares, and the code that turns them into a snapshot.</summary>
internal sealed class ConfigOptions
{
    public Option<string?> Config { get; } = new("--config", "-c")
    {
        Description = $"Servers file (mcpServers format). Default: ${ConfigDiscovery.ServersVariable}, ./{ConfigDiscovery.ServersFileName}, ~/.config/mcp-gateway/servers.json.",
        HelpName = "FILE",
    };

    public Option<string?> Rules { get; } = new("--rules", "-r")
    {
        Description = $"Access rules file. Default: ${ConfigDiscovery.RulesVariable}, ./{ConfigDiscovery.RulesFileName}, ~/.config/mcp-gateway/rules.json.",
        HelpName = "FILE",
    };

    public Option<string?> Settings { get; } = new("--settings")
    {
        Description = $"Settings file (authentication, limits, audit; optional). Default: ${ConfigDiscovery.SettingsVariable}, ./{ConfigDiscovery.SettingsFileName}, ~/.config/mcp-gateway/settings.json.",
        HelpName = "FILE",
    };

    public Option<string?> DefaultAgent { get; } = new("--default-agent")
    {
        Description = $"Agent whose rules apply to callers that give no identity (overrides ${ConfigurationLoader.DefaultAgentVariable} and the rules file).",
        HelpName = "NAME",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Rules);
        command.Options.Add(Settings);
        command.Options.Add(DefaultAgent);
    }

    /// <summary>Discovers and loads the three files; prints every diagnostic to <paramref name="error"/>.</summary>
    /// <param name="overrides">Settings given as command-line flags; they win over the file and the environment.</param>
    /// <param name="warnings">False prints errors only (for commands whose job is not to review the files).</param>
    public ConfigLoadResult<ConfigurationSnapshot> Load(ParseResult parse, TextWriter error, DiscoveryEnvironment environment, IReadOnlyList<SettingOverride>? overrides = null, bool warnings = true) =>
        Load(parse, error, environment, out _, overrides, warnings);

    /// <inheritdoc cref="Load(ParseResult, TextWriter, DiscoveryEnvironment, IReadOnlyList{SettingOverride}?, bool)"/>
    /// <param name="sources">Where the files were found, to read them again on reload.</param>
    public ConfigLoadResult<ConfigurationSnapshot> Load(ParseResult parse, TextWriter error, DiscoveryEnvironment environment, out ConfigSources sources, IReadOnlyList<SettingOverride>? overrides = null, bool warnings = true)
    {
        sources = new ConfigSources(
            ConfigDiscovery.FindServersFile(parse.GetValue(Config), environment),
            ConfigDiscovery.FindRulesFile(parse.GetValue(Rules), environment),
            ConfigDiscovery.FindSettingsFile(parse.GetValue(Settings), environment),
            environment,
            parse.GetValue(DefaultAgent),
            overrides);
        ConfigLoadResult<ConfigurationSnapshot> result = sources.Load();
        foreach (ConfigDiagnostic diagnostic in result.Diagnostics.Where(d => warnings || d.IsError).OrderBy(d => d.File, StringComparer.Ordinal).ThenBy(d => d.Line ?? 0).ThenBy(d => d.Column ?? 0))
        {
            error.WriteLine(diagnostic.ToString());
        }

        return result;
    }
}
