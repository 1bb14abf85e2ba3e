using System.Diagnostics;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpGateway.LoadTest;

/// <summary>One way of running the HTTP gateway: its settings file (none for the plain one) and what each agent sends.</summary>
/// <param name="Label">How target names say it, after "gateway http stateful": "" for the plain gateway, else ", api key + audit" and so on.</param>
internal sealed record AuthVariant(string Label, string? SettingsFile, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// The authenticated and audited variants of the HTTP gateway, each in a folder of its own (a keys file beside the
/// settings turns API keys on, so none may sit beside the shared rules file): an API key made by the gateway's own
/// <c>keys add</c>; a JWT signed here with RS256 and validated by the gateway against a static JWKS file, as from an
/// authorization server; the audit log to a file (argument values off, the default); and both together.
/// </summary>
internal static class AuthVariants
{
    public const string Issuer = "https://issuer.bench.invalid";
    public const string Audience = "https://gateway.bench.invalid/mcp";

    public static async Task<IReadOnlyList<AuthVariant>> CreateAsync(string work, string gatewayDll, string servers, string rules, string agent)
    {
        (string jwks, string token) = SignedToken(agent);
        var plain = new Dictionary<string, string> { ["X-Agent-Id"] = agent };
        var bearerToken = new Dictionary<string, string> { ["Authorization"] = "Bearer " + token };
        var variants = new List<AuthVariant> { new(string.Empty, null, plain) };
        foreach (bool audit in (bool[])[false, true])
        {
            string suffix = audit ? " + audit" : string.Empty;
            if (audit)
            {
                variants.Add(new AuthVariant(", audit", Write(work, "audit", Settings(audit: true, jwt: false)), plain));
            }

            string keyed = Write(work, "api-key" + (audit ? "-audit" : string.Empty), Settings(audit, jwt: false));
            string key = await AddKeyAsync(gatewayDll, servers, rules, keyed, agent);
            variants.Add(new AuthVariant(", api key" + suffix, keyed, new Dictionary<string, string> { ["Authorization"] = "Bearer " + key }));

            string tokens = Write(work, "jwt" + (audit ? "-audit" : string.Empty), Settings(audit, jwt: true));
            File.WriteAllText(Path.Combine(Path.GetDirectoryName(tokens)!, "jwks.json"), jwks);
            variants.Add(new AuthVariant(", jwt" + suffix, tokens, bearerToken));
        }

        return variants;
    }

    /// <summary>The settings file of a variant; relative paths in it (the audit file, the JWKS) are relative to its folder.</summary>
    private static JsonObject Settings(bool audit, bool jwt)
    {
        var settings = new JsonObject();
        if (jwt)
        {
            settings["authentication"] = new JsonObject
            {
                ["jwt"] = new JsonObject { ["issuer"] = Issuer, ["jwksFile"] = "jwks.json", ["audiences"] = new JsonArray(Audience) },
            };
        }

        if (audit)
        {
            settings["audit"] = new JsonObject { ["file"] = "audit.jsonl" };
        }

        return settings;
    }

    private static string Write(string work, string name, JsonObject settings)
    {
        string folder = Path.Combine(work, "settings-" + name);
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, "settings.json");
        File.WriteAllText(file, settings.ToJsonString());
        return file;
    }

    /// <summary>An API key from <c>mcp-gateway keys add</c>, which prints it as its only line and stores its hash beside the settings.</summary>
    private static async Task<string> AddKeyAsync(string gatewayDll, string servers, string rules, string settings, string agent)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[gatewayDll, "keys", "add", "--agent", agent, "--label", "benchmark", "--config", servers, "--rules", rules, "--settings", settings])
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string key = (await stdout).Trim();
        if (process.ExitCode != 0 || !key.StartsWith("mgw_", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"mcp-gateway keys add failed ({process.ExitCode}): {await stderr}");
        }

        return key;
    }

    /// <summary>An RS256 access token for <paramref name="agent"/> (valid for a day) and the JWKS with its public key.</summary>
    private static (string Jwks, string Token) SignedToken(string agent)
    {
        using var rsa = RSA.Create(2048);
        RSAParameters parameters = rsa.ExportParameters(includePrivateParameters: true);
        const string keyId = "bench-1";
        var signingKey = new RsaSecurityKey(parameters) { KeyId = keyId };
        DateTime now = DateTime.UtcNow;
        string token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Subject = new ClaimsIdentity([new Claim("sub", agent), new Claim("client_id", "mcp-loadtest")]),
            IssuedAt = now,
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddDays(1),
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256),
        });
        var jwks = new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["alg"] = "RS256",
                ["kid"] = keyId,
                ["n"] = Base64UrlEncoder.Encode(parameters.Modulus),
                ["e"] = Base64UrlEncoder.Encode(parameters.Exponent),
            }),
        };
        return (jwks.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), token);
    }
}
