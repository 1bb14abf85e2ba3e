using System.Diagnostics;
using System.Text;
using McpGateway.Hosting;
using McpGateway.Identity.ApiKeys;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// The real executable refuses to listen beyond loopback without authentication (issue 10, item 5; DESIGN §7), and
/// starts when keys are configured or the operator says <c>--allow-unauthenticated</c> (alias <c>--allow-remote</c>).
/// It listens on every interface; the tests only talk to it over 127.0.0.1.
/// </summary>
public sealed class RemoteListenTests
{
    private const string Rules = """
        { "agents": { "alpha": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args"] } } } } }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Servers => TestServers.File(("fixture", TestServers.Fixture()));

    [Fact]
    public async Task Serve_BeyondLoopback_WithoutAuthentication_RefusesToStart_WithAClearError()
    {
        string folder = GatewayProcess.WriteConfiguration(Servers, Rules);
        try
        {
            CommandResult run = await RunToExitAsync(folder, ["serve", "--config", Path.Combine(folder, "servers.json"), "--rules", Path.Combine(folder, "rules.json"), "--http", "0.0.0.0:0"]);

            Assert.True(run.ExitCode == ExitCodes.InvalidConfiguration, run.ToString());
            Assert.Contains("error: --http 0.0.0.0:0 listens beyond this machine, and no authentication is configured", run.Stderr, StringComparison.Ordinal);
            Assert.Contains("--allow-unauthenticated", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("mcp-gateway ready", run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Serve_BeyondLoopback_WithAKeysFile_Starts_AndRequiresAKey()
    {
        string folder = Directory.CreateTempSubdirectory("mcp-gateway-remote-").FullName;
        try
        {
            TestKey key = SecurityTestKit.NewKey("alpha");
            ApiKeyFile.Save(Path.Combine(folder, "keys.json"), [key.Entry(DateTimeOffset.UtcNow)]);
            string settings = Path.Combine(folder, "settings.json");
            File.WriteAllText(settings, """{ "authentication": { "apiKeys": { "file": "keys.json" } } }""");

            await using GatewayProcess gateway = await GatewayProcess.StartAsync(Servers, Rules, ["--http", "0.0.0.0:0", "--settings", settings], Ct);
            Uri endpoint = Loopback(gateway);
            RawResponse anonymous = await SecurityTestKit.PostAsync(endpoint, Initialize, null, null, Ct);
            RawResponse selfAsserted = await SecurityTestKit.PostAsync(endpoint, Initialize, new Dictionary<string, string> { ["X-Agent-Id"] = "alpha" }, null, Ct);
            RawResponse keyed = await SecurityTestKit.PostAsync(endpoint, Initialize, key.ApiKeyHeader(), null, Ct);

            Assert.True(anonymous.Status == 401, anonymous.ToString());
            Assert.True(selfAsserted.Status == 401, selfAsserted.ToString());
            Assert.True(keyed.Status == 200, keyed.ToString());
            Assert.Equal("mcp-gateway", keyed.Message?["result"]?["serverInfo"]?["name"]?.GetValue<string>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("--allow-unauthenticated")]
    [InlineData("--allow-remote")]
    public async Task Serve_BeyondLoopback_WithAllowUnauthenticated_Starts_AndTrustsTheAgentHeader(string flag)
    {
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Servers, Rules, ["--http", "0.0.0.0:0", flag], Ct);
        Uri endpoint = Loopback(gateway);

        RawResponse initialized = await SecurityTestKit.PostAsync(endpoint, Initialize, new Dictionary<string, string> { ["X-Agent-Id"] = "alpha" }, null, Ct);

        Assert.True(initialized.Status == 200, initialized.ToString());
        Assert.Equal("mcp-gateway", initialized.Message?["result"]?["serverInfo"]?["name"]?.GetValue<string>());
    }

    private static string Initialize => """
        {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"remote-listen-test","version":"1.0"}}}
        """;

    /// <summary>The gateway listens on every interface; the tests reach it on 127.0.0.1 at the port it reports.</summary>
    private static Uri Loopback(GatewayProcess gateway)
    {
        Assert.NotNull(gateway.Endpoint);
        Assert.Equal("0.0.0.0", gateway.Endpoint.Host);
        return new UriBuilder(gateway.Endpoint) { Host = "127.0.0.1" }.Uri;
    }

    /// <summary>Runs the executable until it exits (it is expected to refuse at once); kills it if it does not within the bound.</summary>
    private static async Task<CommandResult> RunToExitAsync(string folder, string[] arguments)
    {
        var startInfo = new ProcessStartInfo(GatewayProcess.DotnetHost)
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[RepoPaths.GatewayDll, .. arguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (string variable in (string[])["GATEWAY_MCP_CONFIG", "GATEWAY_RULES", "GATEWAY_DEFAULT_AGENT", "GATEWAY_SETTINGS"])
        {
            startInfo.Environment.Remove(variable);
        }

        using var process = Process.Start(startInfo)!;
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(Ct);
        Task<string> stderr = process.StandardError.ReadToEndAsync(Ct);
        using CancellationTokenSource deadline = Patience.Guard(Ct);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail(Patience.Message("the gateway to exit: it should have refused to start"));
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }
}
