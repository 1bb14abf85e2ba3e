using McpGateway.Configuration;
using McpGateway.Downstream;
using McpGateway.Gateway;
using McpGateway.Identity.Sessions;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace McpGateway.Hosting;

/// <summary>
/// Hot reload of the servers, rules and settings files: on a change to any of them (debounced, since editors write a
/// file in several steps), on SIGHUP, or on <c>mcp-gateway reload</c>. Everything is read and validated first; any
/// error keeps the configuration in force and is reported (log, <c>/status</c>). Otherwise the new configuration is
/// swapped in at once: removed and changed servers are stopped (their calls fail clearly), the new rules and limits
/// apply to the very next request of every session, sessions whose view changed are told so, and added and changed
/// servers start. Settings that only a restart can change (where it listens, authentication…) are reported as such.
/// </summary>
internal sealed partial class ConfigurationReloader : IDisposable
{
    private static readonly TimeSpan s_debounce = TimeSpan.FromMilliseconds(300);

    private readonly ConfigurationStore _store;
    private readonly DownstreamManager _downstream;
    private readonly GatewayStateProvider _state;
    private readonly SessionLimiter _sessionLimiter;
    private readonly ToolCallGate _gate;
    private readonly SessionTokens _sessionTokens;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly List<IDisposable> _watches = [];
    private readonly List<PhysicalFileProvider> _providers = [];
    private readonly object _timerLock = new();
    private readonly SessionLimitSettings _startupSessions;
    private ITimer? _debounce;
    private int _disposed;

    public ConfigurationReloader(
        ConfigurationStore store,
        DownstreamManager downstream,
        GatewayStateProvider state,
        SessionLimiter sessionLimiter,
        ToolCallGate gate,
        SessionTokens sessionTokens,
        TimeProvider time,
        ILogger<ConfigurationReloader> logger)
    {
        _sessionTokens = sessionTokens;
        _store = store;
        _downstream = downstream;
        _state = state;
        _sessionLimiter = sessionLimiter;
        _gate = gate;
        _time = time;
        _logger = logger;
        _startupSessions = store.Current.Settings.Limits.Sessions;
    }

    /// <summary>Raised after every reload attempt, applied or refused.</summary>
    public event Action<ReloadOutcome>? Reloaded;

    /// <summary>Watches the files the configuration came from.</summary>
    public void Watch()
    {
        if (_store.Sources is not { } sources)
        {
            return;
        }

        bool polling = Environment.GetEnvironmentVariable("DOTNET_USE_POLLING_FILE_WATCHER") is "1" or "true";
        foreach (IGrouping<string, string> folder in sources.Files.GroupBy(f => Path.GetDirectoryName(f)!))
        {
            if (!Directory.Exists(folder.Key))
            {
                continue;
            }

            var provider = new PhysicalFileProvider(folder.Key) { UsePollingFileWatcher = polling };
            _providers.Add(provider);
            foreach (string file in folder)
            {
                WatchFile(provider, Path.GetFileName(file));
            }
        }
    }

