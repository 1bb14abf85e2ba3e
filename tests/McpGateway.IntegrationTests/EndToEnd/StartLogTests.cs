using System.Net;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;
using McpGateway.IntegrationTests.Operations;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>
/// A start that goes well says so without a warning: with the default settings, and with authentication on (which
/// brings ASP.NET Core Data Protection along, whose defaults warn about where they keep keys and write a key ring into
/// the home folder; the gateway protects nothing with it).
/// </summary>
public sealed class StartLogTests : IDisposable
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";

    private static readonly string[] s_levelsAboveInformation = [" warn: ", " fail: ", " crit: "];

    private readonly string _folder = Directory.CreateTempSubdirectory("mcp-gateway-startlog-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Serve_StartsAndStops_WithoutAWarning_AndWritesNothingIntoTheHomeFolder(bool apiKeys)
    {
        string home = Directory.CreateDirectory(Path.Combine(_folder, "home")).FullName;
        var environment = new Dictionary<string, string> { ["HOME"] = home };
        if (apiKeys)
        {
            string keys = Path.Combine(_folder, "keys.json");
            (string id, string key) = ApiKey.Generate(_ => false);
            ApiKeyFile.Save(keys, [new ApiKeyEntry { Id = id, Agent = "ops", Created = DateTimeOffset.UtcNow, Hash = ApiKey.Hash(key) }]);
            environment["MCP_GATEWAY_AUTHENTICATION__APIKEYS__FILE"] = keys;
        }

        await using GatewayProcess gateway = await GatewayProcess.StartAsync(TestServers.File(("everything", TestServers.Everything())), Rules, ["--http", "0"], Ct, environment);
        (HttpStatusCode anonymous, _) = await GatewayEndpoints.GetAsync(GatewayEndpoints.RootOf(gateway.Endpoint!), "/mcp", Ct);
        await gateway.SignalAsync("TERM", Ct);
        int exitCode = await gateway.WaitForExitAsync(Ct);
        await gateway.Stderr.Closed.Within("the end of the gateway's stderr", Ct);

        Assert.Equal(0, exitCode);
        string[] notices = [.. gateway.Stderr.Lines.Where(l => s_levelsAboveInformation.Any(level => l.Contains(level, StringComparison.Ordinal)))];
        Assert.True(notices.Length == 0, "the start logged:" + Environment.NewLine + string.Join(Environment.NewLine, notices));
        Assert.Equal(apiKeys, anonymous == HttpStatusCode.Unauthorized);
        Assert.Empty(Directory.GetFileSystemEntries(home, ".aspnet"));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
