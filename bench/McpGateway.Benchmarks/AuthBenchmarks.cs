using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using McpGateway.Configuration;
using McpGateway.Identity;
using McpGateway.Identity.ApiKeys;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.Benchmarks;

/// <summary>
/// Where the CPU of an authenticated request goes: the pieces (checking an API key, building and reading the
/// principal, validating a JWT, the RSA signature alone) and the whole per-request work ASP.NET Core does for the
/// gateway's schemes (a request scope, authentication, the agent policy), as the
/// authentication and authorization middleware run it, on a plain <see cref="DefaultHttpContext"/>.
/// </summary>
[MemoryDiagnoser]
public class AuthBenchmarks
{
    private const string Issuer = "https://issuer.bench.invalid";
    private const string Audience = "https://gateway.bench.invalid/mcp";

    private string _folder = null!;
    private ApiKeyStore _store = null!;
    private string _key = null!;
    private ApiKeyEntry _entry = null!;
    private ClaimsPrincipal _keyPrincipal = null!;
    private ClaimsPrincipal _tokenPrincipal = null!;
    private string _token = null!;
    private RSA _rsa = null!;
    private byte[] _signedPart = null!;
    private byte[] _signature = null!;
    private JsonWebTokenHandler _tokenHandler = null!;
    private TokenValidationParameters _validation = null!;
    private TokenHandler _gatewayTokenHandler = null!;
    private ServiceProvider _keyServices = null!;
    private ServiceProvider _tokenServices = null!;
    private AuthorizationPolicy _keyPolicy = null!;
    private AuthorizationPolicy _tokenPolicy = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("auth-bench-").FullName;
        (string id, string key) = ApiKey.Generate(_ => false);
        _key = key;
        _entry = new ApiKeyEntry { Id = id, Agent = "bench", Created = DateTimeOffset.UtcNow, Hash = ApiKey.Hash(key) };
        string keysFile = Path.Combine(_folder, ApiKeySettings.DefaultFileName);
        ApiKeyFile.Save(keysFile, [_entry]);
        _store = new ApiKeyStore(keysFile, TimeProvider.System, NullLogger<ApiKeyStore>.Instance, watch: false);
        _keyPrincipal = new ClaimsPrincipal(GatewayClaims.ForApiKey(_entry.Agent, _entry.Id, GatewayAuthentication.ApiKeyScheme));

