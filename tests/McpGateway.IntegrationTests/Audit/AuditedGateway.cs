using System.Text;
using System.Text.Json.Nodes;
using McpGateway.Diagnostics;
using McpGateway.FastPath;
using McpGateway.Gateway;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.IntegrationTests.Audit;

/// <summary>An API key written to a gateway's keys file: the key an agent sends, and the id the audit names it by.</summary>
internal sealed record TestKey(string Agent, string Id, string Key)
{
    public string CredentialId => "key:" + Id;

    public IReadOnlyDictionary<string, string> Header => new Dictionary<string, string> { ["Authorization"] = "Bearer " + Key };
}

/// <summary>
/// An <see cref="InProcessGateway"/> with the audit log on, written to <c>audit.jsonl</c> in the gateway's own folder
/// (with API keys when asked for), and the ways a test reads its records back: during the run, the records since a
/// mark; after disposal, every record of every file the rotation left.
/// </summary>
internal sealed class AuditedGateway : IAsyncDisposable
{
    public const string FileName = "audit.jsonl";

    private readonly Dictionary<string, TestKey> _keys;
    private bool _stopped;

    private AuditedGateway(InProcessGateway gateway, string folder, Dictionary<string, TestKey> keys)
    {
        Gateway = gateway;
        Folder = folder;
        _keys = keys;
        Log = gateway.Services.GetRequiredService<AuditLog>();
        Forwarder = gateway.Services.GetRequiredService<FastForwarder>();
    }

    public InProcessGateway Gateway { get; }

    public string Folder { get; }

    public string AuditFile => Path.Combine(Folder, FileName);

    /// <summary>Resolved from the gateway's services; its counters stay readable after disposal.</summary>
    public AuditLog Log { get; }

    public FastForwarder Forwarder { get; }

    public TestKey Key(string agent) => _keys[agent];

    /// <param name="audit">The <c>audit</c> section besides <c>file</c> (arguments, maxFileBytes, maxFiles...).</param>
    /// <param name="settings">Other top-level sections of the settings file (limits...).</param>
    /// <param name="keysFor">Agents that get an API key each; any key turns authentication on.</param>
    /// <param name="prepare">Writes more files into the gateway's folder before it starts (a JWKS the settings name).</param>
    public static async Task<AuditedGateway> StartAsync(
        string serversJson,
        string rulesJson,
        CancellationToken cancellationToken,
        JsonObject? audit = null,
        JsonObject? settings = null,
        IReadOnlyList<string>? keysFor = null,
        GatewayOptions? options = null,
        bool stateless = false,
        Action<string>? prepare = null)
    {
        string folder = Directory.CreateTempSubdirectory("mcp-gateway-audit-").FullName;
        prepare?.Invoke(folder);
        var keys = new Dictionary<string, TestKey>(StringComparer.Ordinal);
        if (keysFor is { Count: > 0 })
        {
            var entries = new List<ApiKeyEntry>();
            foreach (string agent in keysFor)
            {
                (string id, string key) = ApiKey.Generate(taken => keys.Values.Any(k => k.Id == taken));
                keys[agent] = new TestKey(agent, id, key);
                entries.Add(new ApiKeyEntry { Id = id, Agent = agent, Created = DateTimeOffset.UtcNow, Hash = ApiKey.Hash(key) });
            }

            ApiKeyFile.Save(Path.Combine(folder, Configuration.ApiKeySettings.DefaultFileName), entries);
        }

        JsonObject auditSection = audit?.DeepClone().AsObject() ?? [];
        auditSection["file"] = FileName;
        JsonObject file = settings?.DeepClone().AsObject() ?? [];
        file["audit"] = auditSection;
        InProcessGateway gateway = await InProcessGateway.StartAsync(serversJson, rulesJson, options, stateless, cancellationToken, settingsJson: file.ToJsonString(), folder: folder);
        return new AuditedGateway(gateway, folder, keys);
    }

    /// <summary>Where the log stands now: later records are the ones <see cref="RecordsSinceAsync"/> returns.</summary>
    public async Task<AuditMark> MarkAsync(CancellationToken cancellationToken)
    {
        await Log.FlushAsync(cancellationToken);
        return new AuditMark(ReadFile(AuditFile).Count);
    }

