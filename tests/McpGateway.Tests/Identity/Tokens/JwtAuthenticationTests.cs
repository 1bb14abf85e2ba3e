using System.Security.Cryptography;
using McpGateway.Configuration;
using McpGateway.Identity;
using McpGateway.Identity.Tokens;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.Tests.Identity.Tokens;

/// <summary>
/// Token lifetimes are judged by the gateway's clock (the injected <see cref="TimeProvider"/>), with IdentityModel's
/// rules: the validation parameters <see cref="JwtAuthentication.Configure"/> makes are used as JwtBearer uses them.
/// </summary>
public sealed class JwtAuthenticationTests : IDisposable
{
    private const string Issuer = "https://issuer.example";
    private const string Audience = "https://gateway.example/mcp";

    // Years before any run: every token here has expired on the wall clock, so only the injected clock can accept one.
    private static readonly DateTimeOffset s_start = new(2020, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly RSA _rsa = RSA.Create(2048);
    private readonly FakeTimeProvider _clock = new(s_start);

    public void Dispose() => _rsa.Dispose();

    [Fact]
    public async Task Token_IsValidUntilItsExpiryPlusTheClockSkew_OnTheGatewaysClock()
    {
        string token = Token(issuedAt: s_start, expires: s_start.AddMinutes(5));
        TokenValidationParameters parameters = Parameters(TimeSpan.FromSeconds(30));

        TokenValidationResult fresh = await ValidateAsync(token, parameters);
        _clock.SetUtcNow(s_start.AddMinutes(5).AddSeconds(30));
        TokenValidationResult withinSkew = await ValidateAsync(token, parameters);
        _clock.Advance(TimeSpan.FromSeconds(1));
        TokenValidationResult expired = await ValidateAsync(token, parameters);

        Assert.True(fresh.IsValid, fresh.Exception?.Message);
        Assert.True(withinSkew.IsValid, withinSkew.Exception?.Message);
        Assert.False(expired.IsValid);
        Assert.IsType<SecurityTokenExpiredException>(expired.Exception);
    }

    [Fact]
    public async Task Token_NotValidYet_IsRefused_UntilTheClockReachesItsNotBeforeMinusTheSkew()
    {
        string token = Token(issuedAt: s_start, expires: s_start.AddMinutes(10), notBefore: s_start.AddMinutes(2));
        TokenValidationParameters parameters = Parameters(TimeSpan.FromMinutes(1));

        TokenValidationResult early = await ValidateAsync(token, parameters);
        _clock.SetUtcNow(s_start.AddMinutes(1));
        TokenValidationResult inTime = await ValidateAsync(token, parameters);

        Assert.IsType<SecurityTokenNotYetValidException>(early.Exception);
        Assert.True(inTime.IsValid, inTime.Exception?.Message);
    }

    [Fact]
    public async Task Token_WithoutAnExpiry_IsRefused()
    {
        string token = Token(issuedAt: s_start, expires: null);

        TokenValidationResult result = await ValidateAsync(token, Parameters(TimeSpan.Zero));

        Assert.IsType<SecurityTokenNoExpirationException>(result.Exception);
    }

    [Fact]
    public void ValidateLifetime_NotBeforeAfterExpiry_IsAnInvalidLifetime()
    {
        var parameters = new TokenValidationParameters { ClockSkew = TimeSpan.Zero };

        Assert.Throws<SecurityTokenInvalidLifetimeException>(() =>
            JwtAuthentication.ValidateLifetime(s_start.AddMinutes(5).UtcDateTime, s_start.UtcDateTime, parameters, s_start));
    }

    /// <summary>
    /// IdentityModel reads the blocking-refresh switch once, and constructing <see cref="JwtBearerOptions"/> is the
    /// first read: registering token authentication must set it, not configuring the options (which is too late).
    /// </summary>
    [Fact]
    public void AddGatewayAuthentication_WithTokens_TurnsOnBlockingKeyRefresh_WhenServicesAreRegistered()
    {
        var settings = new AuthenticationSettings { Jwt = new JwtSettings { Issuer = Issuer, Audiences = [Audience] } };

        new ServiceCollection().AddGatewayAuthentication(settings);

        Assert.True(AppContext.TryGetSwitch("Switch.Microsoft.IdentityModel.UpdateConfigAsBlocking", out bool blocking) && blocking);
    }

    private TokenValidationParameters Parameters(TimeSpan clockSkew)
    {
        var options = new JwtBearerOptions();
        var jwt = new JwtSettings { Issuer = Issuer, Audiences = [Audience], ClockSkew = clockSkew, RequireHttpsMetadata = false };
        JwtAuthentication.Configure(options, jwt, NullLoggerFactory.Instance, _clock);

        // JwtBearer validates each request with a clone of the configured parameters, plus the issuer's keys.
        TokenValidationParameters parameters = options.TokenValidationParameters.Clone();
        parameters.IssuerSigningKey = new RsaSecurityKey(_rsa) { KeyId = "test" };
        return parameters;
    }

    private static Task<TokenValidationResult> ValidateAsync(string token, TokenValidationParameters parameters) =>
        new JsonWebTokenHandler().ValidateTokenAsync(token, parameters);

    private string Token(DateTimeOffset issuedAt, DateTimeOffset? expires, DateTimeOffset? notBefore = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = "agent-a", ["iat"] = issuedAt.ToUnixTimeSeconds() };
        if (expires is { } exp)
        {
            claims["exp"] = exp.ToUnixTimeSeconds();
        }

        if (notBefore is { } nbf)
        {
            claims["nbf"] = nbf.ToUnixTimeSeconds();
        }

        // Lifetime claims set by hand: the descriptor's own Expires/IssuedAt would default to the wall clock.
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = claims,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(_rsa) { KeyId = "test" }, SecurityAlgorithms.RsaSha256),
        });
    }
}
