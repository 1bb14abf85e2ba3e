using System.Globalization;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Operations;

/// <summary>
/// Reloading a running <c>mcp-gateway serve</c> process on demand: SIGHUP, <c>mcp-gateway reload --pid</c> and
/// <c>mcp-gateway reload --url</c> (issue 11 item 6). The files are left as they are unless a test says otherwise, so
/// a reload the gateway logs is the one the signal or the command asked for, not the file watcher's.
/// </summary>
public sealed class ReloadSignalTests
{
    private const string Rules = """{ "agents": { "ops": { "allow": { "servers": ["*"] } } } }""";
    private const string Reloaded = "Reloaded: servers added none, restarted none, removed none, 1 unchanged";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sighup_ReloadsTheFiles_AndTheGatewayKeepsRunning()
    {
        await using GatewayProcess gateway = await StartAsync();

        await gateway.SignalAsync("HUP", Ct);
        await WaitForLineAsync(gateway, Reloaded);

        Assert.False(gateway.HasExited);
        Assert.Single(gateway.Stderr.Lines, l => l.Contains("Reloaded:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReloadCommand_WithPid_SignalsTheGateway_WhichReloads()
    {
        await using GatewayProcess gateway = await StartAsync();

        CliRun run = await OperationsCli.RunAsync(gateway.Directory, ["reload", "--pid", gateway.Id.ToString(CultureInfo.InvariantCulture)]);
        await WaitForLineAsync(gateway, Reloaded);

        Assert.Equal(ExitCodes.Success, run.ExitCode);
        Assert.Equal($"sent SIGHUP to {gateway.Id}; the gateway logs the outcome.", run.Output.Trim());
        Assert.False(gateway.HasExited);
    }

    [Fact]
    public async Task ReloadCommand_WithUrl_ReloadsAndSaysSo()
    {
        await using GatewayProcess gateway = await StartAsync();

        CliRun run = await OperationsCli.RunAsync(gateway.Directory, ["reload", "--url", Root(gateway)]);

        Assert.Equal(ExitCodes.Success, run.ExitCode);
        Assert.Equal("reloaded.", run.Output.Trim());
        Assert.Empty(run.Error);
        await WaitForLineAsync(gateway, Reloaded);
    }

    [Fact]
    public async Task ReloadCommand_WithUrl_WhenARuleHasAnError_PrintsItAndExitsOne_AndTheGatewayKeepsItsRules()
    {
        await using GatewayProcess gateway = await StartAsync();
        File.WriteAllText(Path.Combine(gateway.Directory, "rules.json"), """{ "agents": { "ops": { "alow": { "servers": ["*"] } } } }""");

        CliRun run = await OperationsCli.RunAsync(gateway.Directory, ["reload", "--url", Root(gateway)]);

        Assert.Equal(ExitCodes.InvalidConfiguration, run.ExitCode);
        Assert.Equal("not reloaded: the configuration has errors (above); the one in force is unchanged.", run.Output.Trim());
        Assert.Contains("$.agents.ops.alow", run.Error, StringComparison.Ordinal);
        await WaitForLineAsync(gateway, "Reload refused: 1 error(s)");
        Assert.DoesNotContain(gateway.Stderr.Lines, l => l.Contains("Reloaded:", StringComparison.Ordinal));
    }

    private static Task<GatewayProcess> StartAsync() =>
        GatewayProcess.StartAsync(TestServers.File(("fixture", TestServers.Fixture())), Rules, ["--http", "0"], Ct);

    private static string Root(GatewayProcess gateway) => gateway.Endpoint!.GetLeftPart(UriPartial.Authority);

    private static Task WaitForLineAsync(GatewayProcess gateway, string text) =>
        gateway.Stderr.WaitForAsync(l => l.Contains(text, StringComparison.Ordinal), $"a log line holding '{text}'", Ct);
}
