using System.Security.Claims;
using McpGateway.Configuration;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.Identity.Tokens;

/// <summary>
/// The gateway as an OAuth 2.1 resource server (MCP authorization, 2025-11-25 and 2026-07-28): access tokens are
/// JWTs validated by ASP.NET Core's JwtBearer against the authorization server's signing keys (OIDC discovery with
/// key rotation, a JWKS URL, or a JWKS file), with the audience required to be this gateway (RFC 8707) and only
/// asymmetric signatures accepted (no "none", no HMAC keys an attacker could derive from a public key). A claim of
/// the token names the agent, optionally through a table. The token is never forwarded downstream: downstream
/// requests carry only the headers configured for each server.
/// </summary>
internal static partial class JwtAuthentication
{
    /// <summary>HttpContext item holding why a presented token was refused, for the audit of the 401.</summary>
    public const string FailureItem = "mcp-gateway.token-failure";

    private const string BlockingRefreshSwitch = "Switch.Microsoft.IdentityModel.UpdateConfigAsBlocking";

    private static readonly string[] s_algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    /// <param name="time">The gateway's clock: it decides whether a token has expired, as it does for API keys.</param>
    public static void Configure(JwtBearerOptions options, JwtSettings jwt, ILoggerFactory loggerFactory, TimeProvider time)
    {
        ILogger logger = loggerFactory.CreateLogger("McpGateway.Identity.Tokens");

        // Claim names as the token has them (sub, client_id, scope), not mapped to long WS-* URIs.
        options.MapInboundClaims = false;

        // An agent sends the same token on every request: it is validated again only when it expires, when the
        // signing keys change, or a minute on (see ValidatedTokenCache), instead of checking its signature each time.
        options.TokenHandlers.Clear();
        options.TokenHandlers.Add(new ValidatedTokenCache(new JsonWebTokenHandler { MapInboundClaims = false }, time));

        // A token signed with a key the gateway has not seen (the authorization server rotated) makes it fetch the
        // keys again, at most this often; the refresh blocks (see UseBlockingKeyRefresh), so that token succeeds.
        options.RefreshInterval = jwt.KeyRefresh;
        options.RequireHttpsMetadata = jwt.RequireHttpsMetadata;
        options.IncludeErrorDetails = false;
        options.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = jwt.Issuer,
            ValidateAudience = true,
            ValidAudiences = jwt.Audiences,
            ValidateLifetime = true,
            RequireExpirationTime = true,

            // JwtBearer checks lifetimes against DateTime.UtcNow: it does not hand the scheme's TimeProvider to the token
            // handler (TokenValidationParameters.TimeProvider is internal in IdentityModel 8.19, and Clone drops it).
            LifetimeValidator = (notBefore, expires, _, parameters) => ValidateLifetime(notBefore, expires, parameters, time.GetUtcNow()),
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
            ValidAlgorithms = s_algorithms,
            ClockSkew = jwt.ClockSkew,
            NameClaimType = jwt.AgentClaim,
        };

