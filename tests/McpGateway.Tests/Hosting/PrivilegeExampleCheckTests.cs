using System.Text.Json;
using McpGateway.Hosting;

namespace McpGateway.Tests.Hosting;

/// <summary>
/// <c>mcp-gateway check --agent guest</c> on the repository's own examples/ files: the example promises that guest
/// gets echo and nothing else (no other tool, no resource, no prompt), and check must say so, with the rule that decides.
/// The running gateway agrees (McpGateway.IntegrationTests, PrivilegeGuestTests).
/// </summary>
public sealed class PrivilegeExampleCheckTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private Task<CliResult> CheckGuestAsync(params string[] args)
    {
        string examples = Path.Combine(RepositoryRoot.Path, "examples");
        return _cli.RunAsync(["check", "--agent", "guest", "--config", Path.Combine(examples, "servers.json"), "--rules", Path.Combine(examples, "rules.json"), .. args]);
    }

    [Fact]
    public async Task CheckGuest_OnTheExamples_ShowsEchoOnly_WithResourcesAndPromptsWithheld()
    {
        CliResult result = await CheckGuestAsync();

        Assert.True(result.ExitCode == ExitCodes.Success, result.Error);
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("everything  allowed", StringComparison.Ordinal));
        Assert.Contains("tools allowed: echo  ($.agents.guest.allow.tools.everything)", lines);
        Assert.Contains("resources: withheld (tools restricted by an allow list)  ($.agents.guest.allow.tools.everything)", lines);
        Assert.Contains("prompts: withheld (tools restricted by an allow list)  ($.agents.guest.allow.tools.everything)", lines);
        Assert.Contains(lines, l => l.StartsWith("memory", StringComparison.Ordinal) && l.Contains("denied", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("filesystem", StringComparison.Ordinal) && l.Contains("denied", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("tools allowed: all", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--tool", "echo", true)]
    [InlineData("--tool", "get-env", false)]
    [InlineData("--tool", "get-sum", false)]
    [InlineData("--tool", "echo2", false)]
    [InlineData("--prompt", "simple-prompt", false)]
    [InlineData("--resource", "demo://resource/static/document/architecture.md", false)]
    [InlineData("--resource", "demo://resource/dynamic/text/{resourceId}", false)]
    public async Task CheckGuest_OneItemOfEverything_OnlyEchoIsAllowed(string option, string item, bool allowed)
    {
        CliResult result = await CheckGuestAsync("--server", "everything", option, item, "--json");

        Assert.Equal(allowed ? ExitCodes.Success : ExitCodes.Denied, result.ExitCode);
        using JsonDocument decision = JsonDocument.Parse(result.Output);
        Assert.Equal(allowed, decision.RootElement.GetProperty("allowed").GetBoolean());
        Assert.Equal(item, decision.RootElement.GetProperty("item").GetString());
        Assert.Contains("$.agents.guest.allow", decision.RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("filesystem")]
    public async Task CheckGuest_OtherExampleServers_AreDenied(string server)
    {
        CliResult result = await CheckGuestAsync("--server", server);

        Assert.Equal(ExitCodes.Denied, result.ExitCode);
        Assert.StartsWith("DENIED", result.Output, StringComparison.Ordinal);
    }
}
