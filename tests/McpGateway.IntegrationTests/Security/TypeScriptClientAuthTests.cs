using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// A real MCP client nobody here wrote (the TypeScript SDK's Streamable HTTP client, tests/fixtures/clients/
/// http-client.mjs) connects to the authenticated gateway with an API key and with a token from the real
/// authorization server, lists its tools and calls one; without credentials it reports the 401 and the challenge.
/// </summary>
[Collection(OidcGatewayCollection.Name)]
public sealed class TypeScriptClientAuthTests(OidcGateway fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string ClientScript => Path.Combine(RepoPaths.Root, "tests", "fixtures", "clients", "http-client.mjs");

    public static TheoryData<string> Credentials() => ["X-API-Key", "API key as bearer", "token"];

    [Theory]
    [MemberData(nameof(Credentials))]
    public async Task TypeScriptClient_WithACredential_ListsTheAgentsToolsAndCallsOne(string credential)
    {
        string header = credential switch
        {
            "X-API-Key" => "X-API-Key: " + fixture.AlphaKey.Key,
            "API key as bearer" => "Authorization: Bearer " + fixture.AlphaKey.Key,
            _ => "Authorization: Bearer " + await fixture.TokenAsync(OidcGateway.AgentA),
        };

        CommandResult run = await RunClientAsync("--header", header, "--list", "--call", "everything_echo", "--args", """{"message":"hello from TypeScript"}""");

        Assert.True(run.ExitCode == 0, run.ToString());
        string[] lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        string[] tools = [.. JsonNode.Parse(lines[0])!["tools"]!.AsArray().Select(t => t!.GetValue<string>()).Order(StringComparer.Ordinal)];
        JsonNode result = JsonNode.Parse(lines[1])!;
        Assert.Equal(OidcGateway.AlphaTools, tools);
        Assert.Equal("Echo: hello from TypeScript", result["content"]![0]!["text"]!.GetValue<string>());
        Assert.NotEqual(true, result["isError"]?.GetValue<bool>());
    }

    [Fact]
    public async Task TypeScriptClient_WithoutCredentials_ExitsWithTheRefusal_AndTheChallenge()
    {
        CommandResult run = await RunClientAsync("--list");

        Assert.True(run.ExitCode == 3, run.ToString());
        JsonNode refusal = JsonNode.Parse(run.Stdout.Trim().Split('\n')[^1])!;
        Assert.Equal(401, refusal["status"]?.GetValue<int>());
        string? challenge = refusal["wwwAuthenticate"]?.GetValue<string>();
        Assert.NotNull(challenge);
        Assert.Contains($"resource_metadata=\"http://{fixture.Gateway.Endpoint.Authority}/.well-known/oauth-protected-resource/mcp\"", challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TypeScriptClient_WithATokenOfAnUnmappedClient_ExitsWith403()
    {
        string token = await fixture.TokenAsync(OidcGateway.Unmapped);

        CommandResult run = await RunClientAsync("--header", "Authorization: Bearer " + token, "--list");

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Equal(403, JsonNode.Parse(run.Stdout.Trim().Split('\n')[^1])!["status"]?.GetValue<int>());
    }

    private Task<CommandResult> RunClientAsync(params string[] arguments) =>
        NodeCli.RunAsync([ClientScript, "--url", fixture.Gateway.Endpoint.ToString(), .. arguments], RepoPaths.Root, environment: null, Ct);
}
