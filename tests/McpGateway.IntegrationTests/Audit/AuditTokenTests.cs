using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using McpGateway.IntegrationTests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ModelContextProtocol.Client;

namespace McpGateway.IntegrationTests.Audit;

/// <summary>
/// An audited gateway that takes JWT access tokens (RS256, keys from a JWKS file, as an authorization server
/// publishes them), and the tokens a test signs for it: alpha's, and ones the gateway must refuse.
/// </summary>
public sealed class TokenGateway : IAsyncLifetime
{
    public const string Issuer = "https://issuer.audit-test.invalid";
    public const string Audience = "https://gateway.audit-test.invalid/mcp";

    private readonly RSA _rsa = RSA.Create(2048);

    internal AuditedGateway Gateway { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        RSAParameters key = _rsa.ExportParameters(includePrivateParameters: false);
        var jwks = new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["alg"] = "RS256",
                ["kid"] = "audit-1",
                ["n"] = Base64UrlEncoder.Encode(key.Modulus),
                ["e"] = Base64UrlEncoder.Encode(key.Exponent),
            }),
        };
        var settings = new JsonObject
        {
            ["authentication"] = new JsonObject
            {
                ["jwt"] = new JsonObject { ["issuer"] = Issuer, ["jwksFile"] = "jwks.json", ["audiences"] = new JsonArray(Audience) },
            },
        };
        Gateway = await AuditedGateway.StartAsync(
            AuditGateways.Servers, AuditGateways.Rules, TestContext.Current.CancellationToken,
            audit: new JsonObject { ["arguments"] = true }, settings: settings,
            prepare: folder => File.WriteAllText(Path.Combine(folder, "jwks.json"), jwks.ToJsonString()));
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        _rsa.Dispose();
    }

    /// <summary>A token for <paramref name="subject"/>, signed with the gateway's key unless <paramref name="signer"/> is given.</summary>
    public string Token(string subject, TimeSpan? lifetime = null, string audience = Audience, RSA? signer = null, IReadOnlyDictionary<string, string>? claims = null)
    {
        var identity = new ClaimsIdentity([new Claim("sub", subject)]);
        foreach ((string type, string value) in claims ?? new Dictionary<string, string>())
        {
            identity.AddClaim(new Claim(type, value));
        }

        DateTime now = DateTime.UtcNow;
        DateTime expires = now + (lifetime ?? TimeSpan.FromHours(1));
        DateTime issued = expires < now ? expires.AddMinutes(-10) : now;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Subject = identity,
            IssuedAt = issued,
            NotBefore = issued.AddMinutes(-1),
            Expires = expires,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signer ?? _rsa) { KeyId = "audit-1" }, SecurityAlgorithms.RsaSha256),
        });
    }
}

/// <summary>Calls authenticated with access tokens are audited with the token's subject; refused tokens with why, never the token.</summary>
public sealed class AuditTokenTests(TokenGateway tokens) : IClassFixture<TokenGateway>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CallsWithAToken_AreRecordedWithTheTokenSubject_OnBothPaths_AndNeverTheToken()
    {
        AuditedGateway gateway = tokens.Gateway;
        string token = tokens.Token("alpha");
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: new Dictionary<string, string> { ["Authorization"] = "Bearer " + token });
        AuditMark mark = await gateway.MarkAsync(Ct);
        long taken = gateway.Forwarder.Taken;

        await client.CallRawAsync("everything_echo", new JsonObject { ["message"] = "with a token" }, Ct);
        await client.CallRawAsync("everything_echo", new JsonObject { ["message"] = "with the same token" }, Ct);
        await client.CallRawAsync("fixture_echo_args", new JsonObject { ["text"] = "on the full path" }, Ct);

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, 3, Ct);
        Assert.Equal(taken + 2, gateway.Forwarder.Taken);
        Assert.All(records, r =>
        {
            Assert.Equal("alpha", r["agent"]?.GetValue<string>());
            Assert.Equal("jwt", r["identitySource"]?.GetValue<string>());
            Assert.Equal("jwt:alpha", r["credentialId"]?.GetValue<string>());
            Assert.Equal(gateway.Fingerprint(client.SessionId!), r["session"]?.GetValue<string>());
            Assert.Equal("allowed", r["decision"]?.GetValue<string>());
            Assert.Equal("result", r["outcome"]?.GetValue<string>());
        });
        string text = gateway.AllText();
        Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        Assert.DoesNotContain(token[(token.LastIndexOf('.') + 1)..], text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenCarryingTheGatewaysOwnClaimNames_CannotChooseItsAgentOrCredential()
    {
        AuditedGateway gateway = tokens.Gateway;
        var forged = new Dictionary<string, string> { ["mcp-gateway/agent"] = "beta", ["mcp-gateway/credential"] = "key:00000000", ["mcp-gateway/source"] = "ApiKey" };
        McpClient client = await gateway.Gateway.ConnectAsync(ServedTransport.Http, cancellationToken: Ct, headers: new Dictionary<string, string> { ["Authorization"] = "Bearer " + tokens.Token("alpha", claims: forged) });
        AuditMark mark = await gateway.MarkAsync(Ct);

        string[] tools = await client.ListToolNamesAsync(Ct);

        JsonObject record = Assert.Single(await gateway.RecordsSinceAsync(mark, 1, Ct));
        Assert.Contains("everything_echo", tools);
        Assert.DoesNotContain("fixture_a_b", tools);
        Assert.Equal("alpha", record["agent"]?.GetValue<string>());
        Assert.Equal("jwt", record["identitySource"]?.GetValue<string>());
        Assert.Equal("jwt:alpha", record["credentialId"]?.GetValue<string>());
    }

    [Fact]
    public async Task RefusedTokens_AreRecordedAs401WithTheReason_AndNeverTheToken()
    {
        AuditedGateway gateway = tokens.Gateway;
        using var stranger = RSA.Create(2048);
        (string Token, string Reason)[] refused =
        [
            (tokens.Token("alpha", lifetime: TimeSpan.FromHours(-1)), "the token has expired"),
            (tokens.Token("alpha", audience: "https://another-gateway.invalid/mcp"), "the token is for another audience"),
            (tokens.Token("alpha", signer: stranger), "the token's signature is invalid"),
        ];
        using var http = new HttpClient();
        AuditMark mark = await gateway.MarkAsync(Ct);

        foreach ((string token, _) in refused)
        {
            using HttpResponseMessage response = await AuditGateways.PostAsync(http, gateway.Gateway.Endpoint, AuditGateways.Initialize, new Dictionary<string, string> { ["Authorization"] = "Bearer " + token }, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        IReadOnlyList<JsonObject> records = await gateway.RecordsSinceAsync(mark, refused.Length, Ct);
        Assert.Equal(refused.Select(r => r.Reason).Order(StringComparer.Ordinal), records.Select(r => r["rule"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(records, r =>
        {
            Assert.Equal("http", r["method"]?.GetValue<string>());
            Assert.Equal("refused", r["decision"]?.GetValue<string>());
            Assert.Equal(401, r["errorCode"]?.GetValue<int>());
            Assert.Null(r["agent"]);
        });
        string text = gateway.AllText();
        Assert.All(refused, r => Assert.DoesNotContain(r.Token, text, StringComparison.Ordinal));
    }
}
