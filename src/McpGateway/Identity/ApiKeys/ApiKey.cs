using System.Security.Cryptography;
using System.Text;

namespace McpGateway.Identity.ApiKeys;

/// <summary>
/// The API key format: <c>mgw_&lt;id&gt;_&lt;secret&gt;</c>. The id (8 hex digits) is public: it names the key in the
/// keys file, in <c>keys list</c>, in logs and in the audit. The secret is 32 random bytes (base64url), so a key has
/// 256 bits of entropy and a fast hash (SHA-256) is the right way to store it: nothing can be guessed or brute-forced,
/// and checking a key costs a microsecond, not a password hash's hundred milliseconds.
/// </summary>
public static class ApiKey
{
    public const string Prefix = "mgw_";
    public const string HashPrefix = "sha256:";
    private const int IdLength = 8;
    private const int SecretBytes = 32;

    /// <summary>A new key and its id; <paramref name="taken"/> says which ids are in use.</summary>
    public static (string Id, string Key) Generate(Func<string, bool> taken)
    {
        string id;
        do
        {
            id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdLength / 2));
        }
        while (taken(id));

        string secret = Base64Url(RandomNumberGenerator.GetBytes(SecretBytes));
        return (id, Prefix + id + "_" + secret);
    }

    /// <summary>True when <paramref name="text"/> has the shape of a gateway key (not whether it is valid).</summary>
    public static bool LooksLikeKey(ReadOnlySpan<char> text) => text.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The id part of a key-shaped string, or null.</summary>
    public static string? IdOf(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length < Prefix.Length + IdLength + 2 || key[Prefix.Length + IdLength] != '_')
        {
            return null;
        }

        string id = key.Substring(Prefix.Length, IdLength);
        return id.All(char.IsAsciiHexDigitLower) ? id : null;
    }

    /// <summary>The stored form of a key: <c>sha256:</c> and the base64url SHA-256 of the whole key.</summary>
    public static string Hash(string key) => HashPrefix + Base64Url(HashBytes(key));

    /// <summary>SHA-256 of the key's UTF-8 bytes, without allocating for keys of the usual length.</summary>
    public static byte[] HashBytes(string key)
    {
        Span<byte> utf8 = key.Length <= 256 ? stackalloc byte[key.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        int length = Encoding.UTF8.GetBytes(key, utf8);
        return SHA256.HashData(utf8[..length]);
    }

    /// <summary>The digest in a stored hash, or null when it is not one.</summary>
    public static byte[]? ParseHash(string stored)
    {
        if (!stored.StartsWith(HashPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            byte[] digest = Convert.FromBase64String(FromBase64Url(stored[HashPrefix.Length..]));
            return digest.Length == SHA256.HashSizeInBytes ? digest : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string FromBase64Url(string text)
    {
        string padded = text.Replace('-', '+').Replace('_', '/');
        return padded + new string('=', (4 - padded.Length % 4) % 4);
    }
}
