using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.IntegrationTests.Security;

/// <summary>
/// What an attacker does with tokens: reads a real one, changes its claims without re-signing, strips or swaps its
/// signature algorithm, signs with a symmetric key. Every result must be refused by the gateway.
/// </summary>
internal static class TokenForgery
{
    public static JsonObject Header(string token) => Decode(token.Split('.')[0]);

    public static JsonObject Payload(string token) => Decode(token.Split('.')[1]);

    /// <summary>The token's payload with <paramref name="change"/> applied, and the original header and signature.</summary>
    public static string Tampered(string token, Action<JsonObject> change)
    {
        string[] parts = token.Split('.');
        JsonObject payload = Decode(parts[1]);
        change(payload);
        return parts[0] + "." + Encode(payload) + "." + parts[2];
    }

    /// <summary>An unsecured JWT (<c>alg: none</c>, empty signature) carrying <paramref name="payload"/>.</summary>
    public static string Unsigned(JsonObject payload, string? kid = null)
    {
        var header = new JsonObject { ["alg"] = "none", ["typ"] = "at+jwt" };
        if (kid is not null)
        {
            header["kid"] = kid;
        }

        return Encode(header) + "." + Encode(payload) + ".";
    }

    /// <summary>An HS256 token over <paramref name="payload"/>, signed with <paramref name="secret"/>, naming key <paramref name="kid"/>.</summary>
    public static string Hs256(JsonObject payload, byte[] secret, string? kid)
    {
        var key = new SymmetricSecurityKey(secret) { KeyId = kid };
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(payload.ToJsonString(), new SigningCredentials(key, SecurityAlgorithms.HmacSha256), new Dictionary<string, object> { ["typ"] = "at+jwt" });
    }

    /// <summary>
    /// The RSA public key of a JWKS entry as PEM text: the classic algorithm-confusion attack uses exactly these bytes
    /// as the HMAC secret, hoping the verifier feeds its RSA key to HS256.
    /// </summary>
    public static byte[] PublicKeyPem(JsonObject jwk)
    {
        using var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters
        {
            Modulus = Base64UrlEncoder.DecodeBytes(jwk["n"]!.GetValue<string>()),
            Exponent = Base64UrlEncoder.DecodeBytes(jwk["e"]!.GetValue<string>()),
        });
        return Encoding.ASCII.GetBytes(rsa.ExportSubjectPublicKeyInfoPem());
    }

    private static JsonObject Decode(string part) => (JsonObject)JsonNode.Parse(Base64UrlEncoder.Decode(part))!;

    private static string Encode(JsonObject json) => Base64UrlEncoder.Encode(json.ToJsonString());
}
