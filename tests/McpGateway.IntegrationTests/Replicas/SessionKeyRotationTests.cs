using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Security;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using static McpGateway.IntegrationTests.Replicas.SessionMigrationTests;

namespace McpGateway.IntegrationTests.Replicas;

/// <summary>
/// Rotating the session key across replicas, as a rolling change of the settings does it: a replica with the new key
/// first and the old one second resumes sessions sealed with the old key and seals new ones with the new key; a
/// reload brings a key in or takes it out without a restart, and an id sealed with a key taken out is refused
/// even by the replica that holds its session.
/// </summary>
public sealed class SessionKeyRotationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NewKeyFirst_OldKeySecond_ResumesOldSessions_AndSealsNewOnesWithTheNewKey_AndAReloadAppliesIt()
    {
        string oldKey = SessionKey.Generate(), newKey = SessionKey.Generate();
        await using Replicas replicas = await Replicas.StartAsync(TestServers.File(("fx", TestServers.Fixture())), Rules, [Settings(oldKey), Settings(newKey, oldKey)], Ct);
        replicas.Router.Pinned = 0;
        McpClient sealedWithOld = await replicas.ConnectAsync(Ct, As("tester"));
        replicas.Router.Pinned = 1;
        McpClient sealedWithNew = await replicas.ConnectAsync(Ct, As("tester"));

        // B has both keys: the old session resumes there. A has only the old one: B's new session is not one of its.
        Assert.Equal(200, (await CallAsync(replicas[1].Endpoint, sealedWithOld)).Status);
        Assert.Equal(404, (await CallAsync(replicas[0].Endpoint, sealedWithNew)).Status);

        // A gets the new key too (first), by a reload: B's session resumes on A, A's own goes on.
        await ReloadAsync(replicas, 0, Settings(newKey, oldKey));
        Assert.Equal(200, (await CallAsync(replicas[0].Endpoint, sealedWithNew)).Status);
        Assert.Equal(200, (await CallAsync(replicas[0].Endpoint, sealedWithOld)).Status);

        // The old key retired: ids sealed with it are refused, by the replica holding that session as by any other.
        await ReloadAsync(replicas, 0, Settings(newKey));
        RawResponse retired = await CallAsync(replicas[0].Endpoint, sealedWithOld);
        Assert.True(retired.Status == 404, retired.ToString());
        Assert.NotNull(replicas[0].Services.GetRequiredService<McpGateway.Gateway.SessionRegistry>().Find(replicas[1].SdkSessionId(sealedWithOld.SessionId!)));
        Assert.Equal(200, (await CallAsync(replicas[0].Endpoint, sealedWithNew)).Status);
    }

    private static Task<RawResponse> CallAsync(Uri endpoint, McpClient session) =>
        SecurityTestKit.PostAsync(endpoint, SecurityTestKit.ToolCall("fx_echo_args"), As("tester"), session.SessionId, Ct);

    private static async Task ReloadAsync(Replicas replicas, int replica, string settings)
    {
        await File.WriteAllTextAsync(Path.Combine(replicas.Folder(replica), "settings.json"), settings, Ct);
        ReloadOutcome outcome = await replicas[replica].Services.GetRequiredService<ConfigurationReloader>().ReloadAsync(Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Errors));
        Assert.Empty(outcome.Notes);
    }
}