        if (jwt.Authority is { } authority)
        {
            options.Authority = authority.OriginalString;
        }
        else if (jwt.JwksUri is { } jwksUri)
        {
            // Keys without discovery: JwtBearer only knows OIDC documents, so a retriever turns the JWKS into one.
            // The configuration manager still refreshes it (and re-reads at once when a token names an unknown key).
            options.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                jwksUri.OriginalString,
                new JwksRetriever(),
                new HttpDocumentRetriever { RequireHttps = jwt.RequireHttpsMetadata });
        }
        else if (jwt.JwksFile is { } file)
        {
            options.TokenValidationParameters.IssuerSigningKeys = new JsonWebKeySet(File.ReadAllText(file)).GetSigningKeys();
        }

        options.Events = new JwtBearerEvents
        {
            OnTokenValidated = context =>
            {
                ClaimsPrincipal principal = context.Principal!;
                string? value = principal.FindFirst(jwt.AgentClaim)?.Value;
                string? agent = value is null ? null : jwt.Agents is { } table ? table.GetValueOrDefault(value) : value;
                string subject = principal.FindFirst("sub")?.Value ?? principal.FindFirst("client_id")?.Value ?? value ?? "?";
                principal.AddIdentity(GatewayClaims.ForToken(agent, "jwt:" + subject, principal));
                if (agent is null)
                {
                    LogNoAgent(logger, jwt.AgentClaim, subject);
                }

                return Task.CompletedTask;
            },
            OnAuthenticationFailed = context =>
            {
                // The reason (expired, wrong audience, bad signature…) goes to the log and the audit, not to the caller.
                string reason = Describe(context.Exception);
                context.HttpContext.Items[FailureItem] = reason;
                LogRefused(logger, reason);
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>
    /// IdentityModel's lifetime rules (Validators.ValidateLifetime) against the gateway's clock: an expiry is required,
    /// and a token is refused once <c>exp</c> is more than the clock skew in the past or <c>nbf</c> more than the skew in
    /// the future. Throws the same exceptions, so the reason logged and audited stays the same.
    /// </summary>
    internal static bool ValidateLifetime(DateTime? notBefore, DateTime? expires, TokenValidationParameters parameters, DateTimeOffset now)
    {
        if (expires is null)
        {
            if (parameters.RequireExpirationTime)
            {
                throw new SecurityTokenNoExpirationException("The token has no expiration time.");
            }

            return true;
        }

        if (notBefore is { } start && start > expires)
        {
            throw new SecurityTokenInvalidLifetimeException("The token's nbf is after its exp.") { NotBefore = start, Expires = expires };
        }

        DateTime utcNow = now.UtcDateTime;
        if (notBefore is { } notYet && notYet > utcNow + parameters.ClockSkew)
        {
            throw new SecurityTokenNotYetValidException("The token is not valid yet.") { NotBefore = notYet };
        }

        if (expires.Value < utcNow - parameters.ClockSkew)
        {
            throw new SecurityTokenExpiredException("The token has expired.") { Expires = expires.Value };
        }

        return true;
    }

    /// <summary>
    /// Makes a key refresh (after a token names an unknown key) fetch the keys before that token is judged: by default
    /// IdentityModel 8 refreshes in the background and refuses the token that triggered it. The switch must be set
    /// before the first <see cref="JwtBearerOptions"/> is constructed: IdentityModel reads it once and caches it, and
    /// the options' constructor is the first to read it, so setting it while configuring the options is too late.
    /// It is set when this assembly is loaded, before any code of the gateway runs (in a process that hosts the gateway
    /// beside other IdentityModel users, such as the integration tests, anything could otherwise read it first), and
    /// again when JWT authentication is registered.
    /// </summary>
#pragma warning disable CA2255 // The gateway is an application; the switch is process-wide by IdentityModel's design.
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    public static void UseBlockingKeyRefresh() => AppContext.SetSwitch(BlockingRefreshSwitch, true);

    /// <summary>Scopes a principal holds: the <c>scope</c> claim (space-separated) and <c>scp</c> (one per claim or space-separated).</summary>
    public static HashSet<string> ScopesOf(ClaimsPrincipal user)
    {
        var scopes = new HashSet<string>(StringComparer.Ordinal);
        foreach (Claim claim in user.Claims)
        {
            if (claim.Type is "scope" or "scp")
            {
                scopes.UnionWith(claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return scopes;
    }

    private static string Describe(Exception exception) => exception switch
    {
        SecurityTokenExpiredException => "the token has expired",
        SecurityTokenNotYetValidException => "the token is not valid yet",
        SecurityTokenInvalidAudienceException => "the token is for another audience",
        SecurityTokenInvalidIssuerException => "the token is from another issuer",
        SecurityTokenSignatureKeyNotFoundException => "the token is signed with an unknown key",
        SecurityTokenInvalidAlgorithmException => "the token's signing algorithm is not accepted",
        SecurityTokenInvalidSignatureException => "the token's signature is invalid",
        SecurityTokenNoExpirationException => "the token has no expiry",
        SecurityTokenInvalidLifetimeException => "the token's lifetime is invalid",
        SecurityTokenMalformedException or ArgumentException => "the token is malformed",
        _ => "the token was refused (" + exception.GetType().Name + ")",
    };

    /// <summary>Reads a JWKS document as an OpenID configuration holding just the signing keys.</summary>
    private sealed class JwksRetriever : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            string json = await retriever.GetDocumentAsync(address, cancel);
            var keys = new JsonWebKeySet(json);
            var configuration = new OpenIdConnectConfiguration { JsonWebKeySet = keys };
            foreach (SecurityKey key in keys.GetSigningKeys())
            {
                configuration.SigningKeys.Add(key);
            }

            return configuration;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a bearer token: {Reason}.")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A valid token for '{Subject}' names no agent (claim '{Claim}' is missing or not in authentication.jwt.agents); it is refused.")]
    private static partial void LogNoAgent(ILogger logger, string claim, string subject);
}
