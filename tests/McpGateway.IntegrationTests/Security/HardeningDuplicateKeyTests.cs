using System.Net;
using System.Text.Json.Nodes;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A JSON object with one key twice can be read two ways (first or last wins), so the gateway's policy check and the
/// downstream server could see different tool names or arguments. The gateway refuses such a message before anything
/// reads it, with a protocol error that names the key (never −32603 "An error occurred."), over HTTP on both paths and
/// over stdio, and the tool does not run.
/// </summary>
public sealed class HardeningDuplicateKeyTests(HardeningGateway gateways) : IClassFixture<HardeningGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Requests with a key twice, and the key the error must name. {E} is the entity the call would create.</summary>
    public static TheoryData<string, string> Duplicates() => new()
    {
        { """{"jsonrpc":"2.0","id":2,"id":3,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{E}}}""", "id" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/list","method":"tools/call","params":{"name":"memory_create_entities","arguments":{E}}}""", "method" },
        { """{"jsonrpc":"2.0","jsonrpc":"1.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{E}}}""", "jsonrpc" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_read_graph"},"params":{"name":"memory_create_entities","arguments":{E}}}""", "params" },
        // An allowed tool and a hidden one: whichever a reader took, the policy and the server could disagree.
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","name":"memory_delete_entities","arguments":{E}}}""", "name" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_delete_entities","n\u0061me":"memory_create_entities","arguments":{E}}}""", "name" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{"entities":[]},"arguments":{E}}}""", "arguments" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{"entities":[],"entities":{ENTITIES}}}}""", "entities" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{"entities":[{"name":"x","name":"{NAME}","entityType":"t","observations":[]}]}}}""", "name" },
        { """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"memory_create_entities","arguments":{E},"_meta":{"progressToken":1,"progressToken":2}}}""", "progressToken" },
    };

    [Theory]
    [MemberData(nameof(Duplicates))]
    public async Task Request_WithADuplicateKey_OverHttp_GetsAnInvalidRequestErrorNamingTheKey_AndNothingRuns(string template, string key)
    {
        foreach (bool stateless in (bool[])[false, true])
        {
            HardenedEndpoint endpoint = gateways.Of(stateless);
            string? session = await endpoint.SessionAsync(Ct);
            string entity = HardeningGateway.NewEntity();
            long taken = endpoint.Taken;

            HttpReply response = await endpoint.Http.PostAsync(Fill(template, entity), Ct, session);

            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            AssertDuplicateKeyError(response.Message!, key);
            Assert.Equal(taken, endpoint.Taken);
            Assert.False(await endpoint.ExistsAsync(entity, Ct), "the refused call created the entity downstream");
        }
    }

    [Theory]
    [MemberData(nameof(Duplicates))]
    public async Task Request_WithADuplicateKey_OverStdio_GetsTheSameErrorAsOverHttp_AndTheSessionGoesOn(string template, string key)
    {
        HardenedEndpoint endpoint = gateways.Stateful;
        await using RawStdioSession stdio = await RawStdioSession.StartAsync(endpoint.Gateway, Ct);
        string entity = HardeningGateway.NewEntity();
        string request = Fill(template, entity);
        long taken = endpoint.Taken;

        string line = await stdio.RequestLineAsync(2, request, Ct);
        HttpReply overHttp = await endpoint.Http.PostAsync(request, Ct, await endpoint.SessionAsync(Ct));
        JsonObject next = await stdio.RequestAsync(4, RawMcpHttp.ToolCall(4, "memory_read_graph"), Ct);

        AssertDuplicateKeyError(JsonNode.Parse(line)!.AsObject(), key);
        Assert.Equal(overHttp.Body, line);
        Assert.Equal(taken, endpoint.Taken - 1);
        Assert.DoesNotContain(entity, next["result"]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(await endpoint.ExistsAsync(entity, Ct), "the refused call created the entity downstream");
    }

    private static void AssertDuplicateKeyError(JsonObject message, string key)
    {
        Assert.Equal(2, message["id"]!.GetValue<int>());
        Assert.Equal(-32600, message["error"]!["code"]!.GetValue<int>());
        Assert.Equal($"The message has the key '{key}' more than once in one object; send each key once.", message["error"]!["message"]!.GetValue<string>());
    }

    private static string Fill(string template, string entity)
    {
        JsonObject arguments = HardeningGateway.Entities(entity);
        return template
            .Replace("{E}", arguments.ToJsonString(), StringComparison.Ordinal)
            .Replace("{ENTITIES}", arguments["entities"]!.ToJsonString(), StringComparison.Ordinal)
            .Replace("{NAME}", entity, StringComparison.Ordinal);
    }
}
