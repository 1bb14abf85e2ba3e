using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace McpGateway.Downstream;

/// <summary>
/// Names agents see for downstream tools: <c>prefix + separator + tool</c>, kept within the
/// <c>^[a-zA-Z0-9_-]{1,64}$</c> rule that popular clients enforce. Illegal characters become <c>_</c>; a name that is
/// too long, or that another tool already holds, is cut and given an 8-hex-digit hash of (server, tool). The result
/// depends only on the server, the tool and who claimed the plain name first, so it is stable across restarts and
/// unaffected by servers that do not collide.
/// </summary>
internal static class ExposedNames
{
    public const int MaxLength = 64;
    private const int HashLength = 8;

    /// <summary>True when <paramref name="name"/> is acceptable to clients as is.</summary>
    public static bool IsLegal(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxLength)
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!IsLegalChar(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The preferred exposed name: composed, with illegal characters replaced, shortened with a hash if too long.</summary>
    public static string Preferred(string prefix, string separator, string server, string tool)
    {
        string composed = prefix.Length == 0 ? tool : string.Concat(prefix, separator, tool);
        string sanitized = Sanitize(composed);
        return sanitized.Length <= MaxLength ? sanitized : WithHash(sanitized, server, tool);
    }

    /// <summary>
    /// The fallback for a name someone else holds: shortened if needed, plus the hash of (server, tool), and of the
    /// attempt from the second on. The attempt must go into the hash: a name cut to the limit already ends in its
    /// hash, so neither its first fallback nor a counter appended before cutting would ever change it.
    /// </summary>
    public static string WithHash(string name, string server, string tool, int attempt = 1)
    {
        int keep = Math.Min(name.Length, MaxLength - HashLength - 1);
        return string.Concat(name.AsSpan(0, keep), "_", Hash(server, tool, attempt));
    }

    private static string Sanitize(string name)
    {
        if (name.AsSpan().IndexOfAnyExcept(s_legalChars) < 0)
        {
            return name;
        }

        var sb = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            sb.Append(IsLegalChar(c) ? c : '_');
        }

        return sb.ToString();
    }

    private static readonly System.Buffers.SearchValues<char> s_legalChars =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

    private static bool IsLegalChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    private static string Hash(string server, string tool, int attempt)
    {
        string key = attempt <= 1 ? server + "\0" + tool : string.Concat(server, "\0", tool, "\0", attempt.ToString(CultureInfo.InvariantCulture));
        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        return Convert.ToHexStringLower(digest, 0, HashLength / 2);
    }
}
