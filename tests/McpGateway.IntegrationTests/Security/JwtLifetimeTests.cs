using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// Tokens over time, each test with its own authorization server and a gateway that accepts only its tokens: a key
/// rotation is picked up on the first token signed with the new key, and an expired token is refused once the
/// gateway's clock (a fake one: the gateway judges lifetimes by its injected TimeProvider) passes its expiry.
/// </summary>
public sealed class JwtLifetimeTests
{
    private const string Rules = """
        { "agents": { "alpha": { "allow": { "servers": ["fixture"], "tools": { "fixture": ["echo_args"] } } } } }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// With keyRefreshSeconds 1 and a blocking refresh, the gateway fetches the keys again when a token names one it
    /// has not seen, before answering. (The first such refresh of a gateway is never throttled, so this does not depend
    /// on how long the test takes.)
    /// </summary>
    [Fact]
    public async Task Token_SignedWithARotatedKey_IsAcceptedOnItsFirstRequest_AndOlderTokensStillWork()
    {
        await using OidcServer authorization = await OidcGateway.StartAuthorizationServerAsync(Ct);
        await using InProcessGateway gateway = await StartGatewayAsync(authorization, configureServices: null);
        string before = await authorization.TokenAsync(OidcGateway.AgentA, OidcGateway.Resource, OidcGateway.RequiredScope, Ct);
        RawResponse first = await SecurityTestKit.PostAsync(gateway.Endpoint, Initialize, OidcGateway.Bearer(before), null, Ct);

        string[] rotated = await authorization.RotateKeysAsync(Ct);
        string after = await authorization.TokenAsync(OidcGateway.AgentA, OidcGateway.Resource, OidcGateway.RequiredScope, Ct);
        RawResponse firstWithTheNewKey = await SecurityTestKit.PostAsync(gateway.Endpoint, Initialize, OidcGateway.Bearer(after), null, Ct);
        RawResponse oldKeyAgain = await SecurityTestKit.PostAsync(gateway.Endpoint, Initialize, OidcGateway.Bearer(before), null, Ct);

        Assert.True(first.Status == 200, first.ToString());
        string oldKid = TokenForgery.Header(before)["kid"]!.GetValue<string>();
        string newKid = TokenForgery.Header(after)["kid"]!.GetValue<string>();
        Assert.NotEqual(oldKid, newKid);
        Assert.Contains(newKid, rotated);
        Assert.True(firstWithTheNewKey.Status == 200, firstWithTheNewKey.ToString() + "\nLOGS:\n" + gateway.Logs.All);
        Assert.Equal("mcp-gateway", firstWithTheNewKey.Message?["result"]?["serverInfo"]?["name"]?.GetValue<string>());
        Assert.True(oldKeyAgain.Status == 200, oldKeyAgain.ToString());
    }

    [Fact]
    public async Task Token_PastItsExpiry_Gets401_WhenTheGatewaysClockPassesIt()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using OidcServer authorization = await OidcGateway.StartAuthorizationServerAsync(Ct);
        await using InProcessGateway gateway = await StartGatewayAsync(authorization, services => services.AddSingleton<TimeProvider>(clock));
        string token = await authorization.TokenAsync(OidcGateway.AgentA, OidcGateway.Resource, OidcGateway.RequiredScope, Ct);
        var expires = DateTimeOffset.FromUnixTimeSeconds(TokenForgery.Payload(token)["exp"]!.GetValue<long>());
        McpClient client = await gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: OidcGateway.Bearer(token));
        await client.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "fresh" }, Ct);

        // clockSkewSeconds is 0: valid through its exp second, refused after it.
        clock.SetUtcNow(expires);
        RawResponse atExpiry = await SecurityTestKit.PostAsync(gateway.Endpoint, SecurityTestKit.ToolsList(), OidcGateway.Bearer(token), client.SessionId, Ct);
        clock.Advance(TimeSpan.FromSeconds(1));
        RawResponse onItsSession = await SecurityTestKit.PostAsync(gateway.Endpoint, SecurityTestKit.ToolsList(), OidcGateway.Bearer(token), client.SessionId, Ct);
        RawResponse newSession = await SecurityTestKit.PostAsync(gateway.Endpoint, Initialize, OidcGateway.Bearer(token), null, Ct);

        Assert.True(atExpiry.Status == 200, atExpiry.ToString());
        Assert.True(onItsSession.Status == 401, onItsSession.ToString());
        Assert.True(newSession.Status == 401, newSession.ToString());
        Assert.Contains("Refused a bearer token: the token has expired.", gateway.Logs.All, StringComparison.Ordinal);
    }

    private static string Initialize => """
        {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"jwt-lifetime-test","version":"1.0"}}}
        """;

    /// <summary>A gateway that accepts only tokens (no keys file), with the settings of <see cref="OidcGateway"/>.</summary>
    private static Task<InProcessGateway> StartGatewayAsync(OidcServer authorization, Action<IServiceCollection>? configureServices) =>
        InProcessGateway.StartAsync(
            TestServers.File(("fixture", TestServers.Fixture())),
            Rules,
            cancellationToken: Ct,
            settingsJson: OidcGateway.Settings(authorization.Issuer, apiKeys: false, audit: false),
            configureServices: configureServices);
}
