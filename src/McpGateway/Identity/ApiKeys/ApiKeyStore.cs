using System.Collections.Frozen;
using System.Security.Cryptography;
using McpGateway.Configuration;
using Microsoft.Extensions.Logging;

namespace McpGateway.Identity.ApiKeys;

/// <summary>Why a presented key was not accepted; never told to the caller (who gets "invalid API key"), only logged and audited.</summary>
public enum ApiKeyFailure
{
    None,
    Malformed,
    UnknownId,
    WrongSecret,
    Revoked,
    Expired,
}

/// <summary>The outcome of checking one presented key.</summary>
public readonly record struct ApiKeyCheck(ApiKeyEntry? Entry, ApiKeyFailure Failure, string? KeyId)
{
    public bool Succeeded => Failure == ApiKeyFailure.None;
}

/// <summary>
/// The keys the gateway accepts, read from the keys file and read again whenever it changes (a revoked key stops
/// working without a restart). A file that fails to parse keeps the last good set and is reported; a deleted file
/// leaves no keys (fail closed). Checking a key is one hash, one dictionary lookup and a constant-time comparison.
/// </summary>
internal sealed partial class ApiKeyStore : IDisposable
{
    /// <summary>How often the file is looked at for changes no file event reports (edits in place, volumes without events).</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    // Compared against when the id is unknown, so an unknown id costs the same as a wrong secret.
    private static readonly byte[] s_decoy = SHA256.HashData("mcp-gateway decoy"u8);

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher? _watcher;
    private readonly ITimer? _poll;
    private readonly object _reloadLock = new();
    private volatile Snapshot _current = Snapshot.Empty;
    private (bool Exists, DateTime Written, long Length) _stamp;
    private long _version;

    public ApiKeyStore(string path, TimeProvider time, ILogger<ApiKeyStore> logger, bool watch = true)
    {
        _path = System.IO.Path.GetFullPath(path);
        _time = time;
        _logger = logger;
        Reload(initial: true);
        string? folder = System.IO.Path.GetDirectoryName(_path);
        if (watch && folder is not null && Directory.Exists(folder))
        {
            // Events only for files created, deleted and renamed in the folder: `keys add` and `keys revoke` write a
            // new file and rename it over the old, so their changes count at once. Not for writes: the kernel would
            // wake the watcher for every write to any file of the folder, and the audit log is often written there,
            // beside the settings (one wake-up per audit batch). Edits in place, and volumes that deliver no events,
            // are caught by a look at the file's size and time every PollInterval.
            _watcher = new FileSystemWatcher(folder) { NotifyFilter = NotifyFilters.FileName, IncludeSubdirectories = false };
            _watcher.Created += OnFileEvent;
            _watcher.Deleted += OnFileEvent;
            _watcher.Renamed += OnFileEvent;
            _watcher.EnableRaisingEvents = true;
            _poll = time.CreateTimer(_ => ReloadIfChanged(), null, PollInterval, PollInterval);
        }
    }

    public string Path => _path;

    /// <summary>Raised after every reload, good or bad, with the number of keys in force.</summary>
    public event Action<int>? Reloaded;

    /// <summary>How many times the file has been read (for tests that wait for a change to be picked up).</summary>
    public long Version => Interlocked.Read(ref _version);

    public int Count => _current.ById.Count;

    public IEnumerable<ApiKeyEntry> Entries => _current.ById.Values.Select(s => s.Entry);

    public ApiKeyCheck Check(string presented)
    {
        string? id = ApiKey.IdOf(presented);
        if (id is null)
        {
            return new ApiKeyCheck(null, ApiKeyFailure.Malformed, null);
        }

        byte[] digest = ApiKey.HashBytes(presented);
        bool known = _current.ById.TryGetValue(id, out Stored? stored);
        bool equal = CryptographicOperations.FixedTimeEquals(digest, known ? stored!.Digest : s_decoy);
        if (!known)
        {
            return new ApiKeyCheck(null, ApiKeyFailure.UnknownId, id);
        }

        if (!equal)
        {
            return new ApiKeyCheck(null, ApiKeyFailure.WrongSecret, id);
        }

        ApiKeyEntry entry = stored!.Entry;
        if (entry.Revoked is not null)
        {
            return new ApiKeyCheck(entry, ApiKeyFailure.Revoked, id);
        }

        return entry.Expires is { } expires && expires <= _time.GetUtcNow()
            ? new ApiKeyCheck(entry, ApiKeyFailure.Expired, id)
            : new ApiKeyCheck(entry, ApiKeyFailure.None, id);
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.FullPath, _path, StringComparison.Ordinal) || (e is RenamedEventArgs renamed && string.Equals(renamed.OldFullPath, _path, StringComparison.Ordinal)))
        {
            Reload(initial: false);
        }
    }

    private void ReloadIfChanged()
    {
        if (Stamp() != _stamp)
        {
            Reload(initial: false);
        }
    }

    private (bool Exists, DateTime Written, long Length) Stamp()
    {
        var file = new FileInfo(_path);
        return file.Exists ? (true, file.LastWriteTimeUtc, file.Length) : (false, default, 0);
    }

    private void Reload(bool initial)
    {
        lock (_reloadLock)
        {
            // Taken before reading: a change made while the file is read is seen by the next look.
            _stamp = Stamp();
            if (!File.Exists(_path))
            {
                _current = Snapshot.Empty;
                if (!initial)
                {
                    LogFileGone(_logger, _path);
                }
            }
            else
            {
                ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> loaded = ApiKeyFile.Load(_path);
                if (loaded.Succeeded)
                {
                    _current = new Snapshot(loaded.Value!);
                    LogLoaded(_logger, _current.ById.Count, _path);
                }
                else
                {
                    foreach (ConfigDiagnostic error in loaded.Errors)
                    {
                        LogInvalid(_logger, error.ToString());
                    }
                }
            }

            Interlocked.Increment(ref _version);
        }

        Reloaded?.Invoke(_current.ById.Count);
    }

    public void Dispose()
    {
        _poll?.Dispose();
        _watcher?.Dispose();
    }

    private sealed record Stored(ApiKeyEntry Entry, byte[] Digest);

    private sealed class Snapshot
    {
        public Snapshot(IReadOnlyList<ApiKeyEntry> entries) =>
            ById = entries.ToFrozenDictionary(e => e.Id, e => new Stored(e, ApiKey.ParseHash(e.Hash)!), StringComparer.Ordinal);

        public static Snapshot Empty { get; } = new([]);

        public FrozenDictionary<string, Stored> ById { get; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys: {Count} read from {Path}.")]
    private static partial void LogLoaded(ILogger logger, int count, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "API keys: the keys file is invalid; the keys read before stay in force: {Diagnostic}")]
    private static partial void LogInvalid(ILogger logger, string diagnostic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys: {Path} is gone; no key is accepted until it is back.")]
    private static partial void LogFileGone(ILogger logger, string path);
}
