using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.Identity.Tokens;

/// <summary>
/// JwtBearer's token handler, with a memory of the tokens it has accepted. An agent sends the same access token on
/// every request until it expires, and validating it again costs about 25 µs each time (the RS256 signature check
/// alone is 22 µs on a small VM): most of what authentication adds to a request. A remembered token is accepted
/// without validating it again only while every input of that validation is unchanged:
/// <list type="bullet">
/// <item>the token has not expired: a memory ends at the token's <c>exp</c> (never later; past it, the full
/// validation, with its clock skew, decides) and at most <see cref="MaxAge"/> after the token was validated;</item>
/// <item>the signing keys are the same: the same keys, or the same configuration from the configuration manager (a
/// refresh, such as after the authorization server rotated or withdrew a key, forgets every token validated with
/// the configuration before), and the key that signed the token is among them;</item>
/// <item>the issuer and audiences asked for are the same.</item>
/// </list>
/// A refused token is never remembered, so refusals are exactly as without the memory. Holds at most
/// <see cref="MaxEntries"/> tokens (only valid ones can get in).
/// </summary>
internal sealed class ValidatedTokenCache(TokenHandler inner, TimeProvider time) : TokenHandler
{
    public const int MaxEntries = 10_000;

    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Tokens remembered now (for tests).</summary>
    public int Count => _entries.Count;

    public override int MaximumTokenSizeInBytes
    {
        get => inner.MaximumTokenSizeInBytes;
        set => inner.MaximumTokenSizeInBytes = value;
    }

    public override SecurityToken ReadToken(string token) => inner.ReadToken(token);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        ArgumentNullException.ThrowIfNull(validationParameters);
        BaseConfiguration? before = validationParameters.ConfigurationManager is { } manager ? await manager.GetBaseConfigurationAsync(CancellationToken.None) : null;
        DateTimeOffset now = time.GetUtcNow();
        if (token is not null && _entries.TryGetValue(token, out Entry? remembered))
        {
            if (remembered.Until <= now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(token, remembered));
            }
            else if (remembered.Matches(validationParameters, before))
            {
                return remembered.Result();
            }
        }

        TokenValidationResult result = await inner.ValidateTokenAsync(token, validationParameters);
        if (token is not null && result is { IsValid: true, SecurityToken: JsonWebToken validated, ClaimsIdentity: { } identity })
        {
            BaseConfiguration? after = validationParameters.ConfigurationManager is { } same ? await same.GetBaseConfigurationAsync(CancellationToken.None) : null;
            DateTimeOffset expires = new(DateTime.SpecifyKind(validated.ValidTo, DateTimeKind.Utc));
            DateTimeOffset until = expires < now + MaxAge ? expires : now + MaxAge;
            if (ReferenceEquals(before, after) && until > now && IsCurrentKey(validated.SigningKey, validationParameters, after) && Room(now))
            {
                _entries[token] = new Entry(validated, identity.Clone(), result.Issuer, result.TokenType, until, Inputs.Of(validationParameters), after);
            }
        }

        return result;
    }

    /// <summary>The key that signed the token is one the gateway would use for the next token too (not a last-known-good one).</summary>
    private static bool IsCurrentKey(SecurityKey? key, TokenValidationParameters parameters, BaseConfiguration? configuration) =>
        key is not null && (ReferenceEquals(parameters.IssuerSigningKey, key) || parameters.IssuerSigningKeys?.Contains(key) == true || configuration?.SigningKeys.Contains(key) == true);

    /// <summary>Room for one more: expired entries go first; when it is still full, the token is simply not remembered.</summary>
    private bool Room(DateTimeOffset now)
    {
        if (_entries.Count < MaxEntries)
        {
            return true;
        }

        foreach (KeyValuePair<string, Entry> entry in _entries)
        {
            if (entry.Value.Until <= now)
            {
                _entries.TryRemove(entry);
            }
        }

        return _entries.Count < MaxEntries;
    }

    /// <summary>
    /// What a validation was asked to check. JwtBearer gives each request a copy of the options' parameters (with
    /// copies of their lists), so lists are compared item by item: names by value, keys and the manager by identity.
    /// </summary>
    private sealed record Inputs(
        string? Issuer,
        string[] Issuers,
        string? Audience,
        string[] Audiences,
        SecurityKey? Key,
        SecurityKey[] Keys,
        BaseConfigurationManager? Manager)
    {
        public static Inputs Of(TokenValidationParameters p) =>
            new(p.ValidIssuer, [.. p.ValidIssuers ?? []], p.ValidAudience, [.. p.ValidAudiences ?? []], p.IssuerSigningKey, [.. p.IssuerSigningKeys ?? []], p.ConfigurationManager);

        public bool Allows(TokenValidationParameters p) =>
            string.Equals(Issuer, p.ValidIssuer, StringComparison.Ordinal) && Same(Issuers, p.ValidIssuers) &&
            string.Equals(Audience, p.ValidAudience, StringComparison.Ordinal) && Same(Audiences, p.ValidAudiences) &&
            ReferenceEquals(Key, p.IssuerSigningKey) && SameKeys(Keys, p.IssuerSigningKeys) && ReferenceEquals(Manager, p.ConfigurationManager);

        private static bool Same(string[] remembered, IEnumerable<string>? current)
        {
            int i = 0;
            foreach (string value in current ?? [])
            {
                if (i >= remembered.Length || !string.Equals(remembered[i++], value, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return i == remembered.Length;
        }

        private static bool SameKeys(SecurityKey[] remembered, IEnumerable<SecurityKey>? current)
        {
            int i = 0;
            foreach (SecurityKey key in current ?? [])
            {
                if (i >= remembered.Length || !ReferenceEquals(remembered[i++], key))
                {
                    return false;
                }
            }

            return i == remembered.Length;
        }
    }

    private sealed record Entry(JsonWebToken Token, ClaimsIdentity Identity, string? Issuer, string? TokenType, DateTimeOffset Until, Inputs Inputs, BaseConfiguration? Configuration)
    {
        public bool Matches(TokenValidationParameters parameters, BaseConfiguration? current) =>
            ReferenceEquals(Configuration, current) && Inputs.Allows(parameters);

        /// <summary>A result of its own for each request, with its own copy of the identity: nothing a request does reaches another.</summary>
        public TokenValidationResult Result() => new()
        {
            IsValid = true,
            SecurityToken = Token,
            ClaimsIdentity = Identity.Clone(),
            Issuer = Issuer,
            TokenType = TokenType,
        };
    }
}
