using System.Security.Claims;
using McpGateway.Identity;

namespace McpGateway.Tests.Identity;

/// <summary>Who an authenticated principal is, as every path reads it: from the gateway's own identity, never from a claim a token chose.</summary>
public sealed class GatewayClaimsTokenClaimsTests
{
    [Fact]
    public void ApiKeyPrincipal_ReadsAsItsAgentAndKey_BoundToTheKey()
    {
        var principal = new ClaimsPrincipal(GatewayClaims.ForApiKey("alpha", "0123abcd", "ApiKey"));

        Assert.Equal(new AuthenticatedCaller("alpha", IdentitySource.ApiKey, "key:0123abcd", "mcp-gateway|key:0123abcd"), GatewayClaims.Read(principal));
        Assert.Equal(GatewayClaims.UserId(principal), GatewayClaims.Read(principal)!.UserId);
    }

    [Fact]
    public void TokenPrincipal_ReadsAsTheMappedAgent_EvenWhenTheTokenCarriesTheGatewaysClaimNames()
    {
        var token = new ClaimsIdentity(
            [
                new Claim("sub", "alpha", ClaimValueTypes.String, "https://issuer.test.invalid"),
                new Claim(GatewayClaims.AgentType, "admin"),
                new Claim(GatewayClaims.CredentialType, "key:00000000"),
                new Claim(GatewayClaims.SourceType, nameof(IdentitySource.ApiKey)),
            ],
            "Bearer");
        var principal = new ClaimsPrincipal(token);
        principal.AddIdentity(GatewayClaims.ForToken("alpha", "jwt:alpha", principal));

        AuthenticatedCaller? caller = GatewayClaims.Read(principal);

        Assert.Equal(new AuthenticatedCaller("alpha", IdentitySource.Jwt, "jwt:alpha", "https://issuer.test.invalid|alpha"), caller);
        Assert.Equal(GatewayClaims.UserId(principal), caller!.UserId);
    }

    [Fact]
    public void PrincipalWithoutTheGatewaysIdentity_IsNobody_WhateverItsClaimsSay()
    {
        var principal = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(GatewayClaims.AgentType, "admin"), new Claim(GatewayClaims.CredentialType, "key:00000000")],
            "Elsewhere"));

        Assert.Null(GatewayClaims.Read(principal));
        Assert.Null(GatewayClaims.Read(new ClaimsPrincipal(GatewayClaims.ForApiKey("alpha", "0123abcd", authenticationType: null!))));
        Assert.Null(GatewayClaims.Read(null));
    }
}
