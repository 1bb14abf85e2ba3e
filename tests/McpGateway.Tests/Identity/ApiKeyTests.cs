using McpGateway.Configuration;
using McpGateway.Identity.ApiKeys;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace McpGateway.Tests.Identity;

/// <summary>API keys: the format, the keys file (hashes only), and checking a presented key.</summary>
public sealed class ApiKeyTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-keys-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Generate_MakesDistinctHighEntropyKeys_WithTheirIdInside()
    {
        var ids = new HashSet<string>();
        var keys = new HashSet<string>();
        for (int i = 0; i < 200; i++)
        {
            (string id, string key) = ApiKey.Generate(ids.Contains);
            Assert.True(ids.Add(id));
            Assert.True(keys.Add(key));
            Assert.Equal(id, ApiKey.IdOf(key));
            Assert.StartsWith("mgw_" + id + "_", key, StringComparison.Ordinal);
            Assert.Equal(4 + 8 + 1 + 43, key.Length);
        }
    }

    [Fact]
    public void Hash_IsStable_AndNeverContainsTheKey()
    {
        (_, string key) = ApiKey.Generate(_ => false);

        string hash = ApiKey.Hash(key);

        Assert.Equal(hash, ApiKey.Hash(key));
        Assert.StartsWith("sha256:", hash, StringComparison.Ordinal);
        Assert.DoesNotContain(key[13..], hash, StringComparison.Ordinal);
        Assert.NotNull(ApiKey.ParseHash(hash));
        Assert.Null(ApiKey.ParseHash(key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("mgw_")]
    [InlineData("mgw_XYZ12345_secret")]
    [InlineData("mgw_1234567_secret")]
    [InlineData("sk-live-123456")]
    public void IdOf_RejectsWhatIsNotAKey(string text) => Assert.Null(ApiKey.IdOf(text));

    [Fact]
    public void Store_AcceptsItsKeys_AndRefusesEveryOtherKind_WithTheReason()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        (string activeId, string active) = ApiKey.Generate(_ => false);
        (string revokedId, string revoked) = ApiKey.Generate(id => id == activeId);
        (string expiringId, string expiring) = ApiKey.Generate(id => id == activeId || id == revokedId);
        string path = Path.Combine(_folder, "keys.json");
        ApiKeyFile.Save(path,
        [
            Entry(activeId, "alpha", active, time.GetUtcNow()),
            Entry(revokedId, "alpha", revoked, time.GetUtcNow()) with { Revoked = time.GetUtcNow() },
            Entry(expiringId, "beta", expiring, time.GetUtcNow()) with { Expires = time.GetUtcNow().AddHours(1) },
        ]);
        using var store = new ApiKeyStore(path, time, NullLogger<ApiKeyStore>.Instance, watch: false);

        Assert.Equal(ApiKeyFailure.None, store.Check(active).Failure);
        Assert.Equal("alpha", store.Check(active).Entry!.Agent);
        Assert.Equal(ApiKeyFailure.Revoked, store.Check(revoked).Failure);
        Assert.Equal(ApiKeyFailure.None, store.Check(expiring).Failure);
        Assert.Equal(ApiKeyFailure.WrongSecret, store.Check(active[..^2] + (active[^2] == 'A' ? "BB" : "AA")).Failure);
        Assert.Equal(ApiKeyFailure.UnknownId, store.Check("mgw_ffffffff_" + new string('x', 43)).Failure);
        Assert.Equal(ApiKeyFailure.Malformed, store.Check("Bearer-something").Failure);

        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(ApiKeyFailure.Expired, store.Check(expiring).Failure);
        Assert.Equal(ApiKeyFailure.None, store.Check(active).Failure);
    }

    [Fact]
    public async Task Store_ReadsTheFileAgain_WhenItChanges()
    {
        string path = Path.Combine(_folder, "keys.json");
        (string id, string key) = ApiKey.Generate(_ => false);
        ApiKeyFile.Save(path, [Entry(id, "alpha", key, DateTimeOffset.UtcNow)]);
        using var store = new ApiKeyStore(path, TimeProvider.System, NullLogger<ApiKeyStore>.Instance);
        Assert.True(store.Check(key).Succeeded);
        var reloaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Reloaded += _ =>
        {
            if (!store.Check(key).Succeeded)
            {
                reloaded.TrySetResult();
            }
        };

        ApiKeyFile.Save(path, [Entry(id, "alpha", key, DateTimeOffset.UtcNow) with { Revoked = DateTimeOffset.UtcNow }]);

        // Waits for the file watcher's event; the bound only ends a test that would otherwise hang.
        await reloaded.Task.Within("the key store to reload the changed file", TestContext.Current.CancellationToken);
        Assert.Equal(ApiKeyFailure.Revoked, store.Check(key).Failure);
    }

    [Fact]
    public void File_WithAKeyInsteadOfAHash_IsAnErrorThatDoesNotEchoIt()
    {
        (string id, string key) = ApiKey.Generate(_ => false);
        string json = $$"""{"keys": [{"id": "{{id}}", "agent": "a", "created": "2026-12-01T00:00:00Z", "hash": "{{key}}"}]}""";

        ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> result = ApiKeyFile.Parse("keys.json", json);

        Assert.False(result.Succeeded);
        ConfigDiagnostic error = Assert.Single(result.Errors);
        Assert.Equal("$.keys[0].hash", error.JsonPath);
        Assert.DoesNotContain(key, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void File_ReportsEveryProblemWithItsPath()
    {
        ConfigLoadResult<IReadOnlyList<ApiKeyEntry>> result = ApiKeyFile.Parse("keys.json", """
            {"keys": [
              {"id": "abc", "agent": "a", "created": "2026-12-01T00:00:00Z", "hash": "sha256:AAAA"},
              {"id": "0000000a", "agent": "a", "created": "yesterday", "hash": "sha256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "colour": "red"}
            ]}
            """);

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, d => d.JsonPath == "$.keys[0].id");
        Assert.Contains(result.Errors, d => d.JsonPath == "$.keys[0].hash");
        Assert.Contains(result.Errors, d => d.JsonPath == "$.keys[1].created");
        Assert.Contains(result.Errors, d => d.JsonPath == "$.keys[1].colour");
    }

    [Fact]
    public void Save_WritesAFileOnlyItsOwnerCanRead_ThatLoadsBack()
    {
        string path = Path.Combine(_folder, "sub", "keys.json");
        (string id, string key) = ApiKey.Generate(_ => false);
        var entry = Entry(id, "alpha", key, new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero)) with { Label = "laptop", Expires = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero) };

        ApiKeyFile.Save(path, [entry]);

        Assert.Equal(entry, Assert.Single(ApiKeyFile.Load(path).Value!));
        Assert.DoesNotContain(key, File.ReadAllText(path), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    private static ApiKeyEntry Entry(string id, string agent, string key, DateTimeOffset created) =>
        new() { Id = id, Agent = agent, Created = created, Hash = ApiKey.Hash(key) };
}
