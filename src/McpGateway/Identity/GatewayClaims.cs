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
        return new GatewayIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, credential, ClaimValueTypes.String, Issuer),
                new Claim(AgentType, agent, ClaimValueTypes.String, Issuer),
                new Claim(CredentialType, credential, ClaimValueTypes.String, Issuer),
                new Claim(SourceType, nameof(IdentitySource.ApiKey), ClaimValueTypes.String, Issuer),
            ],
            authenticationType,
            new AuthenticatedCaller(agent, IdentitySource.ApiKey, credential, Issuer + "|" + credential));
    }

    /// <summary>
    /// The gateway's claims for a validated token, added to <paramref name="token"/> (the token's principal) beside
    /// the token's own claims; the caller they make is worked out now, from the principal as it will stay.
    /// </summary>
    public static ClaimsIdentity ForToken(string? agent, string credential, ClaimsPrincipal token)
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
        return new GatewayIdentity(claims, authenticationType: null, new AuthenticatedCaller(agent, IdentitySource.Jwt, credential, UserId(token) ?? credential));
    }

    /// <summary>
    /// The authenticated caller of a request, or null for an anonymous one: what the gateway's own identity says
    /// (worked out once at sign-in, and read on every request), never a claim of the same name that a token carries
    /// (a token's identity comes first in its principal, so searching the claims would let a token name its agent).
    /// </summary>
    public static AuthenticatedCaller? Read(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        foreach (ClaimsIdentity identity in user.Identities)
        {
            if (identity is GatewayIdentity gateway)
            {
                return gateway.Caller;
            }
        }

        return null;
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

/// <summary>
/// The identity holding the gateway's claims, with the caller they make: its claims never change after sign-in, so
/// <see cref="GatewayClaims.Read"/> need not search the principal's claims on each request.
/// </summary>
internal sealed class GatewayIdentity(IEnumerable<Claim> claims, string? authenticationType, AuthenticatedCaller caller)
    : ClaimsIdentity(claims, authenticationType)
{
    public AuthenticatedCaller Caller { get; } = caller;
}
