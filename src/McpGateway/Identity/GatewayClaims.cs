using System.Security.Claims;

namespace McpGateway.Identity;

/// <summary>
/// How an authenticated principal carries what the gateway needs: the agent, the credential id and its kind, as
/// claims of an identity of their own, whatever scheme authenticated the request.
/// </summary>
public static class GatewayClaims
{
    public const string Issuer = "mcp-gateway";
    public const string AgentType = "mcp-gateway/agent";
    public const string CredentialType = "mcp-gateway/credential";
    public const string SourceType = "mcp-gateway/source";

    /// <summary>The identity the API key handler signs in: the agent, the key id, and the key id as the user id sessions bind to.</summary>
    public static ClaimsIdentity ForApiKey(string agent, string keyId, string authenticationType)
    {
        string credential = "key:" + keyId;
        return new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, credential, ClaimValueTypes.String, Issuer),
                new Claim(AgentType, agent, ClaimValueTypes.String, Issuer),
                new Claim(CredentialType, credential, ClaimValueTypes.String, Issuer),
                new Claim(SourceType, nameof(IdentitySource.ApiKey), ClaimValueTypes.String, Issuer),
            ],
            authenticationType);
    }

    /// <summary>The gateway's claims for a validated token: added beside the token's own claims.</summary>
    public static ClaimsIdentity ForToken(string? agent, string credential)
    {
        var claims = new List<Claim>
        {
            new(CredentialType, credential, ClaimValueTypes.String, Issuer),
            new(SourceType, nameof(IdentitySource.Jwt), ClaimValueTypes.String, Issuer),
        };
        if (agent is not null)
        {
            claims.Add(new Claim(AgentType, agent, ClaimValueTypes.String, Issuer));
        }

        // Not authenticated on its own (no authentication type): the token's identity is the authenticated one.
        return new ClaimsIdentity(claims);
    }

    /// <summary>The authenticated caller of a request, or null for an anonymous one.</summary>
    public static AuthenticatedCaller? Read(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true || user.FindFirst(CredentialType) is not { } credential)
        {
            return null;
        }

        IdentitySource source = user.FindFirst(SourceType)?.Value == nameof(IdentitySource.Jwt) ? IdentitySource.Jwt : IdentitySource.ApiKey;
        return new AuthenticatedCaller(user.FindFirst(AgentType)?.Value, source, credential.Value, UserId(user) ?? credential.Value);
    }

    /// <summary>
    /// What a session is bound to: the same claim the SDK's Streamable HTTP handler compares (name identifier, else
    /// <c>sub</c>, else UPN, with its issuer), so the fast path and the SDK refuse the same requests.
    /// </summary>
    public static string? UserId(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        Claim? claim = user.FindFirst(ClaimTypes.NameIdentifier) ?? user.FindFirst("sub") ?? user.FindFirst(ClaimTypes.Upn);
        return claim is null ? null : claim.Issuer + "|" + claim.Value;
    }
}