        _rsa = RSA.Create(2048);
        RSAParameters parameters = _rsa.ExportParameters(includePrivateParameters: true);
        var signingKey = new RsaSecurityKey(parameters) { KeyId = "bench-1" };
        DateTime now = DateTime.UtcNow;
        _tokenHandler = new JsonWebTokenHandler();
        _token = _tokenHandler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Subject = new ClaimsIdentity([new Claim("sub", "bench"), new Claim("client_id", "mcp-loadtest")]),
            IssuedAt = now,
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddDays(1),
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256),
        });
        int lastDot = _token.LastIndexOf('.');
        _signedPart = Encoding.ASCII.GetBytes(_token[..lastDot]);
        _signature = Base64UrlEncoder.DecodeBytes(_token[(lastDot + 1)..]);

        string jwksFile = Path.Combine(_folder, "jwks.json");
        File.WriteAllText(jwksFile, new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["alg"] = "RS256",
                ["kid"] = "bench-1",
                ["n"] = Base64UrlEncoder.Encode(parameters.Modulus),
                ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
            }),
        }.ToJsonString());
        var jwt = new JwtSettings { Issuer = Issuer, JwksFile = jwksFile, Audiences = [Audience] };

        // The validation JwtBearer runs, with the parameters the gateway gives it.
        var options = new Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerOptions();
        Identity.Tokens.JwtAuthentication.Configure(options, jwt, NullLoggerFactory.Instance, TimeProvider.System);
        _validation = options.TokenValidationParameters;
        _gatewayTokenHandler = options.TokenHandlers.Single();

        _keyServices = Services(new AuthenticationSettings { ApiKeys = new ApiKeySettings { File = keysFile } });
        _tokenServices = Services(new AuthenticationSettings { Jwt = jwt });
        _keyPolicy = _keyServices.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync(GatewayAuthentication.Policy).GetAwaiter().GetResult()!;
        _tokenPolicy = _tokenServices.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync(GatewayAuthentication.Policy).GetAwaiter().GetResult()!;
        _tokenPrincipal = AuthenticateAndAuthorize(_tokenServices, _tokenPolicy, "Bearer " + _token).GetAwaiter().GetResult();
        if (GatewayClaims.Read(_tokenPrincipal)?.Agent != "bench" || GatewayClaims.Read(AuthenticateAndAuthorize(_keyServices, _keyPolicy, "Bearer " + _key).GetAwaiter().GetResult())?.Agent != "bench")
        {
            throw new InvalidOperationException("the benchmark's credentials are not accepted");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _keyServices.Dispose();
        _tokenServices.Dispose();
        _store.Dispose();
        _rsa.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One SHA-256 of the presented key, a frozen-dictionary lookup and a constant-time comparison.</summary>
    [Benchmark]
    public bool ApiKey_Check() => _store.Check(_key).Succeeded;

    /// <summary>What the handler would pay per request without its principal cache.</summary>
    [Benchmark]
    public ClaimsPrincipal ApiKey_NewPrincipal() => new(GatewayClaims.ForApiKey(_entry.Agent, _entry.Id, GatewayAuthentication.ApiKeyScheme));

    /// <summary>Read on the fast path (and by the session setup and the HTTP rate limiter) from the request's principal.</summary>
    [Benchmark]
    public AuthenticatedCaller? ApiKey_ReadCaller() => GatewayClaims.Read(_keyPrincipal);

    /// <summary>The same for a token's principal, which carries the token's claims before the gateway's.</summary>
    [Benchmark]
    public AuthenticatedCaller? Jwt_ReadCaller() => GatewayClaims.Read(_tokenPrincipal);

    /// <summary>The RS256 signature check alone (RSA-2048 public key).</summary>
    [Benchmark]
    public bool Jwt_RsaVerify() => _rsa.VerifyData(_signedPart, _signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    /// <summary>Reading and validating the token (signature, issuer, audience, lifetime) with the gateway's parameters, as every request did before the memory.</summary>
    [Benchmark]
    public async Task<bool> Jwt_Validate() => (await _tokenHandler.ValidateTokenAsync(_token, _validation)).IsValid;

    /// <summary>As JwtBearer calls it: with a copy of the parameters made for the request.</summary>
    [Benchmark]
    public async Task<bool> Jwt_ValidateWithCopiedParameters() => (await _tokenHandler.ValidateTokenAsync(_token, _validation.Clone())).IsValid;

    /// <summary>The gateway's token handler for a token it has validated before (the memory of validated tokens).</summary>
    [Benchmark]
    public async Task<bool> Jwt_ValidateRemembered() => (await _gatewayTokenHandler.ValidateTokenAsync(_token, _validation.Clone())).IsValid;

    /// <summary>Authentication alone (scope, JwtBearer), without the policy.</summary>
    [Benchmark]
    public async Task<bool> Jwt_Authenticate()
    {
        await using AsyncServiceScope scope = _tokenServices.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Request.Headers.Authorization = "Bearer " + _token;
        return (await context.AuthenticateAsync()).Succeeded;
    }

    /// <summary>What the two below include that a request pays anyway: its service scope and its context.</summary>
    [Benchmark(Baseline = true)]
    public async Task<bool> RequestScopeAndContext()
    {
        await using AsyncServiceScope scope = _keyServices.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Request.Headers.Authorization = "Bearer " + _key;
        return context.Request.Headers.Authorization.Count > 0;
    }

    /// <summary>Everything per request for an API key: scope, key handler, agent policy.</summary>
    [Benchmark]
    public Task<ClaimsPrincipal> ApiKey_AuthenticateAndAuthorize() => AuthenticateAndAuthorize(_keyServices, _keyPolicy, "Bearer " + _key);

    /// <summary>Everything per request for a token: scope, JwtBearer (the remembered token, events), agent policy.</summary>
    [Benchmark]
    public Task<ClaimsPrincipal> Jwt_AuthenticateAndAuthorize() => AuthenticateAndAuthorize(_tokenServices, _tokenPolicy, "Bearer " + _token);

    /// <summary>The gateway's authentication registrations alone, as the HTTP host makes them.</summary>
    private static ServiceProvider Services(AuthenticationSettings settings)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton(TimeProvider.System);
        services.AddGatewayAuthentication(settings);
        return services.BuildServiceProvider();
    }

    /// <summary>What AuthenticationMiddleware and AuthorizationMiddleware do for one request (the result handler only runs on refusal).</summary>
    private static async Task<ClaimsPrincipal> AuthenticateAndAuthorize(ServiceProvider services, AuthorizationPolicy policy, string authorization)
    {
        await using AsyncServiceScope scope = services.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Request.Method = "POST";
        context.Request.Path = "/mcp";
        context.Request.Headers.Authorization = authorization;
        AuthenticateResult authenticated = await context.AuthenticateAsync();
        if (authenticated.Succeeded)
        {
            context.User = authenticated.Principal!;
        }

        IPolicyEvaluator evaluator = scope.ServiceProvider.GetRequiredService<IPolicyEvaluator>();
        AuthenticateResult fromPolicy = await evaluator.AuthenticateAsync(policy, context);
        PolicyAuthorizationResult authorized = await evaluator.AuthorizeAsync(policy, fromPolicy, context, resource: null);
        return authorized.Succeeded ? context.User : throw new InvalidOperationException("refused");
    }
}
