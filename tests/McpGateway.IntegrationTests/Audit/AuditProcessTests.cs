using System.Diagnostics;
using System.Text.Json.Nodes;
using McpGateway.Hosting;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Audit;

/// <summary><c>serve --audit -</c> in the real executable: records on standard output over HTTP, refused over stdio.</summary>
public sealed class AuditProcessTests
{
    private const string Rules = """{"agents": {"agent": {"allow": {"servers": ["fast"]}}}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Servers => TestServers.File(("fast", TestServers.Fixture("fast")));

    [Fact]
    public async Task AuditToStandardOutput_OnAnHttpGateway_WritesOneRecordPerCallToStdout_AndNothingElse()
    {
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Servers, Rules, ["--http", "0", "--audit", "-"], Ct);
        await using McpClient client = await McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = gateway.Endpoint!,
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string> { ["X-Agent-Id"] = "agent" },
            }),
            new McpClientOptions { ProtocolVersion = "2025-11-25" }.Patient(),
            cancellationToken: Ct);

        await client.CallRawAsync("fast_echo", new JsonObject { ["message"] = "on the fast path" }, Ct);
        await client.CallRawAsync("execute_tool", new JsonObject { ["server"] = "fast", ["tool"] = "echo", ["args"] = new JsonObject { ["message"] = "on the full path" } }, Ct);
        await client.ListToolsRawAsync(Ct);

        // The full path writes its record just after the response: wait for all three lines, not for the last request's.
        await gateway.Stdout.UntilAsync(lines => lines.Count >= 3, "three audit records on stdout", Ct);
        JsonObject[] records = [.. gateway.Stdout.Lines.Select(line => JsonNode.Parse(line) as JsonObject ?? throw new InvalidOperationException("not a record: " + line))];
        Assert.Equal(3, records.Length);
        Assert.Equal(["fast/echo", "fast_echo"], records.Where(r => r["method"]!.GetValue<string>() == RequestMethods.ToolsCall).Select(r => r["item"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Single(records, r => r["method"]!.GetValue<string>() == RequestMethods.ToolsList);
        Assert.All(records, r => Assert.Equal("agent", r["agent"]?.GetValue<string>()));
        Assert.All(records, r => Assert.Equal("allowed", r["decision"]?.GetValue<string>()));
        Assert.All(records, r => Assert.Equal("result", r["outcome"]?.GetValue<string>()));
        Assert.DoesNotContain(gateway.Stderr.Lines, line => line.Contains("\"method\":", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AuditToStandardOutput_OnAStdioGateway_IsRefusedWithOneClearError_AndStdoutStaysEmpty()
    {
        string directory = GatewayProcess.WriteConfiguration(Servers, Rules);
        try
        {
            var start = new ProcessStartInfo(GatewayProcess.DotnetHost)
            {
                WorkingDirectory = directory,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in (string[])[RepoPaths.GatewayDll, "serve", "--config", Path.Combine(directory, "servers.json"), "--rules", Path.Combine(directory, "rules.json"), "--agent", "agent", "--audit", "-"])
            {
                start.ArgumentList.Add(argument);
            }

            using Process process = Process.Start(start)!;
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(Ct);
            Task<string> stderr = process.StandardError.ReadToEndAsync(Ct);
            await process.WaitForExitAsync(Ct);

            string error = await stderr;
            Assert.Equal(ExitCodes.InvalidConfiguration, process.ExitCode);
            Assert.Equal(string.Empty, await stdout);
            Assert.Contains("error: --audit - writes the audit log to standard output, which a stdio gateway uses for the protocol. Fix: name a file", error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
            Assert.DoesNotContain("ready on", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
