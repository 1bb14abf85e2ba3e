using System.Net;
using System.Security.Claims;
using McpGateway.Identity;
using Microsoft.AspNetCore.Http;

namespace McpGateway.Tests.Identity;

/// <summary>
/// How an authenticated principal carries the agent, the credential and its kind (whatever scheme signed it in), and
/// what an HTTP request says about who sends it.
/// </summary>
public sealed class GatewayClaimsTests
{
    [Fact]
    public void ForApiKey_ReadsBackAsTheKeysAgentAndCredential_BoundToTheKey()
    {
        var user = new ClaimsPrincipal(GatewayClaims.ForApiKey("alpha", "0000000a", "ApiKey"));

        AuthenticatedCaller? caller = GatewayClaims.Read(user);

        Assert.Equal(new AuthenticatedCaller("alpha", IdentitySource.ApiKey, "key:0000000a", "mcp-gateway|key:0000000a"), caller);
    }

    [Fact]
    public void ForToken_BesideTheTokensIdentity_ReadsBackAsAJwtCaller_BoundToTheTokensSubject()
    {
        var token = new ClaimsIdentity([new Claim("sub", "client-b", ClaimValueTypes.String, "https://issuer")], "Bearer");
        var user = new ClaimsPrincipal(token);
        user.AddIdentity(GatewayClaims.ForToken("beta", "jwt:https://issuer|client-b", user));

        AuthenticatedCaller? caller = GatewayClaims.Read(user);

        Assert.Equal(new AuthenticatedCaller("beta", IdentitySource.Jwt, "jwt:https://issuer|client-b", "https://issuer|client-b"), caller);
    }

    [Fact]
    public void ForToken_WithoutAnAgent_ReadsBackWithNoAgent()
    {
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "stranger", ClaimValueTypes.String, "https://issuer")], "Bearer"));
        user.AddIdentity(GatewayClaims.ForToken(agent: null, "jwt:stranger", user));

        AuthenticatedCaller? caller = GatewayClaims.Read(user);

        Assert.NotNull(caller);
        Assert.Null(caller.Agent);
        Assert.Equal(IdentitySource.Jwt, caller.Source);
    }

    [Fact]
    public void ForToken_AloneIsNotAnAuthenticatedIdentity()
    {
        Assert.False(GatewayClaims.ForToken("beta", "jwt:x", new ClaimsPrincipal()).IsAuthenticated);
        Assert.Null(GatewayClaims.Read(new ClaimsPrincipal(GatewayClaims.ForToken("beta", "jwt:x", new ClaimsPrincipal()))));
    }

    [Fact]
    public void Read_AnonymousOrForeignPrincipals_AreNoCaller()
    {
        var anonymous = new ClaimsPrincipal(new ClaimsIdentity());
        var withoutCredential = new ClaimsPrincipal(new ClaimsIdentity([new Claim(GatewayClaims.AgentType, "alpha")], "Other"));

        Assert.Null(GatewayClaims.Read(null));
        Assert.Null(GatewayClaims.Read(anonymous));
        Assert.Null(GatewayClaims.Read(withoutCredential));
    }

    [Theory]
    [InlineData(ClaimTypes.NameIdentifier, "id-1", "issuer-a|id-1")]
    [InlineData("sub", "sub-1", "issuer-a|sub-1")]
    [InlineData(ClaimTypes.Upn, "user@example.com", "issuer-a|user@example.com")]
    public void UserId_IsTheClaimTheSdkBindsSessionsTo_WithItsIssuer(string type, string value, string expected)
    {
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(type, value, ClaimValueTypes.String, "issuer-a")], "Test"));

        Assert.Equal(expected, GatewayClaims.UserId(user));
    }

    [Fact]
    public void UserId_PrefersTheNameIdentifierOverSub_AndIsNullWhenAnonymous()
    {
        var both = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "s", ClaimValueTypes.String, "i"), new Claim(ClaimTypes.NameIdentifier, "n", ClaimValueTypes.String, "i")], "Test"));

        Assert.Equal("i|n", GatewayClaims.UserId(both));
        Assert.Null(GatewayClaims.UserId(new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "s")]))));
        Assert.Null(GatewayClaims.UserId(new ClaimsPrincipal(new ClaimsIdentity([], "Test"))));
    }

    [Fact]
    public void ClaimsOf_ReadsTheHeaderAndThePrincipal()
    {
        DefaultHttpContext http = Http(header: "alpha");
        http.User = new ClaimsPrincipal(GatewayClaims.ForApiKey("beta", "0b", "ApiKey"));

        IdentityClaims claims = HttpIdentity.ClaimsOf(http, user: null, new IdentityOptions());

        Assert.Equal("alpha", claims.HeaderAgent);
        Assert.Equal("beta", claims.Principal?.Agent);
        Assert.Null(claims.ArgumentAgent);
    }

    [Fact]
    public void ClaimsOf_ThePrincipalTheSdkAttached_WinsOverTheRequests()
    {
        DefaultHttpContext http = Http();
        http.User = new ClaimsPrincipal(GatewayClaims.ForApiKey("beta", "0b", "ApiKey"));
        var attached = new ClaimsPrincipal(GatewayClaims.ForApiKey("alpha", "0a", "ApiKey"));

        Assert.Equal("alpha", HttpIdentity.ClaimsOf(http, attached, new IdentityOptions()).Principal?.Agent);
    }

    [Fact]
    public void ClaimsOf_HeaderIsIgnoredWhenTheGatewayReadsNone_OrWhenItIsEmpty()
    {
        Assert.Null(HttpIdentity.ClaimsOf(Http(header: "alpha"), null, new IdentityOptions { AcceptHeader = false }).HeaderAgent);
        Assert.Null(HttpIdentity.ClaimsOf(Http(header: string.Empty), null, new IdentityOptions()).HeaderAgent);
        Assert.Null(HttpIdentity.ClaimsOf(null, null, new IdentityOptions()).HeaderAgent);
    }

    [Fact]
    public void ClaimsOf_ReadsTheConfiguredHeaderName()
    {
        DefaultHttpContext http = Http();
        http.Request.Headers["X-Caller"] = "alpha";
        http.Request.Headers["X-Agent-Id"] = "beta";

        Assert.Equal("alpha", HttpIdentity.ClaimsOf(http, null, new IdentityOptions { HeaderName = "X-Caller" }).HeaderAgent);
    }

    [Fact]
    public void ClientAddress_IsTheRemoteAddress()
    {
        DefaultHttpContext http = Http();
        http.Connection.RemoteIpAddress = IPAddress.Parse("10.0.0.9");

        Assert.Equal("10.0.0.9", HttpIdentity.ClientAddress(http));
        Assert.Null(HttpIdentity.ClientAddress(Http()));
        Assert.Null(HttpIdentity.ClientAddress(null));
    }

    private static DefaultHttpContext Http(string? header = null)
    {
        var http = new DefaultHttpContext();
        if (header is not null)
        {
            http.Request.Headers["X-Agent-Id"] = header;
        }

        return http;
    }
}