    private void WatchFile(PhysicalFileProvider provider, string name)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        IChangeToken token = provider.Watch(name);
        lock (_watches)
        {
            _watches.Add(token.RegisterChangeCallback(_ =>
            {
                Request($"{name} changed");
                WatchFile(provider, name);
            }, null));
        }
    }

    /// <summary>Asks for a reload soon: requests within a moment of each other make one reload.</summary>
    public void Request(string why)
    {
        lock (_timerLock)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            _debounce ??= _time.CreateTimer(_ => _ = ReloadQuietlyAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _debounce.Change(s_debounce, Timeout.InfiniteTimeSpan);
            LogRequested(_logger, why);
        }
    }

    private async Task ReloadQuietlyAsync()
    {
        try
        {
            await ReloadAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogReloadCrashed(_logger, ex);
        }
    }

    /// <summary>Reads, validates and (when valid) applies the configuration now.</summary>
    public async Task<ReloadOutcome> ReloadAsync(CancellationToken cancellationToken)
    {
        if (_store.Sources is not { } sources)
        {
            return new ReloadOutcome(_time.GetUtcNow(), false, ["this gateway was not started from files, so there is nothing to reload"], []);
        }

        await _reloading.WaitAsync(cancellationToken);
        try
        {
            ConfigLoadResult<ConfigurationSnapshot> loaded = sources.Load();
            if (!loaded.Succeeded)
            {
                var failed = ReloadOutcome.Failed(_time.GetUtcNow(), loaded.Errors);
                _store.RecordFailure(failed);
                foreach (string error in failed.Errors)
                {
                    LogInvalid(_logger, error);
                }

                LogKept(_logger, failed.Errors.Count);
                Reloaded?.Invoke(failed);
                return failed;
            }

            ConfigurationSnapshot previous = _store.Current;
            ConfigurationSnapshot next = loaded.Value!;
            List<string> notes = RestartOnly(previous.Settings, next.Settings);

            // Servers first: what is removed or changed stops now (its calls fail clearly), then the new rules and
            // limits apply to the next request, then what is new starts.
            ServersChange servers = await _downstream.ApplyAsync(next.Servers, cancellationToken);
            _sessionLimiter.Apply(SessionLimits(next.Settings.Limits.Sessions, notes));

            // Key rotation without a restart: new sessions get the new first key; a key no longer listed stops opening ids.
            _sessionTokens.Apply(next.Settings.Sessions);

            // New call limits start every budget afresh: only when they changed, or any edit would reset them.
            if (!SameRate(previous.Settings.Limits.Rate, next.Settings.Limits.Rate))
            {
                _gate.Apply(next.Settings.Limits.Rate);
            }

            var outcome = new ReloadOutcome(_time.GetUtcNow(), true, [], notes);
            _store.Swap(next, outcome);
            _state.Rebuild();
            LogApplied(_logger, Names(servers.Added), Names(servers.Restarted), Names(servers.Removed), servers.Kept.Count);
            foreach (string note in notes)
            {
                LogRestartRequired(_logger, note);
            }

            Reloaded?.Invoke(outcome);
            return outcome;
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>Settings this process cannot change while it runs: a reload says so, and keeps using the old values.</summary>
    private static List<string> RestartOnly(GatewaySettings previous, GatewaySettings next)
    {
        var notes = new List<string>();
        void Check(string section, bool same)
        {
            if (!same)
            {
                notes.Add($"'{section}' changed; it takes effect when the gateway restarts");
            }
        }

        Check("http", previous.Http.Listen == next.Http.Listen && previous.Http.Stateless == next.Http.Stateless &&
            previous.Http.AllowUnauthenticated == next.Http.AllowUnauthenticated && previous.Http.MaxRequestBodyBytes == next.Http.MaxRequestBodyBytes &&
            previous.Http.AllowedOrigins.SequenceEqual(next.Http.AllowedOrigins));
        Check("exposure", previous.Exposure == next.Exposure);
        Check("identity", previous.Identity == next.Identity);
        Check("authentication", SameAuthentication(previous.Authentication, next.Authentication));
        Check("audit", previous.Audit == next.Audit);
        Check("logging", previous.Logging == next.Logging);
        Check("redis", previous.Redis == next.Redis);
        Check("supervision", previous.Supervision == next.Supervision);

        // The HTTP request limiter and the HTTP transport's idle expiry are built once, at start.
        RateLimitSettings rate = previous.Limits.Rate, nextRate = next.Limits.Rate;
        Check("limits.rate.httpRequests", rate.HttpRequests == nextRate.HttpRequests && (nextRate.HttpRequests == 0 || rate.Window == nextRate.Window));
        Check("limits.sessions.idleTimeoutSeconds", previous.Limits.Sessions.IdleTimeout == next.Limits.Sessions.IdleTimeout);
        return notes;
    }

    /// <summary>
    /// The session limits to apply now. A total above the one the gateway started with waits for a restart: the HTTP
    /// transport was told at start to close idle sessions beyond it, which would evict other agents' sessions.
    /// </summary>
    private SessionLimitSettings SessionLimits(SessionLimitSettings next, List<string> notes)
    {
        if (next.Total <= _startupSessions.Total)
        {
            return next;
        }

        notes.Add($"'limits.sessions.total' above {_startupSessions.Total} (the total at start) takes effect when the gateway restarts");
        return next with { Total = _startupSessions.Total };
    }

    private static bool SameAuthentication(AuthenticationSettings a, AuthenticationSettings b) =>
        a.Resource == b.Resource && a.ApiKeys == b.ApiKeys && a.AuthorizationServers.SequenceEqual(b.AuthorizationServers) &&
        (a.Jwt is null) == (b.Jwt is null) && (a.Jwt is null || (a.Jwt.Authority == b.Jwt!.Authority && a.Jwt.Issuer == b.Jwt.Issuer &&
            a.Jwt.JwksUri == b.Jwt.JwksUri && a.Jwt.JwksFile == b.Jwt.JwksFile && a.Jwt.AgentClaim == b.Jwt.AgentClaim &&
            a.Jwt.RequireHttpsMetadata == b.Jwt.RequireHttpsMetadata && a.Jwt.ClockSkew == b.Jwt.ClockSkew && a.Jwt.KeyRefresh == b.Jwt.KeyRefresh &&
            a.Jwt.Audiences.SequenceEqual(b.Jwt.Audiences) && a.Jwt.RequiredScopes.SequenceEqual(b.Jwt.RequiredScopes) &&
            (a.Jwt.Agents ?? new Dictionary<string, string>()).OrderBy(e => e.Key).SequenceEqual((b.Jwt.Agents ?? new Dictionary<string, string>()).OrderBy(e => e.Key))));

    /// <summary>The limits the call limiter uses (the HTTP request limit is another's, fixed at start).</summary>
    private static bool SameRate(RateLimitSettings a, RateLimitSettings b) =>
        a.Window == b.Window && a.Calls == b.Calls && a.Tools.SequenceEqual(b.Tools) &&
        a.Agents.Count == b.Agents.Count && a.Agents.All(entry => b.Agents.TryGetValue(entry.Key, out int calls) && calls == entry.Value);

    private static string Names(IReadOnlyList<string> names) => names.Count == 0 ? "none" : string.Join(", ", names);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_timerLock)
        {
            _debounce?.Dispose();
        }

        lock (_watches)
        {
            _watches.ForEach(w => w.Dispose());
        }

        _providers.ForEach(p => p.Dispose());
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reload requested: {Why}.")]
    private static partial void LogRequested(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reload: {Diagnostic}")]
    private static partial void LogInvalid(ILogger logger, string diagnostic);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reload refused: {Count} error(s) (above); the configuration in force is unchanged.")]
    private static partial void LogKept(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reloaded: servers added {Added}, restarted {Restarted}, removed {Removed}, {Kept} unchanged; the new rules and limits apply now.")]
    private static partial void LogApplied(ILogger logger, string added, string restarted, string removed, int kept);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reload: {Note}.")]
    private static partial void LogRestartRequired(ILogger logger, string note);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reload failed unexpectedly.")]
    private static partial void LogReloadCrashed(ILogger logger, Exception exception);
}
