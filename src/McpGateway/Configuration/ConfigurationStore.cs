namespace McpGateway.Configuration;

/// <summary>
/// Where the three files are and how they were found, with everything needed to read them again the same way: a
/// reload reads exactly what start-up read (the same paths, variables and command-line flags).
/// </summary>
public sealed record ConfigSources(
    ConfigLocation Servers,
    ConfigLocation Rules,
    ConfigLocation Settings,
    DiscoveryEnvironment Environment,
    string? DefaultAgentOverride = null,
    IReadOnlyList<SettingOverride>? Overrides = null)
{
    public ConfigLoadResult<ConfigurationSnapshot> Load() =>
        ConfigurationLoader.Load(Servers, Rules, Settings, Environment, DefaultAgentOverride, Overrides);

    /// <summary>The files a reload watches (those that were found), the keys file aside (it watches itself).</summary>
    public IEnumerable<string> Files => new[] { Servers.Path, Rules.Path, Settings.Path }.OfType<string>();
}

/// <summary>The outcome of the last reload, for logs, <c>/status</c> and metrics.</summary>
public sealed record ReloadOutcome(DateTimeOffset At, bool Succeeded, IReadOnlyList<string> Errors, IReadOnlyList<string> Notes)
{
    public static ReloadOutcome Failed(DateTimeOffset at, IEnumerable<ConfigDiagnostic> errors) =>
        new(at, false, [.. errors.Select(e => e.ToString())], []);
}

/// <summary>
/// The configuration in force: swapped whole when a reload succeeds, left as it was (and the failure recorded) when
/// a reload finds any error. Readers take <see cref="Current"/> once per request.
/// </summary>
public sealed class ConfigurationStore(ConfigurationSnapshot initial, ConfigSources? sources = null)
{
    private ConfigurationSnapshot _current = initial;
    private long _version;

    public ConfigurationSnapshot Current => Volatile.Read(ref _current);

    /// <summary>How many reloads have been applied.</summary>
    public long Version => Interlocked.Read(ref _version);

    public ConfigSources? Sources { get; } = sources;

    /// <summary>The last reload's outcome; null before the first.</summary>
    public ReloadOutcome? LastReload { get; private set; }

    public void Swap(ConfigurationSnapshot next, ReloadOutcome outcome)
    {
        Volatile.Write(ref _current, next);
        LastReload = outcome;
        Interlocked.Increment(ref _version);
    }

    public void RecordFailure(ReloadOutcome outcome) => LastReload = outcome;
}
