using McpGateway.Policy;

namespace McpGateway.Configuration;

/// <summary>Loads both files, checks them against each other, and compiles the policy. Never throws for user mistakes.</summary>
public static class ConfigurationLoader
{
    public const string DefaultAgentVariable = "GATEWAY_DEFAULT_AGENT";

    /// <summary>Reads and validates a servers file.</summary>
    public static ConfigLoadResult<ServersConfig> LoadServers(string path, Func<string, string?> environment)
    {
        ConfigDocument? document = ReadDocument(path, environment, out ConfigDiagnostic? failure, ConfigDocument.Shapes.Servers);
        return document is null
            ? new ConfigLoadResult<ServersConfig>(null, [failure!])
            : ServersConfigParser.Parse(document);
    }

    /// <summary>Reads and validates a rules file.</summary>
    public static ConfigLoadResult<RulesConfig> LoadRules(string path, Func<string, string?> environment)
    {
        ConfigDocument? document = ReadDocument(path, environment, out ConfigDiagnostic? failure, ConfigDocument.Shapes.Rules);
        return document is null
            ? new ConfigLoadResult<RulesConfig>(null, [failure!])
            : RulesConfigParser.Parse(document);
    }

    public static ConfigLoadResult<ServersConfig> ParseServers(string file, string json, Func<string, string?> environment) =>
        ServersConfigParser.Parse(ConfigDocument.Read(file, System.Text.Encoding.UTF8.GetBytes(json), environment));

    public static ConfigLoadResult<RulesConfig> ParseRules(string file, string json, Func<string, string?> environment) =>
        RulesConfigParser.Parse(ConfigDocument.Read(file, System.Text.Encoding.UTF8.GetBytes(json), environment, ConfigDocument.Shapes.Rules));

    /// <summary>Loads the servers and rules files and compiles the policy (no settings file: every default applies).</summary>
    /// <param name="defaultAgentOverride">From <c>--default-agent</c>; when null, <c>GATEWAY_DEFAULT_AGENT</c> is read.</param>
    public static ConfigLoadResult<ConfigurationSnapshot> Load(
        ConfigLocation servers,
        ConfigLocation rules,
        Func<string, string?> environment,
        string? defaultAgentOverride = null) =>
        Load(servers, rules, new ConfigLocation(null, "not used", []), new DiscoveryEnvironment(environment, File.Exists, Environment.CurrentDirectory, string.Empty) { AddSettingsVariables = _ => { } }, defaultAgentOverride);

    /// <summary>Loads the three files found by discovery, checks them against each other and compiles the policy.</summary>
    /// <param name="defaultAgentOverride">From <c>--default-agent</c>; when null, <c>GATEWAY_DEFAULT_AGENT</c> is read.</param>
    /// <param name="overrides">Settings given as command-line flags.</param>
    public static ConfigLoadResult<ConfigurationSnapshot> Load(
        ConfigLocation servers,
        ConfigLocation rules,
        ConfigLocation settings,
        DiscoveryEnvironment environment,
        string? defaultAgentOverride = null,
        IReadOnlyList<SettingOverride>? overrides = null)
    {
        var diagnostics = new List<ConfigDiagnostic>();
        ConfigLoadResult<ServersConfig>? serversResult = null;
        ConfigLoadResult<RulesConfig>? rulesResult = null;

        if (servers.Path is null)
        {
            diagnostics.Add(NotFound("servers", "--config", ConfigDiscovery.ServersVariable, servers));
        }
        else
        {
            serversResult = LoadServers(servers.Path, environment.GetVariable);
            diagnostics.AddRange(serversResult.Diagnostics);
        }

        if (rules.Path is null)
        {
            diagnostics.Add(NotFound("access rules", "--rules", ConfigDiscovery.RulesVariable, rules));
        }
        else
        {
            rulesResult = LoadRules(rules.Path, environment.GetVariable);
            diagnostics.AddRange(rulesResult.Diagnostics);
        }

        if (serversResult?.Value is { } loadedServers)
        {
            WarnAboutMissingCommands(loadedServers, diagnostics);
        }

        ConfigLoadResult<GatewaySettings> settingsResult = SettingsLoader.Load(settings, environment, overrides, rules.Path);
        diagnostics.AddRange(settingsResult.Diagnostics);
        ConfigLoadResult<ConfigurationSnapshot> combined = Combine(serversResult?.Value, rulesResult?.Value, diagnostics, defaultAgentOverride ?? environment.GetVariable(DefaultAgentVariable));
        return combined.Value is { } snapshot && settingsResult.Value is { } loadedSettings
            ? combined with { Value = snapshot with { Settings = loadedSettings } }
            : combined with { Value = null };
    }

    /// <summary>Checks two parsed files against each other and compiles the policy.</summary>
    public static ConfigLoadResult<ConfigurationSnapshot> Combine(
        ServersConfig? servers,
        RulesConfig? rules,
        List<ConfigDiagnostic> diagnostics,
        string? defaultAgentOverride)
    {
        if (servers is not null && rules is not null)
        {
            WarnAboutUnknownServers(servers, rules, diagnostics);
            if (!string.IsNullOrEmpty(defaultAgentOverride) && !rules.Agents.Any(a => a.Name == defaultAgentOverride))
            {
                diagnostics.Add(new ConfigDiagnostic(
                    DiagnosticSeverity.Error,
                    rules.SourceFile ?? "(rules)",
                    string.Empty,
                    $"the default agent '{defaultAgentOverride}' (from {DefaultAgentVariable} or --default-agent) is not an agent in the rules.",
                    "name an agent defined in the rules file, or unset the variable."));
            }
        }

        if (servers is null || rules is null || diagnostics.Any(d => d.IsError))
        {
            return new ConfigLoadResult<ConfigurationSnapshot>(null, diagnostics);
        }

        PolicySnapshot policy = PolicySnapshot.Compile(rules, servers.Servers.Select(s => s.Name), defaultAgentOverride);
        return new ConfigLoadResult<ConfigurationSnapshot>(new ConfigurationSnapshot(servers, rules, policy), diagnostics);
    }

