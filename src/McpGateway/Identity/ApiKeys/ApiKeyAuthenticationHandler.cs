using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace McpGateway.Identity.ApiKeys;

/// <summary>Options of the API key scheme (none beyond the base ones: the keys come from the <see cref="ApiKeyStore"/>).</summary>
internal sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions;

/// <summary>
/// ASP.NET Core authentication for the gateway's API keys, presented as <c>Authorization: Bearer mgw_…</c> or
/// <c>X-API-Key: mgw_…</c>. (ASP.NET Core has no API key scheme of its own; an <see cref="AuthenticationHandler{T}"/>
/// is its extension point for one.) A request without a key gets no result, so the challenge (401 with the
/// protected-resource metadata) is the framework's; a wrong, revoked or expired key fails the same way for the caller,
/// and the reason goes to the log and the audit with the key id, never the key.
/// </summary>
internal sealed partial class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyStore store)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, loggerFactory, encoder)
{
    public const string HeaderName = "X-API-Key";

    /// <summary>HttpContext item holding the <see cref="ApiKeyCheck"/> of a refused key, for the audit of the 401.</summary>
    public const string FailureItem = "mcp-gateway.api-key-failure";

    // One principal per key entry: its claims never change, and requests share it instead of rebuilding it.
    private static readonly ConditionalWeakTable<ApiKeyEntry, ClaimsPrincipal> s_principals = new();

    /// <summary>True when the request carries something shaped like a gateway key in either header.</summary>
    public static bool HasKey(HttpRequest request) => PresentedKey(request) is not null;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? key = PresentedKey(Request);
        if (key is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        ApiKeyCheck check = store.Check(key);
        if (!check.Succeeded)
        {
            Context.Items[FailureItem] = check;
            LogRefused(Logger, check.KeyId ?? "(malformed)", check.Failure);
            return Task.FromResult(AuthenticateResult.Fail("invalid API key"));
        }

        ApiKeyEntry entry = check.Entry!;
        ClaimsPrincipal principal = s_principals.GetValue(entry, e => new ClaimsPrincipal(GatewayClaims.ForApiKey(e.Agent, e.Id, Scheme.Name)));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }

    private static string? PresentedKey(HttpRequest request)
    {
        string apiKey = request.Headers[HeaderName].ToString();
        if (apiKey.Length > 0)
        {
            return apiKey.Trim();
        }

        string authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            string token = authorization[7..].Trim();
            return ApiKey.LooksLikeKey(token) ? token : null;
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused API key '{KeyId}': {Reason}.")]
    private static partial void LogRefused(ILogger logger, string keyId, ApiKeyFailure reason);
}
