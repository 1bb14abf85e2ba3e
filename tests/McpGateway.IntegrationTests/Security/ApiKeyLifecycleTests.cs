using System.Text.Json.Nodes;
using McpGateway.Configuration;
using McpGateway.Hosting;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A key stops working without a restart when it is revoked (by <c>keys revoke</c> or any rewrite of the keys file)
/// or when its expiry passes, including on sessions it already opened. Each test has its own gateway, keys file and
/// clock: they change them. Waits are on the key store's reload event and on a fake clock, never on the wall clock.
/// </summary>
public sealed class ApiKeyLifecycleTests
{
    private const string Rules = """
        {
          "agents": {
            "alpha": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args"] } } },
            "beta": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args"] } } }
          }
        }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ApiKey_RevokedWithTheKeysCommand_StopsWorkingWithoutRestart()
    {
        await using var setup = await KeysGateway.StartAsync(configureServices: null);
        McpClient alpha = await setup.ConnectAsync(setup.Alpha);
        McpClient beta = await setup.ConnectAsync(setup.Beta);
        await alpha.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "before" }, Ct);

        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = await GatewayCli.RunAsync(
            ["keys", "revoke", setup.Alpha.Id, "--config", setup.File("servers.json"), "--rules", setup.File("rules.json"), "--settings", setup.File("settings.json")],
            setup.Environment, output, error, Ct);
        Assert.True(exitCode == 0, error.ToString());
        await SecurityTestKit.WaitForKeysAsync(setup.Store, store => store.Check(setup.Alpha.Key).Failure == ApiKeyFailure.Revoked, Ct);

        await setup.AssertRefusedAsync(setup.Alpha, alpha.SessionId);
        JsonObject stillWorks = await beta.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "beta" }, Ct);
        Assert.Equal("""{"text":"beta"}""", JsonNode.Parse(stillWorks.FirstText())!.ToJsonString());
        Assert.Equal(string.Empty, output.ToString());
    }

    [Fact]
    public async Task ApiKey_RevokedByRewritingTheFile_StopsWorkingWithoutRestart_AndAnAddedKeyStartsWorking()
    {
        await using var setup = await KeysGateway.StartAsync(configureServices: null);
        McpClient alpha = await setup.ConnectAsync(setup.Alpha);
        await alpha.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "before" }, Ct);
        TestKey added = SecurityTestKit.NewKey("alpha");

        DateTimeOffset now = DateTimeOffset.UtcNow;
        ApiKeyFile.Save(setup.KeysFile, [setup.Alpha.Entry(now.AddDays(-1), revoked: now), setup.Beta.Entry(now.AddDays(-1)), added.Entry(now)]);
        await SecurityTestKit.WaitForKeysAsync(setup.Store, store => store.Check(setup.Alpha.Key).Failure == ApiKeyFailure.Revoked && store.Check(added.Key).Succeeded, Ct);

        await setup.AssertRefusedAsync(setup.Alpha, alpha.SessionId);
        McpClient fresh = await setup.ConnectAsync(added);
        JsonObject result = await fresh.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "new key" }, Ct);
        Assert.Equal("""{"text":"new key"}""", JsonNode.Parse(result.FirstText())!.ToJsonString());
    }

    [Fact]
    public async Task ApiKey_PastItsExpiry_StopsWorking_WhenTheGatewaysClockPassesIt()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // Within the sessions' idle timeout (30 min, on the same clock), so the session is still there to refuse.
        DateTimeOffset expiry = clock.GetUtcNow().AddMinutes(10);
        await using var setup = await KeysGateway.StartAsync(services => services.AddSingleton<TimeProvider>(clock), alphaExpires: expiry);
        Assert.Same(clock, setup.Gateway.Services.GetRequiredService<TimeProvider>());
        McpClient alpha = await setup.ConnectAsync(setup.Alpha);
        await alpha.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "before" }, Ct);

        clock.Advance(TimeSpan.FromMinutes(9));
        RawResponse almost = await SecurityTestKit.PostAsync(setup.Gateway.Endpoint, SecurityTestKit.ToolsList(), setup.Alpha.Bearer(), alpha.SessionId, Ct);
        clock.SetUtcNow(expiry);

        Assert.True(almost.Status == 200, almost.ToString());
        Assert.Equal(ApiKeyFailure.Expired, setup.Store.Check(setup.Alpha.Key).Failure);
        await setup.AssertRefusedAsync(setup.Alpha, alpha.SessionId);
    }

    /// <summary>A gateway in front of the fixture server with a keys file beside its settings, in a folder of its own.</summary>
    private sealed class KeysGateway : IAsyncDisposable
    {
        private KeysGateway(string folder) => Folder = folder;

        public string Folder { get; }

        public TestKey Alpha { get; } = SecurityTestKit.NewKey("alpha");

        public TestKey Beta { get; } = SecurityTestKit.NewKey("beta");

        public InProcessGateway Gateway { get; private set; } = null!;

        public string KeysFile => File(ApiKeySettings.DefaultFileName);

        public ApiKeyStore Store => Gateway.Services.GetRequiredService<ApiKeyStore>();

        /// <summary>What <c>mcp-gateway</c> run in this folder sees: no environment variables, this folder as home.</summary>
        public DiscoveryEnvironment Environment => new(_ => null, System.IO.File.Exists, Folder, Folder) { AddSettingsVariables = _ => { } };

        public static async Task<KeysGateway> StartAsync(Action<IServiceCollection>? configureServices, DateTimeOffset? alphaExpires = null)
        {
            var setup = new KeysGateway(Directory.CreateTempSubdirectory("mcp-gateway-keys-").FullName);
            DateTimeOffset created = DateTimeOffset.UtcNow.AddDays(-1);

            // The default name beside the settings file: keys are on because the file exists.
            ApiKeyFile.Save(setup.KeysFile, [setup.Alpha.Entry(created, expires: alphaExpires), setup.Beta.Entry(created)]);
            setup.Gateway = await InProcessGateway.StartAsync(
                TestServers.File(("fixture", TestServers.Fixture())), Rules, cancellationToken: Ct, settingsJson: "{}", folder: setup.Folder, configureServices: configureServices);
            return setup;
        }

        public string File(string name) => Path.Combine(Folder, name);

        public Task<McpClient> ConnectAsync(TestKey key) => Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: key.Bearer());

        /// <summary>The key opens no new session and no longer works on the session it opened.</summary>
        public async Task AssertRefusedAsync(TestKey key, string? sessionId)
        {
            RawResponse onItsSession = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolCall("fixture_echo_args"), key.Bearer(), sessionId, Ct);
            RawResponse asHeader = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), key.ApiKeyHeader(), null, Ct);
            HttpRequestException connect = await Assert.ThrowsAsync<HttpRequestException>(() => ConnectAsync(key));

            Assert.True(onItsSession.Status == 401, onItsSession.ToString());
            Assert.True(asHeader.Status == 401, asHeader.ToString());
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, connect.StatusCode);
        }

        public async ValueTask DisposeAsync()
        {
            if (Gateway is not null)
            {
                await Gateway.DisposeAsync();
            }

            Directory.Delete(Folder, recursive: true);
        }
    }
}
