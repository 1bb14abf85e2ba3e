using System.Security.Claims;
using System.Security.Cryptography;
using McpGateway.Configuration;
using McpGateway.Identity.Tokens;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.Tests.Identity;

/// <summary>
/// The memory of validated tokens answers only what a full validation would answer: a token is accepted again
/// without validating it only while it has not expired, the signing keys, issuer and audiences are the same, and
/// a refused token is never remembered.
/// </summary>
public sealed class ValidatedTokenCacheTests : IDisposable
{
    private const string Issuer = "https://issuer.test.invalid";
    private const string Audience = "https://gateway.test.invalid/mcp";

    private readonly RSA _rsa = RSA.Create(2048);
    private readonly RsaSecurityKey _key;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly CountingHandler _inner = new();
    private readonly ValidatedTokenCache _cache;

    public ValidatedTokenCacheTests()
    {
        _key = new RsaSecurityKey(_rsa) { KeyId = "test-1" };
        _cache = new ValidatedTokenCache(_inner, _time);
    }

    public void Dispose() => _rsa.Dispose();

    [Fact]
    public async Task SameToken_WithTheSameOptions_IsValidatedOnce_AndEachRequestGetsItsOwnIdentity()
    {
        TokenValidationParameters options = Parameters([_key]);
        string token = Token(_key);

        TokenValidationResult first = await _cache.ValidateTokenAsync(token, options.Clone());
        TokenValidationResult second = await _cache.ValidateTokenAsync(token, options.Clone());
        TokenValidationResult third = await _cache.ValidateTokenAsync(token, options.Clone());

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.True(third.IsValid);
        Assert.Equal(1, _inner.Validations);
        Assert.Equal("alpha", second.ClaimsIdentity.FindFirst("sub")?.Value);
        Assert.NotSame(second.ClaimsIdentity, third.ClaimsIdentity);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        Assert.Same(first.SecurityToken, second.SecurityToken);
    }

    [Fact]
    public async Task RefusedToken_IsNeverRemembered()
    {
        using var other = RSA.Create(2048);
        TokenValidationParameters options = Parameters([_key]);
        string forged = Token(new RsaSecurityKey(other) { KeyId = "test-1" });

        TokenValidationResult first = await _cache.ValidateTokenAsync(forged, options.Clone());
        TokenValidationResult second = await _cache.ValidateTokenAsync(forged, options.Clone());

        Assert.False(first.IsValid);
        Assert.False(second.IsValid);
        Assert.Equal(2, _inner.Validations);
        Assert.Equal(0, _cache.Count);
    }

    [Fact]
    public async Task RememberedToken_IsValidatedAgain_OnceItExpires_AndAfterAMinuteAtMost()
    {
        TokenValidationParameters options = Parameters([_key]);
        string shortLived = Token(_key, lifetime: TimeSpan.FromSeconds(30));
        string longLived = Token(_key, lifetime: TimeSpan.FromHours(1));
        await _cache.ValidateTokenAsync(shortLived, options.Clone());
        await _cache.ValidateTokenAsync(longLived, options.Clone());

        _time.Advance(TimeSpan.FromSeconds(29));
        await _cache.ValidateTokenAsync(shortLived, options.Clone());
        await _cache.ValidateTokenAsync(longLived, options.Clone());
        Assert.Equal(2, _inner.Validations);

        _time.Advance(TimeSpan.FromSeconds(2));
        await _cache.ValidateTokenAsync(shortLived, options.Clone());
        Assert.Equal(3, _inner.Validations);

        _time.Advance(ValidatedTokenCache.MaxAge);
        await _cache.ValidateTokenAsync(longLived, options.Clone());
        Assert.Equal(4, _inner.Validations);
    }

