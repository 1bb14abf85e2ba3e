using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace McpGateway.Identity;

/// <summary>What an HTTP request says about who sends it: the authenticated principal and the self-asserted header.</summary>
public static class HttpIdentity
{
    /// <param name="user">The principal the SDK attached to the message, when there is one; else the request's.</param>
    public static IdentityClaims ClaimsOf(HttpContext? http, ClaimsPrincipal? user, IdentityOptions options)
    {
        string? header = null;
        if (options.AcceptHeader && http is not null)
        {
            string value = http.Request.Headers[options.HeaderName].ToString();
            header = value.Length == 0 ? null : value;
        }

        return new IdentityClaims(GatewayClaims.Read(user ?? http?.User), header, null);
    }

    /// <summary>The client's address as limits and the audit record it.</summary>
    public static string? ClientAddress(HttpContext? http) => http?.Connection.RemoteIpAddress?.ToString();
}
