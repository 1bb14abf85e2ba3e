using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// The gateway as an OAuth 2.1 resource server (issue 10, item 4) in front of a real authorization server: its
/// client-credentials tokens are validated through discovery, the audience must be the gateway's resource, a claim
/// names the agent through a table, a scope is required; and every forged or misdirected token is refused.
/// </summary>
[Collection(OidcGatewayCollection.Name)]
public sealed class JwtAuthenticationTests(OidcGateway fixture)
{
    private const string InvalidSignature = "the token's signature is invalid";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private InProcessGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task Token_FromTheAuthorizationServer_ActsAsTheAgentItsClientMapsTo()
    {
        McpClient alpha = await ConnectAsync(await fixture.TokenAsync(OidcGateway.AgentA));
        McpClient beta = await ConnectAsync(await fixture.TokenAsync(OidcGateway.AgentB));

        string[] alphaTools = await alpha.ListToolNamesAsync(Ct);
        string[] betaTools = await beta.ListToolNamesAsync(Ct);
        JsonObject echo = await alpha.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "token" }, Ct);
        McpProtocolException? betaCallsAlphaTool = await beta.CallErrorAsync("fixture_pid", cancellationToken: Ct);

        Assert.Equal(OidcGateway.AlphaTools, alphaTools.Order(StringComparer.Ordinal));
        Assert.Equal(OidcGateway.BetaTools, betaTools.Order(StringComparer.Ordinal));
        Assert.Equal("""{"text":"token"}""", JsonNode.Parse(echo.FirstText())!.ToJsonString());
        Assert.Equal("Unknown tool: 'fixture_pid'", betaCallsAlphaTool?.RemoteMessage());
    }

    [Fact]
    public async Task ProtectedResourceMetadata_NamesTheGatewaysResource_AndTheAuthorizationServer()
    {
        RawResponse anonymous = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), null, null, Ct);
        string metadataUrl = $"http://{Gateway.Endpoint.Authority}/.well-known/oauth-protected-resource/mcp";
        JsonObject metadata = (JsonObject)JsonNode.Parse(await SecurityTestKit.Http.GetStringAsync(metadataUrl, Ct))!;

        Assert.Equal(401, anonymous.Status);
        Assert.Contains($"resource_metadata=\"{metadataUrl}\"", anonymous.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Equal(OidcGateway.Resource, metadata["resource"]?.GetValue<string>());
        Assert.Equal(new JsonArray(fixture.Authorization.Issuer).ToJsonString(), metadata["authorization_servers"]?.ToJsonString());
        Assert.Contains(OidcGateway.RequiredScope, metadata["scopes_supported"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    [Fact]
    public async Task Token_ForAnotherAudience_Gets401_AndTheRefusalIsAuditedWithoutTheToken()
    {
        string token = await fixture.TokenAsync(OidcGateway.AgentA, resource: OidcGateway.OtherResource);
        Assert.Equal(OidcGateway.OtherResource, TokenForgery.Payload(token)["aud"]?.GetValue<string>());
        int before = (await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct)).Count;

        RawResponse response = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), OidcGateway.Bearer(token), null, Ct);
        List<JsonObject> audit = await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct);

        Assert.True(response.Status == 401, response.ToString());
        Assert.Contains("resource_metadata=", response.WwwAuthenticate, StringComparison.Ordinal);
        JsonObject refusal = Assert.Single(SecurityTestKit.HttpRefusals(audit.Skip(before)));
        Assert.Equal("refused", refusal["decision"]?.GetValue<string>());
        Assert.Equal("the token is for another audience", refusal["rule"]?.GetValue<string>());
        Assert.Equal(401, refusal["errorCode"]?.GetValue<int>());
        Assert.DoesNotContain(token.Split('.')[2], File.ReadAllText(fixture.AuditFile), StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[2], Gateway.Logs.All, StringComparison.Ordinal);
    }

    public static TheoryData<string?> ScopesWithoutTheRequiredOne() => new() { "mcp:admin", (string?)null };

    [Theory]
    [MemberData(nameof(ScopesWithoutTheRequiredOne))]
    public async Task Token_WithoutTheRequiredScope_Gets403_InsufficientScope(string? scope)
    {
        string token = await fixture.TokenAsync(OidcGateway.AgentA, scope: scope);

        RawResponse response = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), OidcGateway.Bearer(token), null, Ct);

        Assert.True(response.Status == 403, response.ToString());
        Assert.NotNull(response.WwwAuthenticate);
        Assert.StartsWith("Bearer ", response.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Contains("error=\"insufficient_scope\"", response.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Contains($"scope=\"{OidcGateway.RequiredScope}\"", response.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Contains("resource_metadata=", response.WwwAuthenticate, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_WhoseClientMapsToNoAgent_Gets403()
    {
        string token = await fixture.TokenAsync(OidcGateway.Unmapped);

        RawResponse response = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), OidcGateway.Bearer(token), null, Ct);

        Assert.True(response.Status == 403, response.ToString());
        Assert.Equal("Forbidden: the credential is valid but names no agent of this gateway.", response.ErrorMessage);
    }

    [Fact]
    public async Task Token_Unsigned_AlgNone_Gets401()
    {
        string real = await fixture.TokenAsync(OidcGateway.AgentA);
        JsonObject payload = TokenForgery.Payload(real);
        string stripped = TokenForgery.Unsigned(payload, TokenForgery.Header(real)["kid"]?.GetValue<string>());
        var crafted = new JsonObject
        {
            ["iss"] = fixture.Authorization.Issuer,
            ["aud"] = OidcGateway.Resource,
            ["sub"] = "agent-a",
            ["client_id"] = "agent-a",
            ["scope"] = OidcGateway.RequiredScope,
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
        };

        await AssertUnauthorizedAsync(stripped, "the real token's claims, alg none, signature removed", InvalidSignature);
        await AssertUnauthorizedAsync(TokenForgery.Unsigned(crafted), "crafted claims, alg none", InvalidSignature);
        await AssertUnauthorizedAsync(real.Split('.')[0] + "." + real.Split('.')[1] + ".", "the real header and claims, signature removed", InvalidSignature);
    }

    [Fact]
    public async Task Token_SignedWithHs256_Gets401_WhateverTheSecret()
    {
        string real = await fixture.TokenAsync(OidcGateway.AgentA);
        JsonObject payload = TokenForgery.Payload(real);
        string kid = TokenForgery.Header(real)["kid"]!.GetValue<string>();
        JsonObject jwk = (JsonObject)(await fixture.Authorization.JwksAsync(Ct))["keys"]!.AsArray().First(k => k!["kid"]?.GetValue<string>() == kid)!;

        await AssertUnauthorizedAsync(TokenForgery.Hs256(payload, RandomNumberGenerator.GetBytes(32), kid: null), "HS256 with a secret of the attacker's choosing", "the token is signed with an unknown key");
        await AssertUnauthorizedAsync(TokenForgery.Hs256(payload, RandomNumberGenerator.GetBytes(32), kid), "HS256 with a secret of the attacker's choosing, naming the real key", InvalidSignature);
        await AssertUnauthorizedAsync(TokenForgery.Hs256(payload, TokenForgery.PublicKeyPem(jwk), kid), "HS256 with the server's RSA public key (PEM) as the secret", InvalidSignature);
    }

    [Fact]
    public async Task Token_WithATamperedPayload_Gets401()
    {
        string beta = await fixture.TokenAsync(OidcGateway.AgentB);

        await AssertUnauthorizedAsync(TokenForgery.Tampered(beta, p => p["client_id"] = "agent-a"), "client_id changed to another client's", InvalidSignature);
        await AssertUnauthorizedAsync(TokenForgery.Tampered(beta, p => p["exp"] = p["exp"]!.GetValue<long>() + 3600), "expiry extended", InvalidSignature);
        await AssertUnauthorizedAsync(TokenForgery.Tampered(beta, p => p["aud"] = OidcGateway.Resource + "/"), "audience respelled", InvalidSignature);
    }

    [Fact]
    public async Task OpaqueToken_WithoutAResourceIndicator_Gets401()
    {
        string opaque = await fixture.TokenAsync(OidcGateway.AgentA, resource: null);
        Assert.DoesNotContain('.', opaque);

        await AssertUnauthorizedAsync(opaque, "an opaque (not JWT) access token", "the token is malformed");
    }

    [Fact]
    public async Task Token_WithAnAgentHeaderOrArgumentNamingAnotherAgent_IsRefused_NeverSwitched()
    {
        string token = await fixture.TokenAsync(OidcGateway.AgentB);
        var headers = OidcGateway.Bearer(token);
        headers["X-Agent-Id"] = "alpha";
        McpClient withHeader = await Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: headers);
        McpClient plain = await ConnectAsync(token);

        McpProtocolException list = await Assert.ThrowsAsync<McpProtocolException>(() => withHeader.ListToolNamesAsync(Ct));
        McpProtocolException? argument = await plain.CallErrorAsync("fixture_pid", new JsonObject { ["agent_id"] = "alpha" }, Ct);

        Assert.Equal("This credential acts as agent 'beta' and cannot act as agent 'alpha'.", list.RemoteMessage());
        Assert.Equal("This credential acts as agent 'beta' and cannot act as agent 'alpha'.", argument?.RemoteMessage());
        Assert.Equal(OidcGateway.BetaTools, (await plain.ListToolNamesAsync(Ct)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Session_OpenedWithAToken_BelongsToItsSubject_NotToAnotherClientOrAKeyOfTheSameAgent()
    {
        McpClient owner = await ConnectAsync(await fixture.TokenAsync(OidcGateway.AgentA));
        string call = SecurityTestKit.ToolCall("everything_echo", new JsonObject { ["message"] = "whose session?" });
        long taken = SecurityTestKit.FastPathTaken(Gateway);

        RawResponse otherClient = await SecurityTestKit.PostAsync(Gateway.Endpoint, call, OidcGateway.Bearer(await fixture.TokenAsync(OidcGateway.AgentB)), owner.SessionId, Ct);
        RawResponse sameAgentsKey = await SecurityTestKit.PostAsync(Gateway.Endpoint, call, fixture.AlphaKey.Bearer(), owner.SessionId, Ct);
        long takenAfterRefusals = SecurityTestKit.FastPathTaken(Gateway);
        RawResponse newTokenSameClient = await SecurityTestKit.PostAsync(Gateway.Endpoint, call, OidcGateway.Bearer(await fixture.TokenAsync(OidcGateway.AgentA)), owner.SessionId, Ct);

        Assert.True(otherClient.Status == 404, otherClient.ToString());
        Assert.True(sameAgentsKey.Status == 404, sameAgentsKey.ToString());
        Assert.Equal(taken, takenAfterRefusals);

        // A fresh token of the same client is the same principal (issuer and subject): it may go on with its session.
        Assert.True(newTokenSameClient.Status == 200, newTokenSameClient.ToString());
        Assert.Equal("Echo: whose session?", ((JsonObject)newTokenSameClient.Message!["result"]!).FirstText());
    }

    private Task<McpClient> ConnectAsync(string token) =>
        Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: OidcGateway.Bearer(token));

    /// <summary>The token is refused on a list and on a call, and the audit records why (never the token).</summary>
    private async Task AssertUnauthorizedAsync(string token, string what, string reason)
    {
        int before = (await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct)).Count;
        RawResponse list = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolsList(), OidcGateway.Bearer(token), null, Ct);
        RawResponse call = await SecurityTestKit.PostAsync(Gateway.Endpoint, SecurityTestKit.ToolCall("fixture_pid"), OidcGateway.Bearer(token), null, Ct);
        List<JsonObject> audit = await SecurityTestKit.ReadAuditAsync(Gateway, fixture.AuditFile, Ct);

        Assert.True(list.Status == (int)HttpStatusCode.Unauthorized, $"{what}: {list}");
        Assert.True(call.Status == (int)HttpStatusCode.Unauthorized, $"{what}: {call}");
        Assert.Contains("resource_metadata=", list.WwwAuthenticate, StringComparison.Ordinal);
        Assert.Equal([reason, reason], SecurityTestKit.HttpRefusals(audit.Skip(before)).Select(r => r["rule"]?.GetValue<string>()));
    }
}
