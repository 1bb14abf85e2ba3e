using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using McpGateway.Gateway;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using OpenTelemetry.Metrics;

namespace McpGateway.IntegrationTests.Telemetry;

/// <summary>
/// Traces and metrics after the OpenTelemetry MCP semantic conventions: the agent's SERVER span with the downstream
/// CLIENT span as its child, the same on the SDK path and the fast path; trace context carried to the server in
/// <c>params._meta</c>; error types; the metrics and their bounded dimensions; the Prometheus endpoint.
/// </summary>
public sealed class TelemetryTests(TelemetryGateway fixture) : IClassFixture<TelemetryGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SdkPathCall_ServerSpanIsChildOfTheAgentsMetaTraceparent_AndParentOfTheDownstreamClientSpan()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "sdk-agent", cancellationToken: Ct);
        long taken = fixture.Taken;
        var agentTrace = ActivityTraceId.CreateRandom();
        var agentSpan = ActivitySpanId.CreateRandom();

        JsonObject result = await TelemetryGateway.CallOnSdkPathAsync(client, "telfix_echo_args", new JsonObject { ["text"] = "traced" }, $"00-{agentTrace}-{agentSpan}-01");
        (Activity server, Activity downstream) = await fixture.Capture.WaitForCallAsync(agentTrace);

        Assert.Equal(taken, fixture.Taken);
        Assert.Equal(agentSpan, server.ParentSpanId);
        AssertCallSpans(server, downstream, "sdk-agent", "telfix_echo_args", "echo_args", "tcp");
        Assert.Equal(fixture.Gateway.SessionFingerprint(client.SessionId!), server.GetTagItem("mcp.session.id"));
        Assert.Equal($"00-{agentTrace}-{downstream.SpanId}-01", result["structuredContent"]!["meta"]!["traceparent"]!.GetValue<string>());
    }

    [Fact]
    public async Task SdkPathCall_ToA2026Server_CarriesTraceparentBesideTheSdksOwnMeta()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "sdk-agent", cancellationToken: Ct);
        using Activity trace = TelemetryGateway.StartTrace();

        JsonObject result = await client.CallRawAsync("telnew_echo_args", new JsonObject { ["text"] = "modern" }, Ct);
        (Activity server, Activity downstream) = await fixture.Capture.WaitForCallAsync(trace.TraceId);

        Assert.NotEqual(default, server.ParentSpanId);
        Assert.Equal(server.SpanId, downstream.ParentSpanId);
        Assert.Equal("2026-07-28", downstream.GetTagItem("mcp.protocol.version"));
        Assert.Equal(TelemetryGateway.ModernServer, downstream.GetTagItem("mcp_gateway.server"));
        JsonObject meta = (JsonObject)result["structuredContent"]!["meta"]!;
        Assert.Equal($"00-{trace.TraceId}-{downstream.SpanId}-01", meta["traceparent"]!.GetValue<string>());
        Assert.Contains(meta, entry => entry.Key.StartsWith("io.modelcontextprotocol/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FastPathCall_IsTracedExactlyLikeTheSdkPath_AndCarriesTraceparentToTheServer()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "fast-agent", cancellationToken: Ct);
        long taken = fixture.Taken;
        var agentTrace = ActivityTraceId.CreateRandom();
        var agentSpan = ActivitySpanId.CreateRandom();

        // A plain POST of the session, as any client sends it: the fast path takes it; the agent's trace is in its traceparent header.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Gateway.Endpoint)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":"fast-1","method":"tools/call","params":{"name":"telfix_echo_args","arguments":{"text":"fast"}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("Mcp-Session-Id", client.SessionId);
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        request.Headers.Add("X-Agent-Id", "fast-agent");
        request.Headers.Add("traceparent", $"00-{agentTrace}-{agentSpan}-01");
        using HttpResponseMessage response = await http.SendAsync(request, Ct);
        JsonObject result = (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["result"]!;
        (Activity server, Activity downstream) = await fixture.Capture.WaitForCallAsync(agentTrace);

        Assert.Equal(taken + 1, fixture.Taken);
        Assert.Equal(agentSpan, server.ParentSpanId);
        AssertCallSpans(server, downstream, "fast-agent", "telfix_echo_args", "echo_args", "tcp");
        Assert.Equal("fast-1", server.GetTagItem("jsonrpc.request.id"));
        Assert.Equal(fixture.Gateway.SessionFingerprint(client.SessionId!), server.GetTagItem("mcp.session.id"));
        Assert.StartsWith("mcpgw:", (string)downstream.GetTagItem("jsonrpc.request.id")!, StringComparison.Ordinal);
        Assert.Equal($"00-{agentTrace}-{downstream.SpanId}-01", result["structuredContent"]!["meta"]!["traceparent"]!.GetValue<string>());
    }

    [Fact]
    public async Task SameCallOnBothPaths_HasTheSameSpanNamesAndAttributes()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "same-agent", cancellationToken: Ct);
        long taken = fixture.Taken;
        (Activity Server, Activity Client) fast, full;
        using (Activity trace = TelemetryGateway.StartTrace())
        {
            await client.CallRawAsync("telfix_a_b", new JsonObject(), Ct);
            fast = await fixture.Capture.WaitForCallAsync(trace.TraceId);
        }

        using (Activity trace = TelemetryGateway.StartTrace())
        {
            await TelemetryGateway.CallOnSdkPathAsync(client, "telfix_a_b", new JsonObject());
            full = await fixture.Capture.WaitForCallAsync(trace.TraceId);
        }

        Assert.Equal(taken + 1, fixture.Taken);
        Assert.Equal(fast.Server.DisplayName, full.Server.DisplayName);
        Assert.Equal(fast.Client.DisplayName, full.Client.DisplayName);
        Assert.Equal(Comparable(fast.Server), Comparable(full.Server));
        Assert.Equal(Comparable(fast.Client), Comparable(full.Client));
    }

    [Fact]
    public async Task StdioCalls_OnBothPaths_AreTracedOverPipe_WithoutSessionId()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Stdio, cancellationToken: Ct);
        await client.CallRawAsync("list_servers", new JsonObject { ["agent_id"] = "stdio-agent" }, Ct);
        long taken = fixture.Taken;

        await client.CallRawAsync("telfix_echo_args", new JsonObject { ["path"] = "fast" }, Ct);
        await TelemetryGateway.CallOnSdkPathAsync(client, "telfix_echo_args", new JsonObject { ["path"] = "sdk" });
        IReadOnlyList<Activity> servers = await fixture.Capture.WaitForSpansAsync(s => IsCall(s, "stdio-agent", "telfix_echo_args"), count: 2);

        Assert.Equal(taken + 1, fixture.Taken);
        Assert.Equal(2, servers.Count);
        foreach (Activity server in servers)
        {
            Activity downstream = Assert.Single(await fixture.Capture.WaitForSpansAsync(s => s.Kind == ActivityKind.Client && s.ParentSpanId == server.SpanId && s.TraceId == server.TraceId));
            AssertCallSpans(server, downstream, "stdio-agent", "telfix_echo_args", "echo_args", "pipe");
            Assert.Null(server.GetTagItem("mcp.session.id"));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ToolErrorAndJsonRpcError_SetErrorTypeOnBothSpans(bool fastPath)
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "error-agent", cancellationToken: Ct);
        long taken = fixture.Taken;
        (Activity Server, Activity Client) toolError, protocolError;
        using (Activity trace = TelemetryGateway.StartTrace())
        {
            JsonObject failed = fastPath
                ? await client.CallRawAsync("telfix_fail", new JsonObject(), Ct)
                : await TelemetryGateway.CallOnSdkPathAsync(client, "telfix_fail", new JsonObject());
            Assert.True(failed["isError"]!.GetValue<bool>());
            toolError = await fixture.Capture.WaitForCallAsync(trace.TraceId);
        }

        using (Activity trace = TelemetryGateway.StartTrace())
        {
            await Assert.ThrowsAsync<McpProtocolException>(() => fastPath
                ? client.CallRawAsync("telfix_protocol_error", new JsonObject { ["message"] = "boom" }, Ct)
                : TelemetryGateway.CallOnSdkPathAsync(client, "telfix_protocol_error", new JsonObject { ["message"] = "boom" }));
            protocolError = await fixture.Capture.WaitForCallAsync(trace.TraceId);
        }

        Assert.Equal(fastPath ? taken + 2 : taken, fixture.Taken);
        foreach (Activity span in (Activity[])[toolError.Server, toolError.Client])
        {
            Assert.Equal("tool_error", span.GetTagItem("error.type"));
            Assert.Null(span.GetTagItem("rpc.response.status_code"));
            Assert.Equal(ActivityStatusCode.Error, span.Status);
        }

        foreach (Activity span in (Activity[])[protocolError.Server, protocolError.Client])
        {
            Assert.Equal("-32050", span.GetTagItem("error.type"));
            Assert.Equal("-32050", span.GetTagItem("rpc.response.status_code"));
            Assert.Equal(ActivityStatusCode.Error, span.Status);
        }
    }

    [Fact]
    public async Task Metrics_CountBothPathsUnderOneSeries_WithBoundedDimensions()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "metrics-agent", cancellationToken: Ct);
        McpClient stranger = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "nobody-in-the-rules", cancellationToken: Ct);
        long taken = fixture.Taken;

        // The downstream series has no agent dimension: other tests of this class call a_b on the same gateway too.
        long downstreamBefore = TelemetryCapture.Points(fixture.Capture.CollectMetrics(fixture.Gateway.Services), "mcp.client.operation.duration", ("mcp_gateway.server", TelemetryGateway.Server), ("gen_ai.tool.name", "a_b"))
            .Sum(p => p.GetHistogramCount());
        using Activity trace = TelemetryGateway.StartTrace();

        await client.CallRawAsync("telfix_a_b", new JsonObject(), Ct);
        await TelemetryGateway.CallOnSdkPathAsync(client, "telfix_a_b", new JsonObject());
        McpProtocolException? denied = await client.CallErrorAsync("telfix_pid", new JsonObject(), Ct);
        McpProtocolException? unknown = await stranger.CallErrorAsync("telfix_a_b", new JsonObject(), Ct);
        McpProtocolException? invented = await client.CallErrorAsync("telfix_no-such-tool-" + Guid.NewGuid().ToString("N"), new JsonObject(), Ct);
        await fixture.Capture.WaitForSpansAsync(s => s.TraceId == trace.TraceId && s.Kind == ActivityKind.Server, count: 5);
        IReadOnlyList<MetricSnapshot> metrics = fixture.Capture.CollectMetrics(fixture.Gateway.Services);

        Assert.Equal(taken + 1, fixture.Taken);
        Assert.NotNull(denied);
        Assert.NotNull(unknown);
        Assert.NotNull(invented);

        // Fast and SDK path: one series, because every attribute is the same.
        MetricPoint allowed = Assert.Single(TelemetryCapture.Points(metrics, "mcp.server.operation.duration", ("mcp_gateway.agent", "metrics-agent"), ("gen_ai.tool.name", "telfix_a_b")));
        Assert.Equal(2, allowed.GetHistogramCount());
        Assert.Equal(
            new Dictionary<string, string?>
            {
                ["mcp.method.name"] = "tools/call",
                ["gen_ai.tool.name"] = "telfix_a_b",
                ["gen_ai.operation.name"] = "execute_tool",
                ["mcp.protocol.version"] = "2025-11-25",
                ["network.transport"] = "tcp",
                ["network.protocol.name"] = "http",
                ["mcp_gateway.agent"] = "metrics-agent",
                ["mcp_gateway.server"] = TelemetryGateway.Server,
                ["mcp_gateway.decision"] = "allowed",
            },
            TelemetryCapture.Tags(allowed));
        Assert.Equal(2, Sum(TelemetryCapture.Points(metrics, "mcp_gateway.tool.calls", ("mcp_gateway.agent", "metrics-agent"), ("mcp_gateway.decision", "allowed"), ("mcp_gateway.server", TelemetryGateway.Server))));

        MetricPoint refused = Assert.Single(TelemetryCapture.Points(metrics, "mcp.server.operation.duration", ("mcp_gateway.agent", "metrics-agent"), ("gen_ai.tool.name", "telfix_pid")));
        Assert.Equal("denied", TelemetryCapture.Tags(refused)["mcp_gateway.decision"]);
        Assert.Equal("-32602", TelemetryCapture.Tags(refused)["error.type"]);
        Assert.Equal(1, Sum(TelemetryCapture.Points(metrics, "mcp_gateway.tool.calls", ("mcp_gateway.agent", "metrics-agent"), ("mcp_gateway.decision", "denied"))));

        // A name the agent made up is not a dimension; neither is an agent the rules do not define.
        MetricPoint made = Assert.Single(TelemetryCapture.Points(metrics, "mcp.server.operation.duration", ("mcp_gateway.agent", "metrics-agent"), ("mcp_gateway.decision", "unknown")));
        Assert.False(TelemetryCapture.Tags(made).ContainsKey("gen_ai.tool.name"));
        Assert.DoesNotContain(metrics.SelectMany(m => m.MetricPoints), p => TelemetryCapture.Tags(p).ContainsValue("nobody-in-the-rules"));
        Assert.NotEmpty(TelemetryCapture.Points(metrics, "mcp_gateway.tool.calls", ("mcp_gateway.agent", "unknown"), ("mcp_gateway.server", TelemetryGateway.Server)));

        // Downstream: per server, the server's own tool name, both paths in one series.
        MetricPoint downstream = Assert.Single(TelemetryCapture.Points(metrics, "mcp.client.operation.duration", ("mcp_gateway.server", TelemetryGateway.Server), ("gen_ai.tool.name", "a_b")));
        Assert.Equal(2, downstream.GetHistogramCount() - downstreamBefore);
        Assert.Equal("pipe", TelemetryCapture.Tags(downstream)["network.transport"]);
    }

    [Fact]
    public async Task SessionEnd_RecordsSessionDuration_ForItsAgent()
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SessionRegistry sessions = fixture.Gateway.Services.GetRequiredService<SessionRegistry>();
        void OnEnded(GatewaySession session)
        {
            if (session.BoundAgent == "session-agent")
            {
                ended.TrySetResult();
            }
        }

        sessions.SessionEnded += OnEnded;
        try
        {
            McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "session-agent", cancellationToken: Ct);
            await client.ListToolsRawAsync(Ct);
            IReadOnlyList<MetricSnapshot> open = fixture.Capture.CollectMetrics(fixture.Gateway.Services);
            Assert.NotEmpty(TelemetryCapture.Points(open, "mcp_gateway.session.open", ("network.transport", "tcp")));

            await client.DisposeAsync();
            await ended.Task.Within("the session to end", Ct);
        }
        finally
        {
            sessions.SessionEnded -= OnEnded;
        }

        IReadOnlyList<MetricSnapshot> metrics = fixture.Capture.CollectMetrics(fixture.Gateway.Services);
        MetricPoint duration = Assert.Single(TelemetryCapture.Points(metrics, "mcp.server.session.duration", ("mcp_gateway.agent", "session-agent")));
        Assert.Equal(1, duration.GetHistogramCount());
        Assert.Equal("tcp", TelemetryCapture.Tags(duration)["network.transport"]);
        Assert.Equal("2025-11-25", TelemetryCapture.Tags(duration)["mcp.protocol.version"]);
    }

    [Fact]
    public async Task MetricsEndpoint_ServesPrometheusText_WithBucketsAndTheGatewaysDimensions()
    {
        McpClient client = await fixture.Gateway.ConnectAsync(ServedTransport.Http, agentHeader: "scrape-agent", cancellationToken: Ct);
        using Activity trace = TelemetryGateway.StartTrace();
        await client.CallRawAsync("telfix_rich", new JsonObject(), Ct);
        await fixture.Capture.WaitForCallAsync(trace.TraceId);

        using var http = new HttpClient();
        using HttpResponseMessage response = await http.GetAsync(new Uri(fixture.Gateway.Endpoint, "/metrics"), Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        string[] lines = text.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("# TYPE mcp_server_operation_duration_seconds histogram", StringComparison.Ordinal));
        string[] buckets = [.. lines.Where(l => l.StartsWith("mcp_server_operation_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("mcp_gateway_agent=\"scrape-agent\"", StringComparison.Ordinal) && l.Contains("mcp_method_name=\"tools/call\"", StringComparison.Ordinal))];
        Assert.Equal(15, buckets.Length);
        Assert.Contains(buckets, l => l.Contains("le=\"0.01\"", StringComparison.Ordinal));
        Assert.Contains(buckets, l => l.Contains("le=\"+Inf\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.All(buckets, l => Assert.Contains("mcp_gateway_server=\"telfix\"", l, StringComparison.Ordinal));
        Assert.All(buckets, l => Assert.Contains("mcp_gateway_decision=\"allowed\"", l, StringComparison.Ordinal));
        Assert.All(buckets, l => Assert.Contains("gen_ai_tool_name=\"telfix_rich\"", l, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("mcp_gateway_tool_calls_total{", StringComparison.Ordinal) && l.Contains("mcp_gateway_agent=\"scrape-agent\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("mcp_client_operation_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("gen_ai_tool_name=\"rich\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("mcp_gateway_session_open{", StringComparison.Ordinal) && l.Contains("network_transport=\"tcp\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MetricsEndpoint_PassesTheRequestGuard()
    {
        using var http = new HttpClient();
        using var foreign = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Gateway.Endpoint, "/metrics"));
        foreign.Headers.Host = "attacker.example";
        using HttpResponseMessage refused = await http.SendAsync(foreign, Ct);

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);
    }

    /// <summary>The conventions' attributes and the gateway's dimensions on both spans of one call.</summary>
    private static void AssertCallSpans(Activity server, Activity downstream, string agent, string exposedTool, string serverTool, string transport)
    {
        Assert.Equal(ActivityKind.Server, server.Kind);
        Assert.Equal("McpGateway", server.Source.Name);
        Assert.Equal("tools/call " + exposedTool, server.DisplayName);
        Assert.Equal("tools/call", server.GetTagItem("mcp.method.name"));
        Assert.Equal(exposedTool, server.GetTagItem("gen_ai.tool.name"));
        Assert.Equal("execute_tool", server.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("2025-11-25", server.GetTagItem("mcp.protocol.version"));
        Assert.Equal(transport, server.GetTagItem("network.transport"));
        Assert.NotNull(server.GetTagItem("jsonrpc.request.id"));
        Assert.Equal(agent, server.GetTagItem("mcp_gateway.agent"));
        Assert.Equal(TelemetryGateway.Server, server.GetTagItem("mcp_gateway.server"));
        Assert.Equal("allowed", server.GetTagItem("mcp_gateway.decision"));
        Assert.Null(server.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Unset, server.Status);

        Assert.Equal(ActivityKind.Client, downstream.Kind);
        Assert.Equal(server.TraceId, downstream.TraceId);
        Assert.Equal(server.SpanId, downstream.ParentSpanId);
        Assert.Equal("tools/call " + serverTool, downstream.DisplayName);
        Assert.Equal("tools/call", downstream.GetTagItem("mcp.method.name"));
        Assert.Equal(serverTool, downstream.GetTagItem("gen_ai.tool.name"));
        Assert.Equal("2025-11-25", downstream.GetTagItem("mcp.protocol.version"));
        Assert.Equal("pipe", downstream.GetTagItem("network.transport"));
        Assert.Equal(TelemetryGateway.Server, downstream.GetTagItem("mcp_gateway.server"));
        Assert.Null(downstream.GetTagItem("error.type"));
    }

    private static bool IsCall(Activity span, string agent, string tool) =>
        span.Kind == ActivityKind.Server && (string?)span.GetTagItem("mcp_gateway.agent") == agent && (string?)span.GetTagItem("gen_ai.tool.name") == tool;

    /// <summary>A span's attributes without those that differ between any two calls (the request ids).</summary>
    private static string Comparable(Activity span) =>
        string.Join(", ", span.TagObjects.Where(t => t.Key != "jsonrpc.request.id").Select(t => $"{t.Key}={t.Value}").Order(StringComparer.Ordinal));

    private static long Sum(List<MetricPoint> points) => points.Sum(p => p.GetSumLong());

    /// <summary>What the gateway shows of a session id (the audit's fingerprint): the id itself is a bearer secret.</summary>
}