    [Fact]
    public async Task OtherAudiencesOrKeys_AreNotAnsweredFromWhatWasValidatedBefore()
    {
        string token = Token(_key);
        TokenValidationParameters options = Parameters([_key]);
        await _cache.ValidateTokenAsync(token, options.Clone());

        TokenValidationResult otherAudience = await _cache.ValidateTokenAsync(token, Parameters([_key], audience: "https://elsewhere.test.invalid/mcp"));
        TokenValidationResult keyGone = await _cache.ValidateTokenAsync(token, Parameters([new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-2" }]));

        Assert.False(otherAudience.IsValid);
        Assert.False(keyGone.IsValid);
        Assert.Equal(3, _inner.Validations);
    }

    [Fact]
    public async Task KeysFromAConfigurationManager_ATokenIsValidatedAgainAfterEveryRefresh_AndRefusedOnceItsKeyIsWithdrawn()
    {
        // Without the last known good configuration, which would otherwise still accept the withdrawn key for a while.
        var manager = new FixedConfigurationManager(Configuration(_key)) { UseLastKnownGoodConfiguration = false };
        TokenValidationParameters options = Parameters(keys: null);
        options.ConfigurationManager = manager;
        string token = Token(_key);

        Assert.True((await _cache.ValidateTokenAsync(token, options.Clone())).IsValid);
        Assert.True((await _cache.ValidateTokenAsync(token, options.Clone())).IsValid);
        Assert.Equal(1, _inner.Validations);

        manager.Current = Configuration(_key);
        Assert.True((await _cache.ValidateTokenAsync(token, options.Clone())).IsValid);
        Assert.Equal(2, _inner.Validations);

        manager.Current = Configuration(new RsaSecurityKey(RSA.Create(2048)) { KeyId = "rotated" });
        Assert.False((await _cache.ValidateTokenAsync(token, options.Clone())).IsValid);
        Assert.Equal(3, _inner.Validations);
    }

    [Fact]
    public async Task GatewayJwtOptions_UseTheMemory_AndStillRefuseAnExpiredOrForeignToken()
    {
        var options = new JwtBearerOptions();
        string folder = Directory.CreateTempSubdirectory("mcp-gateway-jwks-").FullName;
        try
        {
            string jwks = Path.Combine(folder, "jwks.json");
            RSAParameters parameters = _rsa.ExportParameters(includePrivateParameters: false);
            File.WriteAllText(jwks, $$"""{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"test-1","n":"{{Base64UrlEncoder.Encode(parameters.Modulus)}}","e":"{{Base64UrlEncoder.Encode(parameters.Exponent)}}"}]}""");
            JwtAuthentication.Configure(options, new JwtSettings { Issuer = Issuer, JwksFile = jwks, Audiences = [Audience] }, NullLoggerFactory.Instance, TimeProvider.System);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        TokenHandler handler = Assert.Single(options.TokenHandlers);
        Assert.IsType<ValidatedTokenCache>(handler);
        string good = Token(_key);
        string expired = Token(_key, lifetime: TimeSpan.FromHours(-1));
        string foreign = Token(_key, audience: "https://elsewhere.test.invalid/mcp");

        Assert.True((await handler.ValidateTokenAsync(good, options.TokenValidationParameters.Clone())).IsValid);
        Assert.True((await handler.ValidateTokenAsync(good, options.TokenValidationParameters.Clone())).IsValid);
        Assert.Equal(1, ((ValidatedTokenCache)handler).Count);
        Assert.IsType<SecurityTokenExpiredException>((await handler.ValidateTokenAsync(expired, options.TokenValidationParameters.Clone())).Exception);
        Assert.IsType<SecurityTokenInvalidAudienceException>((await handler.ValidateTokenAsync(foreign, options.TokenValidationParameters.Clone())).Exception);
        Assert.Equal(1, ((ValidatedTokenCache)handler).Count);
    }

    private static TokenValidationParameters Parameters(IEnumerable<SecurityKey>? keys, string audience = Audience) => new()
    {
        ValidIssuer = Issuer,
        ValidAudiences = [audience],
        IssuerSigningKeys = keys,
        ValidateIssuer = true,
        ValidateAudience = true,
        ValidateLifetime = true,
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
    };

    private static Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectConfiguration Configuration(SecurityKey key)
    {
        var configuration = new Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectConfiguration { Issuer = Issuer };
        configuration.SigningKeys.Add(key);
        return configuration;
    }

    private static string Token(SecurityKey key, TimeSpan? lifetime = null, string audience = Audience)
    {
        DateTime now = DateTime.UtcNow;
        DateTime expires = now + (lifetime ?? TimeSpan.FromHours(1));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", "alpha")]),
            IssuedAt = expires < now ? expires.AddMinutes(-10) : now,
            NotBefore = expires < now ? expires.AddMinutes(-10) : now.AddMinutes(-1),
            Expires = expires,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>The real handler, counting how often it is asked.</summary>
    private sealed class CountingHandler : TokenHandler
    {
        private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
        private int _validations;

        public int Validations => _validations;

        public override Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
        {
            Interlocked.Increment(ref _validations);
            return _handler.ValidateTokenAsync(token, validationParameters);
        }
    }

    /// <summary>A configuration manager whose configuration the test replaces, as a refresh would.</summary>
    private sealed class FixedConfigurationManager(BaseConfiguration current) : BaseConfigurationManager
    {
        public BaseConfiguration Current { get; set; } = current;

        public override Task<BaseConfiguration> GetBaseConfigurationAsync(CancellationToken cancel) => Task.FromResult(Current);

        public override void RequestRefresh()
        {
        }
    }
}
