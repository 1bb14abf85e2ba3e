using System.Text.Json.Nodes;
using McpGateway.Identity.ApiKeys;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace McpGateway.Tests.Identity;

/// <summary>
/// How the key store notices a changed keys file: at once when the file is replaced (what the keys commands do),
/// within a poll when it is edited in place, and not at all for writes to other files of its folder (the audit log,
/// often written there, must not wake it).
/// </summary>
public sealed class ApiKeyStoreWatchTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-keywatch-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task WritesToOtherFilesOfTheFolder_DoNotReload_WhileReplacingTheKeysFileDoesAtOnce()
    {
        string path = Path.Combine(_folder, "mcp-gateway.keys.json");
        (string id, string key) = ApiKey.Generate(_ => false);
        ApiKeyFile.Save(path, [Entry(id, key)]);
        using var store = new ApiKeyStore(path, new FakeTimeProvider(), NullLogger<ApiKeyStore>.Instance);
        long before = store.Version;
        var reloaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Reloaded += _ => reloaded.TrySetResult();

        using (var audit = new FileStream(Path.Combine(_folder, "audit.jsonl"), FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0))
        {
            for (int i = 0; i < 200; i++)
            {
                audit.Write("{\"method\":\"tools/call\"}\n"u8);
            }
        }

        ApiKeyFile.Save(path, [Entry(id, key) with { Revoked = DateTimeOffset.UtcNow }]);

        // File events arrive in order, so a reload for any of the writes would have come before this one.
        await reloaded.Task.Within("the key store to reload the changed file", TestContext.Current.CancellationToken);
        Assert.Equal(before + 1, store.Version);
        Assert.Equal(ApiKeyFailure.Revoked, store.Check(key).Failure);
    }

    [Fact]
    public void KeysFileEditedInPlace_IsReadAgainAtTheNextPoll()
    {
        string path = Path.Combine(_folder, "mcp-gateway.keys.json");
        (string id, string key) = ApiKey.Generate(_ => false);
        ApiKeyFile.Save(path, [Entry(id, key)]);
        var time = new FakeTimeProvider();
        using var store = new ApiKeyStore(path, time, NullLogger<ApiKeyStore>.Instance);
        Assert.True(store.Check(key).Succeeded);

        // An editor writing into the file: no rename, so only the poll can see it.
        JsonObject file = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        file["keys"]![0]!["revoked"] = "2026-12-01T00:00:00Z";
        using (var stream = new FileStream(path, FileMode.Truncate, FileAccess.Write))
        {
            stream.Write(System.Text.Encoding.UTF8.GetBytes(file.ToJsonString()));
        }

        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        time.Advance(ApiKeyStore.PollInterval);

        Assert.Equal(ApiKeyFailure.Revoked, store.Check(key).Failure);
    }

    private static ApiKeyEntry Entry(string id, string key) =>
        new() { Id = id, Agent = "alpha", Created = DateTimeOffset.UtcNow, Hash = ApiKey.Hash(key) };
}