    /// <summary>
    /// The records written since <paramref name="mark"/>, once there are <paramref name="expected"/> of them; fails
    /// unless there are exactly that many. The SDK path writes a request's record just after its response has gone
    /// out, so one flush can overtake it: this flushes again after each record the log accepts, until they are there.
    /// </summary>
    public async Task<IReadOnlyList<JsonObject>> RecordsSinceAsync(AuditMark mark, int expected, CancellationToken cancellationToken)
    {
        using var accepted = new SemaphoreSlim(0);
        void OnAccepted() => accepted.Release();
        Log.Accepted += OnAccepted;
        IReadOnlyList<JsonObject> records;
        try
        {
            using CancellationTokenSource bound = Patience.Guard(cancellationToken);
            while (true)
            {
                await Log.FlushAsync(cancellationToken);
                records = [.. ReadFile(AuditFile).Skip(mark.Lines)];
                if (records.Count >= expected)
                {
                    break;
                }

                try
                {
                    await accepted.WaitAsync(bound.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    Assert.Fail($"{Patience.Message($"{expected} new audit records")} Found {records.Count}:{Environment.NewLine}{string.Join(Environment.NewLine, records.Select(r => r.ToJsonString()))}");
                }
            }
        }
        finally
        {
            Log.Accepted -= OnAccepted;
        }

        Assert.True(records.Count == expected, $"expected {expected} new audit records, found {records.Count}:{Environment.NewLine}{string.Join(Environment.NewLine, records.Select(r => r.ToJsonString()))}");
        return records;
    }

    /// <summary>Disposes the gateway (which drains the log); the files stay until this object is disposed.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await Gateway.DisposeAsync();
        }
    }

    /// <summary>Disposes the gateway (which drains the log), then reads every audit file, oldest first.</summary>
    public async Task<IReadOnlyList<JsonObject>> StopAndReadAllAsync()
    {
        await StopAsync();
        return [.. AuditFiles().SelectMany(ReadFile)];
    }

    /// <summary>The current file and its rotations, oldest first: <c>audit.jsonl.N</c> … <c>audit.jsonl.1</c>, <c>audit.jsonl</c>.</summary>
    public IReadOnlyList<string> AuditFiles()
    {
        var numbered = new List<(int Index, string Path)>();
        foreach (string path in Directory.EnumerateFiles(Folder, FileName + ".*"))
        {
            string name = Path.GetFileName(path);
            if (name.StartsWith(FileName + ".", StringComparison.Ordinal) && int.TryParse(name[(FileName.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture, out int index))
            {
                numbered.Add((index, path));
            }
        }

        return [.. numbered.OrderByDescending(n => n.Index).Select(n => n.Path), .. File.Exists(AuditFile) ? [AuditFile] : Array.Empty<string>()];
    }

    /// <summary>Every text the audit files hold, for checking that a secret is nowhere in them.</summary>
    public string AllText() => string.Concat(AuditFiles().Select(File.ReadAllText));

    /// <summary>The audit records of one file: each line must be one complete JSON object, the last one ending in a newline.</summary>
    public static IReadOnlyList<JsonObject> ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        string text = File.ReadAllText(path, Encoding.UTF8);
        if (text.Length == 0)
        {
            return [];
        }

        Assert.True(text.EndsWith('\n'), $"{path} does not end with a newline");
        var records = new List<JsonObject>();
        foreach (string line in text[..^1].Split('\n'))
        {
            records.Add(JsonNode.Parse(line) as JsonObject ?? throw new InvalidOperationException($"not a JSON object in {path}: {line}"));
        }

        return records;
    }

    /// <summary>What the audit writes for a client's session id: the fingerprint of the SDK's id inside it.</summary>
    public string Fingerprint(string sessionId) => Gateway.SessionFingerprint(sessionId);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temporary directory; not worth failing a test for.
        }
    }
}

/// <summary>How many records the audit file held at one moment.</summary>
internal readonly record struct AuditMark(int Lines);