    /// <summary>A stdio server whose program is not there would only fail at start: say so now (a warning: PATH may differ where it runs).</summary>
    private static void WarnAboutMissingCommands(ServersConfig servers, List<ConfigDiagnostic> diagnostics)
    {
        foreach (ServerConfig server in servers.Servers)
        {
            if (server.Transport != ServerTransport.Stdio || !server.Enabled || server.Command is not { Length: > 0 } command)
            {
                continue;
            }

            string? path = server.Env.TryGetValue("PATH", out string? own) ? own : null;
            if (CommandLocator.Resolve(command, server.WorkingDirectory, path) is null)
            {
                string commandPath = JsonPath.Property(server.SourcePath, "command");
                diagnostics.Add(new ConfigDiagnostic(
                    DiagnosticSeverity.Warning,
                    servers.SourceFile ?? "(servers)",
                    commandPath,
                    command.Contains('/', StringComparison.Ordinal) ? "the program it names does not exist, so the server cannot start here." : "the program it names is not on PATH, so the server cannot start here.",
                    "install it, give its full path, or set PATH in the server's env.",
                    servers.Positions?.Find(commandPath)?.Line,
                    servers.Positions?.Find(commandPath)?.Column));
            }
        }
    }

    private static void WarnAboutUnknownServers(ServersConfig servers, RulesConfig rules, List<ConfigDiagnostic> diagnostics)
    {
        string file = rules.SourceFile ?? "(rules)";
        string configured = servers.Servers.Count == 0 ? "none" : string.Join(", ", servers.Servers.Select(s => s.Name));
        foreach (AgentRulesConfig agent in rules.Agents)
        {
            // Server lists, and the server keys of every tools, resources and prompts list on both sides.
            IEnumerable<RulePattern> serverPatterns = (agent.Allow.Servers ?? []).Concat(agent.Deny.Servers ?? [])
                .Concat(ItemServerKeys(agent.Allow))
                .Concat(ItemServerKeys(agent.Deny));
            foreach (RulePattern pattern in serverPatterns)
            {
                if (pattern.Pattern == "*" || servers.Servers.Any(s => Glob.IsMatch(pattern.Pattern, s.Name)))
                {
                    continue;
                }

                string? closest = pattern.IsWildcard ? null : JsonNodeReader.Closest(pattern.Pattern, servers.Servers.Select(s => s.Name));
                (int Line, int Column)? position = rules.Positions?.Find(pattern.Source);
                string shown = rules.IsSubstituted?.Invoke(pattern.Source) == true ? "the value (from the environment)" : $"'{pattern.Pattern}'";
                diagnostics.Add(new ConfigDiagnostic(
                    DiagnosticSeverity.Warning,
                    file,
                    pattern.Source,
                    pattern.IsWildcard
                        ? $"the pattern {shown} matches no configured server (configured: {configured})."
                        : $"{shown} is not a configured server (configured: {configured}); this entry has no effect until it is.",
                    closest is not null ? $"did you mean '{closest}'? Names are case-sensitive." : "add the server to the servers file, or remove the entry.",
                    position?.Line,
                    position?.Column));
            }
        }
    }

    private static IEnumerable<RulePattern> ItemServerKeys(AccessListConfig list) =>
        list.Tools.Concat(list.Resources).Concat(list.Prompts).Select(rule => rule.Server);

    internal static ConfigDocument? ReadDocument(string path, Func<string, string?> environment, out ConfigDiagnostic? failure, string emptyFix)
    {
        failure = null;
        try
        {
            return ConfigDocument.Read(path, File.ReadAllBytes(path), environment, emptyFix);
        }
        catch (FileNotFoundException)
        {
            failure = new ConfigDiagnostic(DiagnosticSeverity.Error, path, string.Empty, "the file does not exist.", "check the path, or run 'mcp-gateway init' to write example files.");
        }
        catch (DirectoryNotFoundException)
        {
            failure = new ConfigDiagnostic(DiagnosticSeverity.Error, path, string.Empty, "the folder of this file does not exist.", "check the path.");
        }
        catch (UnauthorizedAccessException)
        {
            failure = new ConfigDiagnostic(DiagnosticSeverity.Error, path, string.Empty, "the file cannot be read (permission denied, or it is a folder).", "check the path and its permissions.");
        }
        catch (IOException ex)
        {
            failure = new ConfigDiagnostic(DiagnosticSeverity.Error, path, string.Empty, $"the file cannot be read: {ex.Message}", "check the path.");
        }

        return null;
    }

    private static ConfigDiagnostic NotFound(string what, string flag, string variable, ConfigLocation location) => new(
        DiagnosticSeverity.Error,
        "(no file)",
        string.Empty,
        $"no {what} file found; looked for {string.Join(", ", location.Searched)}.",
        $"pass {flag} FILE, set {variable}, or run 'mcp-gateway init' to write example files here.");
}
