using System.Net;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// What a browser page (or any local process) must not get a tool to do by sending a request the gateway should
/// refuse: a body of another content type (a cross-site "simple request" that needs no CORS preflight), a foreign or
/// other-port Origin, an oversized body. Each is tried on both paths that answer tool calls (the fast path and the
/// SDK), stateful and stateless, and each must leave server-memory untouched: the refusal happens before the tool runs.
/// </summary>
public sealed class HardeningRequestGuardTests(HardeningGateway gateways) : IClassFixture<HardeningGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string?, bool, bool> NonJsonContentTypes()
    {
        var data = new TheoryData<string?, bool, bool>();
        foreach (string? contentType in (string?[])["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "text/json", null])
        {
            foreach (bool sdkShaped in (bool[])[false, true])
            {
                foreach (bool stateless in (bool[])[false, true])
                {
                    data.Add(contentType, sdkShaped, stateless);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NonJsonContentTypes))]
    public async Task ToolCall_WithANonJsonContentType_IsRefused415_AndTheToolNeverRuns(string? contentType, bool sdkShaped, bool stateless)
    {
        HardenedEndpoint endpoint = gateways.Of(stateless);
        string? session = await endpoint.SessionAsync(Ct);
        string entity = HardeningGateway.NewEntity();
        long taken = endpoint.Taken;

        HttpReply response = await endpoint.Http.PostAsync(HardeningGateway.CreateEntity(2, entity, sdkShaped), Ct, session, contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.Status);
        Assert.Contains("Content-Type: application/json", response.Body, StringComparison.Ordinal);
        Assert.Equal(taken, endpoint.Taken);
        Assert.False(await endpoint.ExistsAsync(entity, Ct), "the refused call created the entity downstream");
    }

    [Theory]
    [InlineData("application/json", false, false)]
    [InlineData("application/json; charset=utf-8", false, true)]
    [InlineData("Application/JSON", true, false)]
    [InlineData("application/json", true, true)]
    public async Task ToolCall_WithAJsonContentType_RunsTheTool_OnThePathItsShapeChooses(string contentType, bool sdkShaped, bool stateless)
    {
        // The control for the refusals above: the same request as JSON does reach server-memory, which the check sees.
        HardenedEndpoint endpoint = gateways.Of(stateless);
        string? session = await endpoint.SessionAsync(Ct);
        string entity = HardeningGateway.NewEntity();
        long taken = endpoint.Taken;

        HttpReply response = await endpoint.Http.PostAsync(HardeningGateway.CreateEntity(2, entity, sdkShaped), Ct, session, contentType);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Null(response.Result["isError"]);
        Assert.Equal(sdkShaped ? taken : taken + 1, endpoint.Taken);
        Assert.True(await endpoint.ExistsAsync(entity, Ct));
    }

    public static TheoryData<string, bool, bool> RefusedOrigins()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (string origin in (string[])["http://evil.example", "http://127.0.0.1:5173", "http://localhost:{other}", "http://127.0.0.1:{other}", "http://127.0.0.1", "https://127.0.0.1:{port}", "http://localhost:{port}", "null", "http://app.example:8444", "http://app.example"])
        {
            foreach ((bool sdkShaped, bool stateless) in ((bool, bool)[])[(false, false), (false, true), (true, false)])
            {
                data.Add(origin, sdkShaped, stateless);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RefusedOrigins))]
    public async Task ToolCall_FromAForeignOrOtherPortOrigin_IsRefused403_AndTheToolNeverRuns(string origin, bool sdkShaped, bool stateless)
    {
        HardenedEndpoint endpoint = gateways.Of(stateless);
        string? session = await endpoint.SessionAsync(Ct);
        string entity = HardeningGateway.NewEntity();
        long taken = endpoint.Taken;

        HttpReply response = await endpoint.Http.PostAsync(HardeningGateway.CreateEntity(2, entity, sdkShaped), Ct, session, headers: [new("Origin", Resolve(origin, endpoint))]);

        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.Equal(taken, endpoint.Taken);
        Assert.False(await endpoint.ExistsAsync(entity, Ct), "the refused call created the entity downstream");
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}", false, false)]
    [InlineData("http://127.0.0.1:{port}", true, true)]
    [InlineData(HardeningGateway.AllowedOrigin, false, true)]
    [InlineData(HardeningGateway.AllowedOrigin, true, false)]
    public async Task ToolCall_FromTheGatewaysOwnOriginOrAnAllowedOne_IsServed(string origin, bool sdkShaped, bool stateless)
    {
        HardenedEndpoint endpoint = gateways.Of(stateless);
        string? session = await endpoint.SessionAsync(Ct);
        string entity = HardeningGateway.NewEntity();
        long taken = endpoint.Taken;

        HttpReply response = await endpoint.Http.PostAsync(HardeningGateway.CreateEntity(2, entity, sdkShaped), Ct, session, headers: [new("Origin", Resolve(origin, endpoint))]);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal(sdkShaped ? taken : taken + 1, endpoint.Taken);
        Assert.True(await endpoint.ExistsAsync(entity, Ct));
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, true)]
    [InlineData(true, true, true)]
    [InlineData(false, false, true)]
    public async Task ToolCall_LargerThanTheBodyLimit_IsRefused413_WithOrWithoutAContentLength(bool chunked, bool sdkShaped, bool stateless)
    {
        HardenedEndpoint endpoint = gateways.Of(stateless);
        string? session = await endpoint.SessionAsync(Ct);
        string entity = HardeningGateway.NewEntity();
        JsonObject arguments = HardeningGateway.Entities(entity);
        arguments["entities"]![0]!["observations"] = new JsonArray(new string('x', HardeningGateway.MaxBodyBytes));
        long taken = endpoint.Taken;

        HttpReply response = await endpoint.Http.PostAsync(RawMcpHttp.ToolCall(2, "memory_create_entities", arguments, sdkShaped), Ct, session, chunked: chunked);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Contains($"larger than {HardeningGateway.MaxBodyBytes} bytes", response.Body, StringComparison.Ordinal);
        Assert.Equal(taken, endpoint.Taken);
        Assert.False(await endpoint.ExistsAsync(entity, Ct), "the refused call created the entity downstream");
        Assert.DoesNotContain(endpoint.Gateway.Logs.Lines, l => l.Contains("unhandled exception", StringComparison.OrdinalIgnoreCase));
    }

    private static string Resolve(string origin, HardenedEndpoint endpoint) => origin
        .Replace("{port}", endpoint.Gateway.Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{other}", (endpoint.Gateway.Endpoint.Port == 65535 ? 1 : endpoint.Gateway.Endpoint.Port + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
