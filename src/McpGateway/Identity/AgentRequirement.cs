using System.Text;
using McpGateway.Diagnostics;
using McpGateway.Identity.ApiKeys;
using McpGateway.Identity.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace McpGateway.Identity;

/// <summary>An authenticated caller must name an agent and, with tokens, hold every required scope.</summary>
internal sealed record AgentRequirement(IReadOnlyList<string> Scopes) : IAuthorizationRequirement;

internal sealed class AgentRequirementHandler : AuthorizationHandler<AgentRequirement>
{
    public const string NoAgent = "no-agent";
    public const string InsufficientScope = "insufficient_scope";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AgentRequirement requirement)
    {
        if (GatewayClaims.Read(context.User) is not { } caller)
        {
            return Task.CompletedTask;
        }

        if (caller.Agent is null)
        {
            context.Fail(new AuthorizationFailureReason(this, NoAgent));
        }
        else if (caller.Source == IdentitySource.Jwt && requirement.Scopes.Count > 0 && !JwtAuthentication.ScopesOf(context.User).IsSupersetOf(requirement.Scopes))
        {
            context.Fail(new AuthorizationFailureReason(this, InsufficientScope));
        }
        else
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Answers requests the authorization policy refused, in the words of the MCP authorization specification: 401 with
/// the SDK's challenge (<c>WWW-Authenticate: Bearer resource_metadata="…"</c>) for missing or invalid credentials,
/// 403 with <c>error="insufficient_scope"</c> and the scopes needed for a token without them, 403 for a credential
/// that names no agent. Every refusal is audited, with the key id or token subject when there is one.
/// </summary>
internal sealed class GatewayAuthorizationResultHandler(IServiceProvider services, TimeProvider time) : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await next(context);
            return;
        }

        string reason;
        string? credential = GatewayClaims.Read(context.User)?.CredentialId;
        if (authorizeResult.Challenged || context.User.Identity?.IsAuthenticated != true)
        {
            reason = context.Items[ApiKeyAuthenticationHandler.FailureItem] is ApiKeyCheck check ? $"invalid API key ({Describe(check.Failure)})"
                : context.Items[JwtAuthentication.FailureItem] as string ?? "no credentials";
            credential ??= context.Items[ApiKeyAuthenticationHandler.FailureItem] is ApiKeyCheck { KeyId: { } keyId } ? "key:" + keyId : null;
            await context.ChallengeAsync();
            await WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized: send an API key (Authorization: Bearer <key> or X-API-Key) or an access token for this gateway.");
        }
        else
        {
            bool scope = authorizeResult.AuthorizationFailure?.FailureReasons.Any(r => r.Message == AgentRequirementHandler.InsufficientScope) == true;
            reason = scope ? "insufficient scope" : "the credential names no agent";
            if (scope)
            {
                string needed = string.Join(' ', policy.Requirements.OfType<AgentRequirement>().SelectMany(r => r.Scopes));
                context.Response.Headers.WWWAuthenticate = $"Bearer error=\"insufficient_scope\", scope=\"{needed}\", resource_metadata=\"{ResourceMetadataUri(context.Request)}\"";
            }

            await WriteErrorAsync(context, StatusCodes.Status403Forbidden, scope
                ? "Forbidden: the access token lacks a scope this gateway requires."
                : "Forbidden: the credential is valid but names no agent of this gateway.");
        }

        if (services.GetService<AuditLog>() is not { } audit)
        {
            return;
        }

        await audit.WriteAsync(new AuditRecord
        {
            Time = time.GetUtcNow(),
            IdentitySource = credential?.StartsWith("jwt:", StringComparison.Ordinal) == true ? "jwt" : credential is null ? "none" : "api-key",
            CredentialId = credential,
            ClientAddress = context.Connection.RemoteIpAddress?.ToString(),
            Method = "http",
            Decision = "refused",
            Rule = reason,
            Outcome = AuditOutcome.Refused,
            ErrorCode = context.Response.StatusCode,
            RequestBytes = context.Request.ContentLength ?? 0,
        }, CancellationToken.None);
    }

    /// <summary>Where the SDK's MCP scheme serves the metadata for this path (RFC 9728 path form).</summary>
    internal static string ResourceMetadataUri(HttpRequest request) =>
        $"{request.Scheme}://{request.Host.ToUriComponent()}{request.PathBase}/.well-known/oauth-protected-resource{request.Path}";

    private static string Describe(ApiKeyFailure failure) => failure switch
    {
        ApiKeyFailure.Malformed => "not a gateway key",
        ApiKeyFailure.UnknownId => "unknown key",
        ApiKeyFailure.WrongSecret => "wrong secret",
        ApiKeyFailure.Revoked => "revoked",
        ApiKeyFailure.Expired => "expired",
        _ => failure.ToString(),
    };

    private static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<string> s_relaxed = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<string>)
        new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, TypeInfoResolver = GatewayJsonContext.Default }.GetTypeInfo(typeof(string));

    private static async Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var json = new StringBuilder(message.Length + 64);
        json.Append("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,\"message\":");
        json.Append(System.Text.Json.JsonSerializer.Serialize(message, s_relaxed));
        json.Append("}}");
        await context.Response.WriteAsync(json.ToString(), context.RequestAborted);
    }
}
