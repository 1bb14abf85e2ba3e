using System.Net;
using System.Net.Sockets;
using McpGateway.IntegrationTests.Conformance;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.EndToEnd;

/// <summary>User errors at start-up end `serve` with one clear line and no stack trace (DESIGN §9).</summary>
public sealed class ServeErrorTests
{
    [Fact]
    public async Task HttpPortInUse_ExitsWithOneClearError_AndNoStackTrace()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string directory = GatewayProcess.WriteConfiguration("""{ "mcpServers": {} }""", """{ "agents": { "a": { "allow": { "servers": ["*"] } } } }""");

        await using ChildProcess gateway = ChildProcess.Start(
            GatewayProcess.DotnetHost,
            [RepoPaths.GatewayDll, "serve", "--config", Path.Combine(directory, "servers.json"), "--rules", Path.Combine(directory, "rules.json"), "--http", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            directory);
        Assert.True(await gateway.WaitForExitAsync(), $"serve did not exit within {Patience.Describe}: " + gateway.Output);

        Assert.Equal(1, gateway.ExitCode);
        Assert.Contains($"error: cannot listen on 127.0.0.1:{port}", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", gateway.Output, StringComparison.Ordinal);
    }
}
