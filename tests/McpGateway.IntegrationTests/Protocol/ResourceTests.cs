using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpGateway.IntegrationTests.Protocol;

/// <summary>
/// Resources and resource templates through the gateway (DESIGN §6), compared with server-everything and the
/// conformance fixture asked directly, for agents of both eras.
/// </summary>
[Collection(CatalogGateway.Collection)]
public sealed partial class ResourceTests(CatalogGateway catalog)
{
    private const string Document = "demo://resource/static/document/architecture.md";
    private const string TextTemplate = "demo://resource/dynamic/text/{resourceId}";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<AgentLink> AllLinks() => ProtocolAgents.AllLinks();

    public static TheoryData<AgentLink> HttpLinks() => [AgentLink.Http, AgentLink.Http2026];

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ListResources_IsEachServersListAsDirect_WithTheSecondServersCollidingUrisNamespaced(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        JsonArray everything = (await catalog.DirectEverything.RequestAsync(RequestMethods.ResourcesList, null, Ct))["resources"]!.AsArray();
        JsonArray conformance = (await catalog.DirectConformance.RequestAsync(RequestMethods.ResourcesList, null, Ct))["resources"]!.AsArray();

        JsonObject listed = await agent.RequestAsync(RequestMethods.ResourcesList, null, Ct);

        JsonArray expected = ProtocolJson.Concat(everything, ProtocolJson.Renamed(everything, "uri", uri => "mcp-gateway://everything2/" + uri), conformance);
        DirectServers.AssertJsonEqual(expected, listed["resources"]);
        Assert.Null(listed["nextCursor"]);
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ListResourceTemplates_IsEachServersListAsDirect_WithTheSecondServersCollidingTemplatesNamespaced(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        JsonArray everything = (await catalog.DirectEverything.RequestAsync(RequestMethods.ResourcesTemplatesList, null, Ct))["resourceTemplates"]!.AsArray();
        JsonArray conformance = (await catalog.DirectConformance.RequestAsync(RequestMethods.ResourcesTemplatesList, null, Ct))["resourceTemplates"]!.AsArray();

        JsonObject listed = await agent.RequestAsync(RequestMethods.ResourcesTemplatesList, null, Ct);

        JsonArray expected = ProtocolJson.Concat(everything, ProtocolJson.Renamed(everything, "uriTemplate", uri => "mcp-gateway://everything2/" + uri), conformance);
        DirectServers.AssertJsonEqual(expected, listed["resourceTemplates"]);
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ReadResource_ListedUri_ReturnsWhatTheServerReturnsDirectly(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        var parameters = new JsonObject { ["uri"] = Document };

        JsonObject direct = await catalog.DirectEverything.RequestAsync(RequestMethods.ResourcesRead, (JsonObject)parameters.DeepClone(), Ct);
        JsonObject proxied = await agent.RequestAsync(RequestMethods.ResourcesRead, parameters, Ct);

        DirectServers.AssertJsonEqual(direct, ProtocolJson.WithoutEra(proxied));
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ReadResource_UriMadeFromATemplate_ReturnsWhatTheServerReturnsDirectly(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        var parameters = new JsonObject { ["uri"] = "demo://resource/dynamic/text/7" };

        JsonObject direct = await catalog.DirectEverything.RequestAsync(RequestMethods.ResourcesRead, (JsonObject)parameters.DeepClone(), Ct);
        JsonObject proxied = await agent.RequestAsync(RequestMethods.ResourcesRead, parameters, Ct);

        // The text says when it was made ("created at 4:42:34 AM"): the two reads may fall in different seconds.
        DirectServers.AssertJsonEqual(WithoutClockTime(direct), WithoutClockTime(ProtocolJson.WithoutEra(proxied)));
        Assert.Contains("Resource 7", proxied["contents"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ReadResource_ConformanceFixtureResource_ReturnsWhatTheServerReturnsDirectly(AgentLink link)
    {
        // The fixture negotiates 2026-07-28 with the gateway: its reads carry that revision's fields (resultType,
        // caching hints), which an agent gets as a direct client of its own revision would.
        Agent agent = await catalog.ConnectAsync(link);
        var parameters = new JsonObject { ["uri"] = "test://static-text" };

        JsonObject direct = await (agent.IsModern ? catalog.DirectConformanceModern : catalog.DirectConformance).RequestAsync(RequestMethods.ResourcesRead, (JsonObject)parameters.DeepClone(), Ct);
        JsonObject proxied = await agent.RequestAsync(RequestMethods.ResourcesRead, parameters, Ct);

        DirectServers.AssertJsonEqual(ProtocolJson.WithoutEra(direct), ProtocolJson.WithoutEra(proxied));
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ReadResource_UriBothServersExpose_PlainIsTheFirstServers_NamespacedIsTheSecondsUnderItsNamespacedUri(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);

        JsonObject plain = await agent.RequestAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = CatalogGateway.CollidingUri }, Ct);
        JsonObject namespaced = await agent.RequestAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = CatalogGateway.NamespacedCollidingUri }, Ct);

        JsonObject plainContent = plain["contents"]![0]!.AsObject();
        JsonObject namespacedContent = namespaced["contents"]![0]!.AsObject();
        Assert.Equal(CatalogGateway.CollidingUri, plainContent["uri"]!.GetValue<string>());
        Assert.Equal(CatalogGateway.NamespacedCollidingUri, namespacedContent["uri"]!.GetValue<string>());
        Assert.Equal(CatalogGateway.FirstServersData, Gunzip(plainContent));
        Assert.Equal(CatalogGateway.SecondServersData, Gunzip(namespacedContent));
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ReadResource_NamespacedTemplateUri_IsReadFromTheSecondServer_UnderTheUriTheAgentAsked(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);
        const string uri = "mcp-gateway://everything2/demo://resource/dynamic/text/3";

        JsonObject direct = await catalog.DirectEverything.RequestAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = "demo://resource/dynamic/text/3" }, Ct);
        JsonObject proxied = await agent.RequestAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = uri }, Ct);

        JsonObject expected = WithoutClockTime(direct);
        expected["contents"]![0]!["uri"] = uri;
        DirectServers.AssertJsonEqual(expected, WithoutClockTime(ProtocolJson.WithoutEra(proxied)));
    }

    [Theory]
    [MemberData(nameof(HttpLinks))]
    public async Task Resources_OfAServerTheAgentMayNotUse_AreNotListed_AndReadingOneIsNotFound_LikeAUriThatExistsNowhere(AgentLink link)
    {
        Agent outsider = await catalog.Agents.ConnectAsync(link, ProtocolGateway.Outsider, cancellationToken: Ct);
        JsonArray conformance = (await catalog.DirectConformance.RequestAsync(RequestMethods.ResourcesList, null, Ct))["resources"]!.AsArray();
        JsonArray conformanceTemplates = (await catalog.DirectConformance.RequestAsync(RequestMethods.ResourcesTemplatesList, null, Ct))["resourceTemplates"]!.AsArray();

        JsonObject listed = await outsider.RequestAsync(RequestMethods.ResourcesList, null, Ct);
        JsonObject templates = await outsider.RequestAsync(RequestMethods.ResourcesTemplatesList, null, Ct);
        McpProtocolException denied = await outsider.ErrorAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = Document }, Ct);
        McpProtocolException deniedTemplate = await outsider.ErrorAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = "demo://resource/dynamic/text/1" }, Ct);
        McpProtocolException nowhere = await outsider.ErrorAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = "demo://resource/static/document/nowhere.md" }, Ct);

        DirectServers.AssertJsonEqual(conformance, listed["resources"]);
        DirectServers.AssertJsonEqual(conformanceTemplates, templates["resourceTemplates"]);
        Assert.Equal(NotFoundCode(outsider), (int)nowhere.ErrorCode);
        foreach ((McpProtocolException error, string uri) in new[] { (denied, Document), (deniedTemplate, "demo://resource/dynamic/text/1") })
        {
            Assert.Equal(nowhere.ErrorCode, error.ErrorCode);
            Assert.Equal(nowhere.RemoteMessage().Replace("demo://resource/static/document/nowhere.md", uri, StringComparison.Ordinal), error.RemoteMessage());
        }
    }

    [Theory]
    [MemberData(nameof(AllLinks))]
    public async Task ReadResource_UriThatExistsNowhere_IsResourceNotFound(AgentLink link)
    {
        Agent agent = await catalog.ConnectAsync(link);

        McpProtocolException error = await agent.ErrorAsync(RequestMethods.ResourcesRead, new JsonObject { ["uri"] = "nowhere://at/all" }, Ct);

        Assert.Equal(NotFoundCode(agent), (int)error.ErrorCode);
        Assert.Contains("nowhere://at/all", error.RemoteMessage(), StringComparison.Ordinal);
    }

    /// <summary>Resource not found: -32002 in 2025-11-25; 2026-07-28 must not emit it and uses -32602 (SEP-2164).</summary>
    private static int NotFoundCode(Agent agent) => agent.IsModern ? -32602 : -32002;

    private static string Gunzip(JsonObject content)
    {
        using var compressed = new MemoryStream(Convert.FromBase64String(content["blob"]!.GetValue<string>()));
        using var gzip = new GZipStream(compressed, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static JsonObject WithoutClockTime(JsonObject result) =>
        (JsonObject)JsonNode.Parse(ClockTime().Replace(result.ToJsonString(), "<time>"))!;

    [GeneratedRegex(@"\d{1,2}:\d{2}:\d{2}\s?(AM|PM)?")]
    private static partial Regex ClockTime();
}
