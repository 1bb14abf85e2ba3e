using System.Diagnostics;
using System.Text.Json.Nodes;
using McpGateway.FastPath;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Telemetry;

/// <summary>
/// A gateway with in-memory exporters in front of the fixture server twice: <see cref="Server"/> pinned to
/// 2025-11-25 (so the fast path takes its calls) and <see cref="ModernServer"/> on 2026-07-28 (SDK path only). Their
/// names are used by no other test, so their metric points are this class's alone; each test acts as an agent of its own.
/// </summary>
public sealed class TelemetryGateway : IAsyncLifetime
{
    public const string Server = "telfix";
    public const string ModernServer = "telnew";

    public const string Rules = """
        {
          "agents": {
            "sdk-agent": { "allow": { "servers": ["telfix", "telnew"] } },
            "fast-agent": { "allow": { "servers": ["telfix"] } },
            "same-agent": { "allow": { "servers": ["telfix"] } },
            "stdio-agent": { "allow": { "servers": ["telfix"] } },
            "error-agent": { "allow": { "servers": ["telfix"] } },
            "metrics-agent": { "allow": { "servers": ["telfix"], "tools": { "telfix": ["a_b", "echo_args"] } } },
            "scrape-agent": { "allow": { "servers": ["telfix"], "tools": { "telfix": ["rich"] } } },
            "session-agent": { "allow": { "servers": ["telfix"] } }
          }
        }
        """;

    internal TelemetryCapture Capture { get; } = new();

    internal InProcessGateway Gateway { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Gateway = await InProcessGateway.StartAsync(
            TestServers.File((Server, TestServers.Fixture("--protocol", "2025-11-25")), (ModernServer, TestServers.Fixture())),
            Rules,
            cancellationToken: TestContext.Current.CancellationToken,
            configureServices: Capture.Register);
    }

    public async ValueTask DisposeAsync() => await Gateway.DisposeAsync();

    internal long Taken => Gateway.Services.GetRequiredService<FastForwarder>().Taken;

    /// <summary>
    /// A trace of the test's own, current until disposed: the C# SDK client's HTTP requests carry it in their
    /// <c>traceparent</c> header, so the gateway's spans for them belong to it.
    /// </summary>
    internal static Activity StartTrace()
    {
        var activity = new Activity("telemetry-test");
        activity.SetIdFormat(ActivityIdFormat.W3C);
        activity.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        return activity.Start();
    }

    /// <summary>A tools/call the fast path leaves to the SDK path: one with <c>_meta</c> (here, optionally, the agent's own trace context).</summary>
    internal static async Task<JsonObject> CallOnSdkPathAsync(McpClient client, string tool, JsonObject arguments, string? traceParent = null)
    {
        var meta = new JsonObject();
        if (traceParent is not null)
        {
            meta["traceparent"] = traceParent;
        }

        var parameters = new JsonObject { ["name"] = tool, ["arguments"] = arguments, ["_meta"] = meta };
        JsonRpcResponse response = await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ToolsCall, Params = parameters }, TestContext.Current.CancellationToken);
        return (JsonObject)response.Result!;
    }
}
