using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpGateway.IntegrationTests.Telemetry;

/// <summary>
/// OTLP export configured by nothing but the standard variables, from a real gateway process over stdio (which has no
/// <c>/metrics</c>): an OTLP/HTTP receiver in the test gets the call's spans and the metrics, under service.name
/// "mcp-gateway"; with <c>logging.format</c> json every stderr line is a JSON object and stdout carries only the protocol.
/// </summary>
public sealed class OtlpExportTests
{
    private const string Rules = """{"agents": {"otlp-agent": {"allow": {"servers": ["otlpfix"]}}}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StdioGateway_WithOtlpEndpoint_ExportsSpansAndMetrics_AndWritesJsonLogs()
    {
        await using var receiver = await OtlpReceiver.StartAsync(Ct);
        string folder = GatewayProcess.WriteConfiguration(TestServers.File(("otlpfix", TestServers.Fixture("--protocol", "2025-11-25"))), Rules);
        var start = new ProcessStartInfo(GatewayProcess.DotnetHost)
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[RepoPaths.GatewayDll, "serve", "--config", Path.Combine(folder, "servers.json"), "--rules", Path.Combine(folder, "rules.json"), "--agent", "otlp-agent"])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (string variable in start.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal) || k.StartsWith("GATEWAY_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(variable);
        }

        start.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address.ToString();
        start.Environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        start.Environment["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        start.Environment["OTEL_METRIC_EXPORT_INTERVAL"] = "200";
        start.Environment["MCP_GATEWAY_LOGGING__FORMAT"] = "json";

        using var process = Process.Start(start)!;
        var stdout = new LineLog();
        var stderr = new LineLog();
        process.OutputDataReceived += (_, e) => stdout.Add(e.Data);
        process.ErrorDataReceived += (_, e) => stderr.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await stderr.WaitForAsync(l => l.Contains("mcp-gateway ready on stdio", StringComparison.Ordinal), "the gateway's ready line", Ct);
            await process.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"otlp-test","version":"1"}}}""");
            await stdout.WaitForAsync(l => l.Contains("\"id\":1", StringComparison.Ordinal), "the answer to initialize", Ct);
            await process.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            await process.StandardInput.WriteLineAsync("""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"otlpfix_echo_args","arguments":{"via":"otlp"}}}""");
            string answer = await stdout.WaitForAsync(l => l.Contains("\"id\":2", StringComparison.Ordinal), "the answer to tools/call", Ct);

            // Each waited for on its own: spans and instruments may come in different batches.
            byte[] server = await receiver.WaitForAsync("/v1/traces", "tools/call otlpfix_echo_args", Ct).Within("an export to /v1/traces holding 'tools/call otlpfix_echo_args'", Ct);
            await receiver.WaitForAsync("/v1/traces", "tools/call echo_args", Ct).Within("an export to /v1/traces holding 'tools/call echo_args'", Ct);
            await receiver.WaitForAsync("/v1/metrics", "mcp.server.operation.duration", Ct).Within("an export to /v1/metrics holding 'mcp.server.operation.duration'", Ct);
            await receiver.WaitForAsync("/v1/metrics", "mcp.client.operation.duration", Ct).Within("an export to /v1/metrics holding 'mcp.client.operation.duration'", Ct);
            await receiver.WaitForAsync("/v1/metrics", "mcp_gateway.tool.calls", Ct).Within("an export to /v1/metrics holding 'mcp_gateway.tool.calls'", Ct);

            Assert.Contains("traceparent", answer, StringComparison.Ordinal);
            Assert.True(Contains(server, "mcp-gateway"), "service.name is mcp-gateway");
            Assert.True(Contains(server, "otlp-agent"), "the span names its agent");
        }
        finally
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill(entireProcessTree: true);
            }

            Directory.Delete(folder, recursive: true);
        }

        // Logs: one JSON object per line on stderr; the protocol alone on stdout.
        Assert.NotEmpty(stderr.Lines);
        Assert.All(stderr.Lines.Where(l => l.Length > 0), l => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(l).RootElement.ValueKind));
        Assert.Contains(stderr.Lines, l => JsonNode.Parse(l)?["Category"]?.GetValue<string>() == "McpGateway" && l.Contains("ready on stdio", StringComparison.Ordinal));
        Assert.All(stdout.Lines.Where(l => l.Length > 0), l => Assert.Equal("2.0", JsonNode.Parse(l)?["jsonrpc"]?.GetValue<string>()));
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    /// <summary>A minimal OTLP/HTTP receiver: keeps every request body by path and answers 200 (an empty export response).</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly List<(string Path, byte[] Body)> _received = [];
        private readonly List<(string Path, string Text, TaskCompletionSource<byte[]> Done)> _waiters = [];

        private OtlpReceiver(WebApplication app) => _app = app;

        public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        public static async Task<OtlpReceiver> StartAsync(CancellationToken cancellationToken)
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            WebApplication app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body, context.RequestAborted);
                receiver.Add(context.Request.Path.Value!, body.ToArray());
                context.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync(cancellationToken);
            return receiver;
        }

        /// <summary>The first body sent to <paramref name="path"/> that holds <paramref name="text"/> (protobuf keeps strings as UTF-8).</summary>
        public Task<byte[]> WaitForAsync(string path, string text, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_received)
            {
                (string _, byte[] body) = _received.FirstOrDefault(r => r.Path == path && Contains(r.Body, text));
                if (body is not null)
                {
                    return Task.FromResult(body);
                }

                _waiters.Add((path, text, done));
            }

            return done.Task.WaitAsync(cancellationToken);
        }

        private void Add(string path, byte[] body)
        {
            lock (_received)
            {
                _received.Add((path, body));
                foreach ((string Path, string Text, TaskCompletionSource<byte[]> Done) waiter in _waiters.Where(w => w.Path == path && Contains(body, w.Text)).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Done.TrySetResult(body);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
